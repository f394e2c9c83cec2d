"""The deployment path: `byok deploy`, a process worker, runs created through the Prefect API.

How a team runs recipes in production: a recipe is registered as a deployment
of a work pool, a `prefect worker start --type process` polls the pool and
starts each run in a new process, and someone triggers runs from the UI or
the API. Here the user deploys both privacy recipes on the PostgreSQL-backed
server, one worker (its own PREFECT_HOME and BYOK_HOME, the user's vault
database, the master key in its environment, every logger at DEBUG) runs
one run of each, created through the API with the input canary and the
sensitive input as `secret:NAME`: a Prefect Secret block holding the
sensitive canary, read by the run itself.

While the worker runs, the worker and every process it starts (each flow run
gets a process, and a session, of its own) have their environment read from
/proc: what a worker passes a run must hold no key, input or secret. The
master key is there, by design: a worker decrypts keys inside the run, and
`BYOK_MASTER_KEY` is how it gets the key-encryption key (see the README); it
is never a flow parameter or job variable.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun, WorkerStatus

from tests.deployments.processes import (
    Process,
    child_env,
    start_process,
    wait_for_runs,
    wait_until,
)
from tests.privacy.canaries import Canaries
from tests.privacy.scenarios import RunOutput, byok
from tests.privacy.servers import DEBUG_LOGGING

__all__ = [
    "POOL",
    "SECRET_BLOCK",
    "DeployedRuns",
    "Environments",
    "create_secret",
    "deploy",
    "deployment_ids",
    "run_deployments",
    "watching",
    "worker_env",
]

POOL = "privacy-pool"
SECRET_BLOCK = "privacy-token"
WORKER = "privacy-worker"
RUN_TIMEOUT_S = 240.0


def create_secret(api_url: str, value: str) -> None:
    """A Prefect Secret block named `SECRET_BLOCK` holding `value`, as a user would save it."""
    from prefect.blocks.system import Secret
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}):
        Secret(value=value).save(SECRET_BLOCK, overwrite=True)


def deploy(env: Mapping[str, str], recipes: Mapping[str, Path]) -> RunOutput:
    """`byok deploy --pool POOL --json` of both privacy recipes."""
    return byok(["deploy", "--pool", POOL, "--json", str(recipes["mix"]), str(recipes["ok"])], env)


def worker_env(root: Path, api_url: str, user_byok: Path) -> dict[str, str]:
    """A worker's environment: its own homes, the user's vault, the master key, DEBUG logs."""
    ring = (user_byok / "master.key").read_text(encoding="utf-8").strip()
    for home in ("prefect", "byok"):  # Prefect creates its home, but not the folders above
        (root / home).mkdir(parents=True, exist_ok=True)
    return child_env(
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(root / "prefect"),
        BYOK_HOME=str(root / "byok"),
        BYOK_DATABASE_URL=f"sqlite:///{user_byok / 'byok.db'}",
        BYOK_MASTER_KEY=ring,
        PREFECT_WORKER_QUERY_SECONDS="1",
        **DEBUG_LOGGING,
    )


@dataclass
class Environments:
    """The environment of a process and its descendants, read from /proc while they lived.

    Descendants, not the session: a worker starts each flow run in a session of its own.
    """

    root: int
    seen: dict[int, tuple[str, bytes]] = field(default_factory=dict)  # pid -> (cmdline, environ)

    def read(self) -> None:
        parents = _parents()
        for pid in parents:
            if pid in self.seen or not _descends(pid, self.root, parents):
                continue
            with contextlib.suppress(OSError):
                proc = Path("/proc") / str(pid)
                environ = (proc / "environ").read_bytes()
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if environ:
                    self.seen[pid] = (cmdline.strip(), environ)

    def variables(self, pid: int) -> dict[str, str]:
        _, environ = self.seen[pid]
        pairs = (item.split(b"=", 1) for item in environ.split(b"\0") if b"=" in item)
        return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _parents() -> dict[int, int]:
    """Each live process's parent, by pid."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                # The command name (field 2) may hold spaces: the parent follows its ')'.
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _descends(pid: int, root: int, parents: dict[int, int]) -> bool:
    while pid > 1:
        if pid == root:
            return True
        pid = parents.get(pid, 0)
    return False


@contextlib.contextmanager
def watching(process: Process) -> Iterator[Environments]:
    """Read the environment of `process` and its descendants until the block ends."""
    environments = Environments(process.popen.pid)
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.2):
            environments.read()

    thread = threading.Thread(target=poll, name="environ-watch", daemon=True)
    thread.start()
    try:
        yield environments
    finally:
        done.set()
        thread.join()


@dataclass(frozen=True)
class DeployedRuns:
    """What the deployment path left to search."""

    runs: list[FlowRun]
    worker: Process
    environments: Environments


def run_deployments(
    api_url: str,
    deployments: Mapping[str, str],
    env: Mapping[str, str],
    logs: Path,
    canaries: Canaries,
) -> DeployedRuns:
    """One run of each deployment (name -> id), created through the API, run by one worker."""
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL]
    command += ["--type", "process", "--name", WORKER, "--limit", str(len(deployments))]
    worker = start_process(WORKER, command, env, logs)
    parameters = {"ticket": canaries.input, "token": f"secret:{SECRET_BLOCK}"}
    try:
        with watching(worker) as environments, SyncPrefectClient(api_url) as client:
            wait_until(lambda: _online(client), timeout=120, what="the worker to be online")
            ids: list[UUID] = [
                client.create_flow_run_from_deployment(UUID(id_), parameters=parameters).id
                for id_ in deployments.values()
            ]
            runs = wait_for_runs(client, ids, timeout=RUN_TIMEOUT_S)
    finally:
        worker.stop()  # everything it buffered is written
    return DeployedRuns(runs, worker, environments)


def _online(client: SyncPrefectClient) -> bool:
    workers = client.read_workers_for_work_pool(POOL)
    return any(w.name == WORKER and w.status == WorkerStatus.ONLINE for w in workers)


def deployment_ids(output: RunOutput) -> dict[str, str]:
    """The deployments `byok deploy --json` registered, by recipe name."""
    report = json.loads(output.stdout)
    return {d["name"].split("/", 1)[0]: d["id"] for d in report["deployments"]}
