"""Package attributes imported on first use (PEP 562), for a fast `byok --help`.

SQLAlchemy, SQLModel, httpx and Prefect take seconds to import; a package whose
public names live in modules that need them exports those names lazily, so a
caller that only needs its light parts (the CLI's help, error types) pays
nothing. Each package lists `{name: module}` and assigns the function this
returns to its module-level `__getattr__`; type checkers still see the real
imports under `TYPE_CHECKING`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, sources: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `sources[name]` and returns its `name`."""

    def __getattr__(name: str) -> Any:
        module = sources.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
