"""How big and how long each measurement is: the full benchmark, and the smoke test's size.

The full sizes are the issue's (50 parallel and 20 sequential steps at 1 s per
call); the smoke size runs every scenario once, tiny, so the harness cannot
rot unnoticed in the default suite.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FULL", "SMOKE", "Sizes"]


@dataclass(frozen=True, slots=True)
class Sizes:
    """Every knob of one benchmark session."""

    rounds: int  # interleaved rounds kept per comparison (after `warmup`)
    warmup: int
    chain_rounds: int  # per-step overhead: rounds kept (its runs are short and noisy) …
    chain_steps: int  # … of a chain this long …
    step_latency_ms: float  # … at this simulated provider latency
    wide_steps: int  # DAG efficiency: this many parallel steps …
    deep_steps: int  # … or this many in a chain …
    dag_latency_ms: float  # … at this latency
    dag_rounds: int
    provider_calls: int  # provider layer: sequential calls per variant per round
    provider_latency_ms: float
    key_calls: int  # key resolutions per variant per round
    concurrent_runs: int  # memory: runs in flight at once …
    memory_latency_ms: float  # … each step held this long by the simulator
    startup_full: bool  # also `byok --help` and the ephemeral API (15–30 s per run)
    litellm: bool  # compare with LiteLLM (importing it alone takes ~8 s)
    postgres: bool  # measure against a real `prefect server` on PostgreSQL too

    @property
    def latencies(self) -> frozenset[float]:
        """The simulator latencies this session needs (one simulator process each)."""
        return frozenset(
            {
                self.step_latency_ms,
                self.dag_latency_ms,
                self.provider_latency_ms,
                self.memory_latency_ms,
            }
        )


FULL = Sizes(
    rounds=5,
    warmup=1,
    chain_rounds=15,
    chain_steps=10,
    step_latency_ms=20.0,
    wide_steps=50,
    deep_steps=20,
    dag_latency_ms=1000.0,
    dag_rounds=2,
    provider_calls=200,
    provider_latency_ms=0.0,
    key_calls=200,
    concurrent_runs=20,
    memory_latency_ms=500.0,
    startup_full=True,
    litellm=True,
    postgres=True,
)

# One simulator latency for everything (one simulator process to start), no warm-up,
# and neither the slow `byok run` variants nor LiteLLM's 8 s import: the default suite
# runs this, and it must stay quick.
SMOKE = Sizes(
    rounds=1,
    warmup=0,
    chain_rounds=1,
    chain_steps=2,
    step_latency_ms=5.0,
    wide_steps=3,
    deep_steps=2,
    dag_latency_ms=5.0,
    dag_rounds=1,
    provider_calls=3,
    provider_latency_ms=5.0,
    key_calls=3,
    concurrent_runs=2,
    memory_latency_ms=5.0,
    startup_full=False,
    litellm=False,
    postgres=False,
)
