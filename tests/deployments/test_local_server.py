"""`byok server`: a background Prefect server that `byok run` uses when it answers.

One test starts the real thing (SQLite under a fresh BYOK_HOME), runs a recipe
through `byok run` and finds that run on the server; the others check the
bookkeeping that must never go wrong, such as stopping a process that merely
reused a dead server's pid.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient

from deployments import local_server
from deployments.local_server import LocalServer
from providers.types import Protocol
from tests.deployments.processes import BYOK, child_env, free_port
from tests.deployments.recipes import write_recipe


def _record(server: LocalServer) -> None:
    path = local_server.server_home() / "byok-server.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": server.pid, "port": server.port, "started_at": 0}))


def test_a_record_of_a_dead_server_is_cleared(byok_home: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    _record(LocalServer(pid=dead.pid, port=free_port(), started_at=0))

    assert local_server.status() is None
    assert not (local_server.server_home() / "byok-server.json").exists()


def test_stop_never_signals_a_process_that_reused_the_pid(byok_home: Path) -> None:
    # This pytest process is alive but is not a Prefect server.
    _record(LocalServer(pid=os.getpid(), port=free_port(), started_at=0))

    assert local_server.stop() is not None  # the record goes...
    assert local_server.status() is None  # ...and this process is still here to check


def test_an_explicit_prefect_api_url_wins(byok_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.example:4200/api")

    assert local_server.use_running_server() == "http://prefect.example:4200/api"


def test_without_a_server_prefect_is_left_to_its_own_choice(
    byok_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)

    assert local_server.use_running_server() is None
    assert "PREFECT_API_URL" not in os.environ


def test_byok_run_and_deploy_use_the_running_server_until_it_is_stopped(
    byok_home: Path, keys: dict[Protocol, str], tmp_path: Path
) -> None:
    recipe = write_recipe(tmp_path / "recipes")
    env = child_env(
        BYOK_HOME=str(byok_home),
        BYOK_MASTER_KEY=os.environ["BYOK_MASTER_KEY"],
        PREFECT_HOME=str(tmp_path / "client-prefect-home"),
    )
    port = str(free_port())

    started = _byok(env, "server", "start", "--port", port)
    try:
        assert started.returncode == 0, started.stderr
        status = json.loads(_byok(env, "server", "status", "--json").stdout)
        assert status["running"] is True
        assert status["ui_url"] == f"http://127.0.0.1:{port}"
        ran = _byok(env, "run", str(recipe), "--input", "ticket=printer on fire", "--json")
        assert ran.returncode == 0, ran.stderr
        assert "ephemeral" not in ran.stderr
        run_id = json.loads(ran.stdout)["run_id"]
        with SyncPrefectClient(status["api_url"]) as client:
            flow_run = client.read_flow_run(run_id)
        assert flow_run.state is not None
        assert flow_run.state.is_completed()
        # serve and deploy find the server the same way
        deployed = _byok(env, "deploy", "--pool", "local", "--json", str(recipe))
        assert deployed.returncode == 0, deployed.stderr
    finally:
        stopped = _byok(env, "server", "stop")

    assert stopped.stdout.startswith("stopped (pid ")
    assert _byok(env, "server", "status").returncode == 1
    assert _gone(status["pid"])


def _gone(pid: int) -> bool:
    """The process has exited: no such pid, or a zombie its new parent has not reaped yet."""
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except (ProcessLookupError, FileNotFoundError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _byok(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BYOK, *args], env=env, capture_output=True, text=True, check=False, timeout=300
    )
