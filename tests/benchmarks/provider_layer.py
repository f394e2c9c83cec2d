"""Cost per provider call: our adapters and call hooks next to LiteLLM, on the same simulator.

Calls are sequential, so CPU per call is the client's own work: building the
request, the HTTP round trip on the client side, parsing, and for the hook
variant everything `default_hooks()` wires (the ledger's priced row written to
the database, and a circuit breaker or budget where present). LiteLLM runs
offline: its model cost map is the copy in its package
(`LITELLM_LOCAL_MODEL_COST_MAP`), and it is imported only when measured.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from flows.engine.hooks import CallInfo, call_with_hooks
from flows.engine.wiring import default_hooks
from flows.ledger import CallContext
from flows.recipe import ModelRef
from providers.client import ProviderClient
from providers.endpoint import Endpoint
from providers.secret import SecretKey
from providers.types import ModelRequest, Protocol
from tests.benchmarks.bench import KEY, Bench, Target
from tests.benchmarks.measure import interleave
from tests.benchmarks.report import Goal, Report, Table, ms, ratio, us
from tests.benchmarks.workloads import MODEL, call_openai, request_body

__all__ = ["provider_layer"]

PLAIN = "httpx POST + json(), no layer"
ADAPTER = "byok ProviderClient.complete"
HOOKED = "byok ProviderClient + default_hooks ({db} ledger)"
LITELLM = "litellm.acompletion (num_retries=2)"
ROUTER = "litellm Router (num_retries=2)"

_Variant = Callable[[], Coroutine[Any, Any, None]]


async def provider_layer(bench: Bench, report: Report) -> None:
    """CPU and wall per call for each variant, with ratios to LiteLLM's two entry points."""
    sizes = bench.sizes
    n = sizes.provider_calls
    base_url = bench.simulator(sizes.provider_latency_ms).base_url(Protocol.OPENAI)
    endpoint = Endpoint.for_protocol(
        Protocol.OPENAI, SecretKey(KEY), base_url=base_url, key_id="key_bench"
    )
    body = request_body()
    request = ModelRequest(model=MODEL, prompt=body["messages"][0]["content"], max_tokens=64)
    hook_names = ", ".join(type(h).__name__ for h in default_hooks())
    async with ProviderClient() as client, httpx.AsyncClient() as plain_client:

        async def plain() -> None:
            for _ in range(n):
                await call_openai(plain_client, base_url, KEY)

        async def adapters() -> None:
            for _ in range(n):
                await client.complete(endpoint, request)

        def hooked(target: Target) -> _Variant:
            run_id = f"bench-{secrets.token_hex(6)}"
            attempts = itertools.count(1)
            model = ModelRef.parse(f"openai:{MODEL}")

            async def run() -> None:
                hooks = default_hooks()
                with bench.database(target):
                    for _ in range(n):
                        attempt = next(attempts)
                        context = CallContext("bench", "bench", "bench", run_id, "s", attempt)
                        call = CallInfo(context, model, endpoint, request)
                        await call_with_hooks(
                            hooks, call, lambda: client.complete(endpoint, request)
                        )

            return run

        variants: dict[str, _Variant] = {PLAIN: plain, ADAPTER: adapters}
        for target in bench.targets:
            variants[HOOKED.format(db=_db_name(target))] = hooked(target)
        if sizes.litellm:
            variants.update(_litellm_variants(n, base_url, body["messages"]))
        series = await interleave(variants, rounds=sizes.rounds, warmup=sizes.warmup)

    cpu = {name: s.cpu_s / n for name, s in series.items()}
    table = Table(
        f"Provider layer: {n} sequential OpenAI-protocol calls, "
        f"{sizes.provider_latency_ms:g} ms simulator latency",
        f"Median of {sizes.rounds} interleaved rounds after {sizes.warmup} warm-up. The key is "
        f"already resolved (see the key table). Hooks wired by `default_hooks()`: {hook_names}. "
        "LiteLLM gets the same two retries as the engine's default policy; on this success "
        "path no retry fires, so that is the cost of its retry wrapper only.",
        ("variant", "CPU per call", "wall per call", "CPU ÷ litellm.acompletion", "CPU ÷ Router"),
    )
    for name, s in series.items():
        table.add(
            name,
            us(cpu[name]),
            ms(s.wall_s / n),
            ratio(cpu[name] / cpu[LITELLM]) if LITELLM in cpu else "–",
            ratio(cpu[name] / cpu[ROUTER]) if ROUTER in cpu else "–",
        )
    report.tables.append(table)
    if not sizes.litellm:
        return
    lightest = min(cpu[LITELLM], cpu[ROUTER])
    for target in bench.targets:
        name = HOOKED.format(db=_db_name(target))
        report.goals.append(
            Goal(
                "provider-layer CPU per call below LiteLLM's (adapters + hooks, "
                f"{_db_name(target)} ledger)",
                f"{us(cpu[name])} vs {us(cpu[LITELLM])} (acompletion), {us(cpu[ROUTER])} (Router)",
                cpu[name] < lightest,
            )
        )


def _litellm_variants(n: int, base_url: str, messages: list[dict[str, str]]) -> dict[str, _Variant]:
    """`litellm.acompletion` and a one-deployment `Router`, both with two retries."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # read when litellm is imported
    import litellm
    from litellm.router import Router

    litellm.suppress_debug_info = True
    model = f"openai/{MODEL}"
    router = Router(
        model_list=[
            {
                "model_name": "bench",
                "litellm_params": {"model": model, "api_base": base_url, "api_key": KEY},
            }
        ],
        num_retries=2,
    )

    async def acompletion() -> None:
        for _ in range(n):
            await litellm.acompletion(
                model=model,
                messages=messages,
                api_base=base_url,
                api_key=KEY,
                max_tokens=64,
                num_retries=2,
            )

    async def routed() -> None:
        for _ in range(n):
            await router.acompletion(model="bench", messages=messages, max_tokens=64)

    return {LITELLM: acompletion, ROUTER: routed}


def _db_name(target: Target) -> str:
    return "PostgreSQL" if target.database_url.startswith("postgresql") else "SQLite"
