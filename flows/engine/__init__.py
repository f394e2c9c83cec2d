"""Running recipes on Prefect: the compiler, the step task, and an in-process runner."""

from flows.engine.compiler import compile_recipe
from flows.engine.errors import RunError, StepFailedError
from flows.engine.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from flows.engine.running import RunResult, run_recipe
from flows.engine.scope import KeyResolver

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "KeyResolver",
    "RetryPolicy",
    "RunError",
    "RunResult",
    "StepFailedError",
    "compile_recipe",
    "run_recipe",
]
