"""Errors are classified as the official SDKs classify them, and retried when they retry.

Each provider-shaped error is sent by the simulator twice: once to the SDK,
once to our client. The SDK's exception class decides what ours must be, and
the SDK's own retry decision (`_should_retry` for Anthropic and OpenAI, the
default retry statuses for google-genai) what ours must do, with one
deliberate difference: a spent credit balance or spend limit, which the
providers send as 429 and the SDKs retry, is not retried by us (it cannot
succeed until someone pays). The simulator also echoes the prompt and the key
into every error body, as careless servers do: the SDK's message shows them,
ours never does.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import anthropic as anthropic_sdk
import openai as openai_sdk
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes
from google.genai._api_client import _RETRY_HTTP_STATUS_CODES

from providers import errors as ours
from providers.client import ProviderClient
from providers.endpoint import Endpoint
from providers.secret import SecretKey
from providers.simulator import Fault, SimulatorServer
from providers.types import ModelRequest, Protocol

KEY = "sk-fidelity-errors-SECRET-77"
PROMPT = "private ticket text 4471"
MODELS = {
    Protocol.ANTHROPIC: "claude-haiku-4-5",
    Protocol.OPENAI: "gpt-5-mini",
    Protocol.GOOGLE: "gemini-2.5-flash",
}
STATUSES = [400, 401, 402, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529]

# The SDK's exception class (first match in its MRO) → the class ours must be.
ANTHROPIC_EXPECTED: list[tuple[type[Exception], type[ours.ProviderError]]] = [
    (anthropic_sdk.AuthenticationError, ours.AuthenticationError),
    (anthropic_sdk.PermissionDeniedError, ours.AuthenticationError),
    (anthropic_sdk.PaymentRequiredError, ours.QuotaExceededError),
    (anthropic_sdk.RateLimitError, ours.RateLimitError),
    (anthropic_sdk.RequestTimeoutError, ours.ProviderConnectionError),
    (anthropic_sdk.ConflictError, ours.ServerError),
    (anthropic_sdk.OverloadedError, ours.OverloadedError),
    (anthropic_sdk.ServiceUnavailableError, ours.OverloadedError),
    (anthropic_sdk.InternalServerError, ours.ServerError),
    (anthropic_sdk.APIStatusError, ours.InvalidRequestError),  # 400, 404, 413, 422
]
OPENAI_EXPECTED: list[tuple[type[Exception], type[ours.ProviderError]]] = [
    (openai_sdk.AuthenticationError, ours.AuthenticationError),
    (openai_sdk.PermissionDeniedError, ours.AuthenticationError),
    (openai_sdk.RateLimitError, ours.RateLimitError),
    (openai_sdk.ConflictError, ours.ServerError),
    (openai_sdk.InternalServerError, ours.ServerError),  # or Overloaded: 503, 529
    (openai_sdk.APIStatusError, ours.InvalidRequestError),  # 400, 404, 413, 422; 402, 408 apart
]


def _echoing(sim: SimulatorServer) -> None:
    sim.settings = replace(sim.settings, echo_errors=True)


def _endpoint(sim: SimulatorServer, protocol: Protocol) -> Endpoint:
    return Endpoint.for_protocol(
        protocol, SecretKey(KEY), base_url=sim.base_url(protocol), key_id="key_fid"
    )


async def _ours(
    client: ProviderClient, sim: SimulatorServer, protocol: Protocol, *, stream: bool = False
) -> ours.ProviderError:
    request = ModelRequest(model=MODELS[protocol], prompt=PROMPT, stream=stream)
    with pytest.raises(ours.ProviderError) as caught:
        await client.complete(_endpoint(sim, protocol), request)
    error = caught.value
    assert KEY not in str(error)
    assert PROMPT not in str(error)
    assert KEY.encode() not in pickle.dumps(error)
    assert PROMPT.encode() not in pickle.dumps(error)
    return error


def _sdk_error(call: Callable[[], Any]) -> Exception:
    try:
        call()
    except Exception as error:  # any SDK exception: it is what we compare
        return error
    raise AssertionError("the SDK call did not fail")


def _expected(
    table: list[tuple[type[Exception], type[ours.ProviderError]]], sdk: Exception
) -> type[ours.ProviderError]:
    return next(theirs for kind, theirs in table if isinstance(sdk, kind))


class SDKs:
    """The official clients, built once per module (each costs a TLS context), no retries."""

    def __init__(self, sim: SimulatorServer) -> None:
        self.anthropic = anthropic_sdk.Anthropic(api_key=KEY, base_url=sim.url, max_retries=0)
        self.openai = openai_sdk.OpenAI(api_key=KEY, base_url=sim.base_url("openai"), max_retries=0)
        self.google = genai.Client(
            api_key=KEY, http_options=gtypes.HttpOptions(base_url=sim.url, api_version="v1beta")
        )

    def call(self, protocol: Protocol, *, stream: bool = False) -> Callable[[], Any]:
        """A call that sends the prompt with `protocol`'s SDK and reads the whole reply."""
        model = MODELS[protocol]
        messages: Any = [{"role": "user", "content": PROMPT}]

        def anthropic_call() -> Any:
            result = self.anthropic.messages.create(
                model=model, max_tokens=100, messages=messages, stream=stream
            )
            return list(result) if stream else result

        def openai_call() -> Any:
            result = self.openai.chat.completions.create(
                model=model, messages=messages, stream=stream
            )
            return list(result) if stream else result

        def gemini_call() -> Any:
            if stream:
                return list(
                    self.google.models.generate_content_stream(model=model, contents=PROMPT)
                )
            return self.google.models.generate_content(model=model, contents=PROMPT)

        return {
            Protocol.ANTHROPIC: anthropic_call,
            Protocol.OPENAI: openai_call,
            Protocol.GOOGLE: gemini_call,
        }[protocol]


