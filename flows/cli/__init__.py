"""The `byok` command line.

Prefect reads its settings once, at import: defaults that matter for a local,
offline engine are set here, before any command imports Prefect, and only
where the user has not set them. The ephemeral API's anonymous telemetry would
try the network on every start, which a self-hosted, offline install never wants;
and its 20 s start-up limit is shorter than a first start takes on a small
machine (16-26 s measured on 2 cores), so `byok run` would fail for no reason.
"""

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
