"""Database drivers that log SQL with its parameters are kept at INFO, whatever the root level.

`aiosqlite` logs every statement it runs at DEBUG, parameters included: with
the root logger at DEBUG (`PREFECT_LOGGING_ROOT_LEVEL=DEBUG`, a common way to
debug a flow), a Prefect API on SQLite would print each `INSERT INTO
flow_run` with the run's parameters, i.e. the recipe's inputs, to its log.
That API is often our own child: `byok run` and `byok serve` without
`PREFECT_API_URL` start Prefect's temporary server, whose output is theirs.
At INFO and above aiosqlite logs no statements.

Other drivers need nothing: SQLAlchemy sets its `sqlalchemy` logger to
WARNING when imported (and at INFO `sqlalchemy.engine` would log parameters,
so INFO is no remedy there), asyncpg and psycopg log connection events only.

A level the user set on the logger on purpose (a logging config naming
`aiosqlite`) is kept: only an unset level, which inherits the root's, is raised.
This runs in our processes (`byok`, compiled flows) and, through the
`prefect.collections` entry point (`flows.prefect_collection`), in every
Prefect server and worker of the environment BYOK Flows is installed in.
"""

from __future__ import annotations

import logging

__all__ = ["PARAMETER_LOGGERS", "quiet_parameter_loggers"]

# Loggers that write SQL parameters (user data) at DEBUG.
PARAMETER_LOGGERS = ("aiosqlite",)


def quiet_parameter_loggers() -> None:
    """Raise each of `PARAMETER_LOGGERS` to INFO unless its level was set explicitly."""
    for name in PARAMETER_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
