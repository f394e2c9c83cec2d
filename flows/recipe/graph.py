"""Ordering a recipe's steps: cycle detection, a stable topological order, layers.

Pure functions over `{step_id: dependencies}` plus the steps' file order, which
breaks ties so that output is deterministic and reads like the recipe.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence, Set

__all__ = ["find_cycle", "layers", "topological_order"]

Dependencies = Mapping[str, Set[str]]


def find_cycle(deps: Dependencies, order: Sequence[str]) -> list[str] | None:
    """A dependency cycle as a path that ends where it starts (`[a, b, a]`), or None.

    Depth-first from each step in file order, following dependencies in file
    order, so the same recipe always reports the same cycle.
    """
    position = {step: i for i, step in enumerate(order)}
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(step: str) -> list[str] | None:
        path.append(step)
        on_path.add(step)
        for dep in sorted(deps.get(step, ()), key=lambda d: position.get(d, len(order))):
            if dep in on_path:
                return [*path[path.index(dep) :], dep]
            if dep not in done and (cycle := visit(dep)):
                return cycle
        path.pop()
        on_path.discard(step)
        done.add(step)
        return None

    for step in order:
        if step not in done and (cycle := visit(step)):
            return cycle
    return None


def topological_order(deps: Dependencies, order: Sequence[str]) -> list[str]:
    """Every step after its dependencies; among steps ready together, file order.

    Raises `ValueError` on a cycle (validated recipes have none).
    """
    position = {step: i for i, step in enumerate(order)}
    waiting = {step: set(deps.get(step, ())) & position.keys() for step in order}
    dependents: dict[str, list[str]] = {step: [] for step in order}
    for step, needs in waiting.items():
        for dep in needs:
            dependents[dep].append(step)
    ready = [position[step] for step, needs in waiting.items() if not needs]
    heapq.heapify(ready)
    result: list[str] = []
    while ready:
        step = order[heapq.heappop(ready)]
        result.append(step)
        for dependent in dependents[step]:
            waiting[dependent].discard(step)
            if not waiting[dependent]:
                heapq.heappush(ready, position[dependent])
    if len(result) != len(order):
        raise ValueError("the steps' dependencies form a cycle")
    return result


def layers(deps: Dependencies, order: Sequence[str]) -> list[list[str]]:
    """Steps grouped by depth: each layer's steps need only earlier layers.

    Steps in the same layer can run in parallel; a step's layer is one more
    than its deepest dependency's, and each layer keeps file order.
    """
    depth: dict[str, int] = {}
    for step in topological_order(deps, order):
        depth[step] = 1 + max((depth[d] for d in deps.get(step, ()) if d in depth), default=-1)
    grouped: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for step in order:
        grouped[depth[step]].append(step)
    return grouped