@pytest.fixture(scope="module")
def sdks(simulator: SimulatorServer) -> SDKs:
    return SDKs(simulator)


@pytest.mark.parametrize("status", STATUSES)
async def test_anthropic_statuses(
    provider_client: ProviderClient, sim: SimulatorServer, sdks: SDKs, status: int
) -> None:
    _echoing(sim)
    sim.inject(Fault.error(status, provider="anthropic", times=2))

    sdk = _sdk_error(sdks.call(Protocol.ANTHROPIC))
    error = await _ours(provider_client, sim, Protocol.ANTHROPIC)

    assert isinstance(sdk, anthropic_sdk.APIStatusError)
    assert KEY in str(sdk)  # the server did echo the key: the SDK shows it, ours does not
    assert type(error) is _expected(ANTHROPIC_EXPECTED, sdk)
    should_retry = sdks.anthropic._should_retry(sdk.response)
    assert error.retryable is should_retry


@pytest.mark.parametrize("status", STATUSES)
async def test_openai_statuses(
    provider_client: ProviderClient, sim: SimulatorServer, sdks: SDKs, status: int
) -> None:
    _echoing(sim)
    sim.inject(Fault.error(status, provider="openai", times=2))

    sdk = _sdk_error(sdks.call(Protocol.OPENAI))
    error = await _ours(provider_client, sim, Protocol.OPENAI)

    assert isinstance(sdk, openai_sdk.APIStatusError)
    expected = {402: ours.QuotaExceededError, 408: ours.ProviderConnectionError}.get(status)
    expected = expected or {503: ours.OverloadedError, 529: ours.OverloadedError}.get(status)
    assert type(error) is (expected or _expected(OPENAI_EXPECTED, sdk))
    should_retry = sdks.openai._should_retry(sdk.response)
    assert error.retryable is should_retry


@pytest.mark.parametrize("status", STATUSES)
async def test_gemini_statuses(
    provider_client: ProviderClient, sim: SimulatorServer, sdks: SDKs, status: int
) -> None:
    _echoing(sim)
    sim.inject(Fault.error(status, provider="google", times=2))

    sdk = _sdk_error(sdks.call(Protocol.GOOGLE))
    error = await _ours(provider_client, sim, Protocol.GOOGLE)

    assert isinstance(sdk, genai_errors.ClientError if status < 500 else genai_errors.ServerError)
    assert sdk.code == error.status == status
    if sdk.code in _RETRY_HTTP_STATUS_CODES:  # what google-genai retries when asked to
        assert error.retryable


