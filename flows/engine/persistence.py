"""The guard that keeps Prefect from persisting what our flows and steps produce.

Step outputs are model outputs: user content that must never reach Prefect's
result storage (base64 cloudpickle files under `PREFECT_HOME/storage`, or a
storage block). Our flows and tasks say `persist_result=False` explicitly,
which Prefect ranks above `PREFECT_RESULTS_PERSIST_BY_DEFAULT`,
`PREFECT_TASKS_DEFAULT_PERSIST_RESULT` and any default storage block; but a
cache policy, a cache key function, a result storage or serializer added
later (or a Prefect upgrade that ranks them differently) would silently turn
persistence back on. So the guard checks twice and fails loudly:

* when a flow or step task is built (`check_flow`, `check_task`): the options
  that make Prefect persist;
* inside the running flow and task (`check_run_context`): the value Prefect
  actually resolved for this run, before any prompt is rendered or key read,
  so that a run which would persist never produces anything worth storing.
"""

from __future__ import annotations

from typing import Any

from prefect import Flow, Task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext, TaskRunContext

from flows.engine.errors import RunError

__all__ = ["PersistenceError", "check_flow", "check_run_context", "check_task"]

_FIX = (
    "BYOK Flows never stores step outputs; remove the setting or option that turns "
    "result persistence on for recipe flows and steps"
)


class PersistenceError(RunError):
    """Prefect would persist the results of a recipe's flow or step."""

    def __init__(self, what: str, why: str) -> None:
        self.what = what
        self.why = why
        super().__init__(f"Prefect would persist the results of {what} ({why}): {_FIX}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.what, self.why))


def check_flow(flow: Flow[..., Any]) -> None:
    """Raise `PersistenceError` when `flow`'s options make Prefect store its result."""
    what = f"recipe flow {flow.name!r}"
    if flow.persist_result is not False:
        raise PersistenceError(what, f"persist_result={flow.persist_result!r}")
    for option in ("result_storage", "result_serializer"):
        if getattr(flow, option) is not None:
            raise PersistenceError(what, f"{option} is set")


def check_task(task: Task[..., Any]) -> None:
    """Raise `PersistenceError` when `task`'s options make Prefect store its result.

    With `persist_result=False` Prefect ignores a cache policy, cache key
    function or result storage; without it, any of them turns persistence on.
    """
    what = f"step task {task.name!r}"
    if task.persist_result is not False:
        raise PersistenceError(what, f"persist_result={task.persist_result!r}")
    if task.cache_policy not in (None, NO_CACHE):
        raise PersistenceError(what, f"cache_policy={task.cache_policy!r}")


def check_run_context() -> None:
    """Raise `PersistenceError` when the running flow or task would persist its result.

    Call it first thing in a flow body or task body: it reads what Prefect
    resolved for this very run, settings and storage blocks included.
    """
    task_run = TaskRunContext.get()
    if task_run is not None and task_run.persist_result:
        raise PersistenceError(f"step task {task_run.task.name!r}", "resolved for this task run")
    flow_run = FlowRunContext.get()
    if flow_run is not None and flow_run.persist_result:
        name = flow_run.flow.name if flow_run.flow is not None else "?"
        raise PersistenceError(f"recipe flow {name!r}", "resolved for this flow run")
