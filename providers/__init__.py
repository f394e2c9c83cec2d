"""Model providers behind one interface: types, errors, keys, adapters, client, pricing.

types.py          ModelRequest / ModelResponse / Usage / FinishReason / Protocol
errors.py         the ProviderError tree
secret.py         SecretKey, the masked in-memory key
endpoint.py       Endpoint: protocol + key + base URL for one call
anthropic.py      Anthropic Messages   ┐ pure request/response/usage/error
openai.py         OpenAI Chat Completions ├ mapping, one module per wire
google.py         Gemini generateContent ┘ protocol
azure.py          Azure OpenAI: the OpenAI protocol at Azure's URLs, `api-key`
wire.py           what the adapters share (PreparedRequest, JSON readers)
http_errors.py    status or in-band error → ProviderError, wait hints
streaming/        server-sent events → the same ModelResponse, per protocol
schema_walk.py    rewrite every subschema of a JSON Schema
closed_schema.py  step schema → strict structured-output schema (OpenAI)
anthropic_schema.py  step schema → what Anthropic's structured outputs accept
structured.py     JSON reply → validated object, or ResponseError
client.py         ProviderClient: pooled httpx I/O, the only place that sends
pricing.py        Usage → Cost via genai-prices' bundled table
"""

from typing import TYPE_CHECKING

from providers.endpoint import DEFAULT_BASE_URLS, Endpoint
from providers.errors import (
    AuthenticationError,
    InvalidRequestError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ResponseError,
    ServerError,
)
from providers.lazy import lazy_attributes
from providers.secret import SecretKey
from providers.types import FinishReason, ModelRequest, ModelResponse, Protocol, Usage

if TYPE_CHECKING:
    from providers.client import ADAPTERS, ProviderClient, adapter_for
    from providers.pricing import Cost, price, price_source
    from providers.wire import PreparedRequest, WireAdapter

__all__ = [
    "ADAPTERS",
    "DEFAULT_BASE_URLS",
    "AuthenticationError",
    "Cost",
    "Endpoint",
    "FinishReason",
    "InvalidRequestError",
    "ModelRequest",
    "ModelResponse",
    "OverloadedError",
    "PreparedRequest",
    "Protocol",
    "ProviderClient",
    "ProviderConnectionError",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitError",
    "ResponseError",
    "SecretKey",
    "ServerError",
    "Usage",
    "WireAdapter",
    "adapter_for",
    "price",
    "price_source",
]


# Imported on first use: httpx, the adapters and genai-prices' table take about a
# second, which a module that only needs the types (the CLI's `--help`) need not pay.
_LAZY = {
    "ADAPTERS": "providers.client",
    "ProviderClient": "providers.client",
    "adapter_for": "providers.client",
    "Cost": "providers.pricing",
    "price": "providers.pricing",
    "price_source": "providers.pricing",
    "PreparedRequest": "providers.wire",
    "WireAdapter": "providers.wire",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