SPENT: dict[str, tuple[Protocol, Fault, str]] = {
    "anthropic-enforced-spend-limit": (
        Protocol.ANTHROPIC,
        Fault.error(429, code="enforced_spend_limit_reached", provider="anthropic", times=2),
        "EnforcedSpendLimitReachedError",
    ),
    "anthropic-contract-spend-limit": (
        Protocol.ANTHROPIC,
        Fault.error(429, code="contract_spend_limit_reached", provider="anthropic", times=2),
        "ContractSpendLimitReachedError",
    ),
    "anthropic-billing": (
        Protocol.ANTHROPIC,
        Fault.error(400, error_type="billing_error", provider="anthropic", times=2),
        "BadRequestError",
    ),
    "openai-insufficient-quota": (
        Protocol.OPENAI,
        Fault.error(429, code="insufficient_quota", provider="openai", times=2),
        "RateLimitError",
    ),
    "openai-hard-limit": (
        Protocol.OPENAI,
        Fault.error(429, code="billing_hard_limit_reached", provider="openai", times=2),
        "RateLimitError",
    ),
}


@pytest.mark.parametrize("case", SPENT.values(), ids=SPENT.keys())
async def test_spent_credit_is_not_retried_though_the_sdks_would(
    provider_client: ProviderClient,
    sim: SimulatorServer,
    sdks: SDKs,
    case: tuple[Protocol, Fault, str],
) -> None:
    protocol, fault, sdk_class = case
    sim.inject(fault)

    sdk = _sdk_error(sdks.call(protocol))
    error = await _ours(provider_client, sim, protocol)

    assert type(sdk).__name__ == sdk_class
    assert isinstance(error, ours.QuotaExceededError)
    assert not error.retryable


async def test_a_gemini_key_rejected_with_400_is_an_authentication_error(
    provider_client: ProviderClient, sim: SimulatorServer, sdks: SDKs
) -> None:
    sim.inject(Fault.error(400, code="API_KEY_INVALID", provider="google", times=2))

    sdk = _sdk_error(sdks.call(Protocol.GOOGLE))
    error = await _ours(provider_client, sim, Protocol.GOOGLE)

    assert isinstance(sdk, genai_errors.ClientError)
    assert sdk.code == 400
    assert isinstance(error, ours.AuthenticationError)
    assert "key 'key_fid'" in str(error)


@pytest.mark.parametrize("status", [429, 500, 529])
@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
async def test_mid_stream_errors_fail_the_sdk_and_classify_like_the_status(
    provider_client: ProviderClient,
    sim: SimulatorServer,
    sdks: SDKs,
    protocol: Protocol,
    status: int,
) -> None:
    _echoing(sim)
    sim.inject(Fault.error(status, provider=protocol))
    as_status = await _ours(provider_client, sim, protocol, stream=True)
    sim.inject(Fault.in_band(status, provider=protocol, times=2))

    sdk = _sdk_error(sdks.call(protocol, stream=True))
    in_band = await _ours(provider_client, sim, protocol, stream=True)

    assert sim.requests[-1].status == 200
    if protocol is Protocol.GOOGLE:
        assert isinstance(sdk, genai_errors.APIError)
        assert sdk.code == status
    else:
        assert isinstance(sdk, anthropic_sdk.APIError | openai_sdk.APIError)
    assert type(in_band) is type(as_status)
    assert in_band.retryable is as_status.retryable


@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
async def test_an_openrouter_style_error_body_with_http_200_is_an_error(
    provider_client: ProviderClient, sim: SimulatorServer, protocol: Protocol
) -> None:
    sim.inject(Fault.in_band(502, provider=protocol))

    error = await _ours(provider_client, sim, protocol)

    assert sim.requests[-1].status == 200
    assert isinstance(error, ours.ServerError)
    assert error.retryable


@pytest.mark.parametrize("protocol", list(Protocol), ids=lambda p: p.value)
async def test_a_dropped_connection_is_retryable_for_both(
    provider_client: ProviderClient, sim: SimulatorServer, sdks: SDKs, protocol: Protocol
) -> None:
    sim.inject(Fault.drop(provider=protocol, times=2))

    sdk = _sdk_error(sdks.call(protocol))
    error = await _ours(provider_client, sim, protocol)

    assert isinstance(error, ours.ProviderConnectionError)
    assert error.retryable
    if protocol is not Protocol.GOOGLE:
        assert isinstance(sdk, anthropic_sdk.APIConnectionError | openai_sdk.APIConnectionError)
