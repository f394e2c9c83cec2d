"""BYOK Flows' `prefect.collections` entry point: imported by Prefect in its own processes.

Prefect imports every installed package's `prefect.collections` entry point
when a server starts (before it serves requests) and in workers. That is the
one way our rules reach processes that run only Prefect's code, notably the
temporary API server `byok run` starts as a subprocess, whose log is printed
to `byok run`'s stderr: importing this module keeps the database drivers from
logging flow parameters there (see `flows.driver_logs`).

It registers no block types and imports nothing heavy.
"""

from __future__ import annotations

from flows.driver_logs import quiet_parameter_loggers

__all__: list[str] = []

quiet_parameter_loggers()
