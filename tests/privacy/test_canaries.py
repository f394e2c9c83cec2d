"""Privacy proof: prompts, outputs and keys never reach disk, logs or Prefect.

A new user (fresh PREFECT_HOME and BYOK_HOME) adds canary keys through
`byok keys add` (stdin), then runs recipes with `byok run` against a
simulator that echoes prompts and keys into replies and error bodies, with
every logger at DEBUG. Then every place data can land is searched for the
canaries, raw and encoded: each file under the user's and the server's homes
(SQLite databases with their -wal and -shm files, result storage decoded),
every row of the Prefect and vault databases, a pg_dump, what the Prefect API
returns (runs, states, task runs, logs, artifacts, events), the server's log
and the commands' output. Keys and the prompt-only literal must be nowhere;
the recipe input only in the flow run's parameters.

The same runs are made on each backend: Prefect's ephemeral API, `prefect
server` on SQLite, and `prefect server` on PostgreSQL. On PostgreSQL the
recipes are also deployed (`byok deploy`) and run by a process worker, the
sensitive input read from a Prefect Secret block (`tests.privacy.deployed`):
the worker's output, its homes and the environment of its processes are
searched too. A deployment carries its recipe, so there the prompt-only
literal (part of a template) may be in the deployment's job variables.

No log line is excused: our processes, and the Prefect servers and workers of
an environment BYOK Flows is installed in, keep database drivers from logging
statement parameters at DEBUG (`flows.driver_logs`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from providers.redaction import REDACTED
from providers.simulator import SimulatorServer, key_fingerprint
from tests.deployments.processes import wait_until
from tests.privacy.canaries import Canaries
from tests.privacy.deployed import (
    create_secret,
    deploy,
    deployment_ids,
    run_deployments,
    worker_env,
)
from tests.privacy.places import (
    Finding,
    event_window,
    search_api,
    search_bytes,
    search_files,
    search_postgres,
    search_sqlite,
    sqlite_files,
)
from tests.privacy.scenarios import (
    RunOutput,
    add_keys,
    prepare_simulator,
    run_scenarios,
    write_recipes,
)
from tests.privacy.servers import Backend, backend

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]

# Where a recipe input may be stored: the flow run's parameters, and nowhere else.
INPUT_ALLOWED = ("prefect.db:flow_run.parameters", "postgres:flow_run.parameters")
# Where the literal may be once a recipe is deployed: the recipe its deployment carries,
# in its job variables (stored in the column `deployment.infra_overrides`).
LITERAL_DEPLOYED = ("postgres:deployment.infra_overrides",)


@dataclass(frozen=True)
class User:
    """A new user: canaries, recipes, and a BYOK home whose keys were added with the CLI."""

    root: Path
    canaries: Canaries
    recipes: dict[str, Path]
    added: list[RunOutput]  # what `byok keys add` printed
    started: datetime  # before anything was written: the events search starts here

    def env(self, place: Backend) -> dict[str, str]:
        return place.user_env(self.root / "byok", self.root / f"prefect-{place.name}")


@pytest.fixture(scope="module")
def user(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> User:
    """One user for the module's backends: keys are added once (each `byok` takes ~3 s)."""
    started = datetime.now(UTC)
    root = tmp_path_factory.mktemp("user")
    canaries = Canaries()
    recipes = write_recipes(tmp_path_factory.mktemp("recipes"), canaries)
    env = Backend("keys", [], None, None, None).user_env(root / "byok", root / "prefect-keys")
    added = add_keys(env, simulator, canaries)
    assert all(output.returncode == 0 for output in added), [o.stderr for o in added]
    return User(root, canaries, recipes, added, started)


# The ephemeral API starts inside each `byok run` (~25 s): there, only the run that
# takes every path; the completed run is made against both servers. The invalid input
# is refused before Prefect starts: once is enough.
RUNS = {
    "ephemeral": ("mix", "invalid input"),
    "sqlite": ("mix", "ok"),
    "postgres": ("mix", "ok"),
}


@pytest.mark.parametrize("backend_name", list(RUNS))
def test_no_prompt_output_or_key_lands_anywhere(
    backend_name: str, user: User, sim: SimulatorServer, tmp_path: Path
) -> None:
    canaries = user.canaries
    prepare_simulator(sim)
    homes = [user.root]
    with backend(backend_name, tmp_path) as place:
        runs = run_scenarios(user.env(place), user.recipes, canaries, only=RUNS[backend_name])
        for name, output in runs.items():  # kept with the test's files, to read on failure
            (tmp_path / "logs").mkdir(exist_ok=True)
            (tmp_path / "logs" / f"{name}.stderr").write_text(output.stderr)
        check_runs_happened(runs, sim, canaries)
        findings = search_outputs([*user.added, *runs.values()], canaries)
        final = [runs[name].json()["run_id"] for name in ("mix", "ok") if name in runs]
        if backend_name == "postgres":
            findings += deployment_path(place, user, sim, tmp_path, final)
            homes += [tmp_path / "worker"]
        if place.api_url is not None:
            wait_for_final_events(place.api_url, final, user.started)
            findings += search_api(place.api_url, canaries.everything(), user.started)
        if place.server is not None:
            place.server.stop()  # everything it buffered is written
            findings += search_log(place.server.output(), "server log", canaries)
        findings += search_stores(place, [*homes, *place.homes], canaries, tmp_path)

    leaks = sorted(str(f) for f in findings if not allowed(f, deployed=backend_name == "postgres"))
    assert leaks == [], "canaries found:\n" + "\n".join(leaks)
    # The input is stored as a flow parameter (the search would have found it there).
    assert any(f.canary == "input" and f.where.endswith(INPUT_ALLOWED) for f in findings)


def allowed(finding: Finding, *, deployed: bool) -> bool:
    """Whether `finding` is where that canary may be: the input as a flow parameter, and
    the literal (a recipe template's) in a deployment's recipe."""
    if finding.canary == "input":
        return finding.where.endswith(INPUT_ALLOWED)
    if finding.canary == "literal" and deployed:
        return finding.where.endswith(LITERAL_DEPLOYED)
    return False


def deployment_path(
    place: Backend, user: User, sim: SimulatorServer, tmp_path: Path, final: list[str]
) -> list[Finding]:
    """Deploy both recipes, run each once on a process worker; what it printed and held.

    The sensitive input is `secret:NAME`, a Prefect Secret block holding the
    sensitive canary. Prefect stores a block's value Fernet-encrypted in
    `block_document.data` (with a key it keeps in its own database): the search
    looks for plaintext and encodings, so it finds nothing there and nothing is
    excused; the API, asked as the UI asks, masks it (searched in `search_api`).
    `final` gets the runs' ids, whose final-state events are awaited.
    """
    assert place.api_url is not None
    canaries = user.canaries
    create_secret(place.api_url, canaries.sensitive)
    deployed = deploy(user.env(place), user.recipes)
    assert deployed.returncode == 0, deployed.stderr[-3000:]
    ids = deployment_ids(deployed)
    assert set(ids) == {"privacy-mix", "privacy-ok"}

    prepare_simulator(sim)  # the 429 is planned once more, for this run
    sim.clear_requests()
    env = worker_env(tmp_path / "worker", place.api_url, user.root / "byok")
    done = run_deployments(place.api_url, ids, env, tmp_path / "logs", canaries)
    output = done.worker.output()
    states = {
        name: run.state.type.value if run.state else None
        for name, run in zip(ids, done.runs, strict=True)  # runs come in `ids`' order
    }
    assert states == {"privacy-mix": "FAILED", "privacy-ok": "COMPLETED"}, output[-3000:]
    final += [str(run.id) for run in done.runs]

    # The Secret's value was read by the runs and reached the provider (echoed back).
    bodies = json.dumps([r.body for r in sim.requests])
    assert canaries.sensitive in bodies
    assert canaries.input in bodies
    assert {r.key_fingerprint for r in sim.requests} == {
        key_fingerprint(key) for key in canaries.keys.values()
    }

    # The environment of the worker and of each flow-run process it started.
    environments = done.environments
    run_ids = {str(run.id) for run in done.runs}
    started = {
        pid
        for pid in environments.seen
        if environments.variables(pid).get("PREFECT__FLOW_RUN_ID") in run_ids
    }
    assert started, "no flow-run process of the worker was seen"
    worker = environments.variables(done.worker.popen.pid)
    # The master key is in a worker's environment by design: runs decrypt keys with it.
    assert worker["BYOK_MASTER_KEY"] == env["BYOK_MASTER_KEY"]
    findings = search_bytes(
        json.dumps(env).encode(), "the environment given to the worker", canaries.everything()
    )
    for pid, (command, environ) in environments.seen.items():
        findings += search_bytes(
            environ, f"environ of {pid} ({command[:80]})", canaries.everything()
        )
    findings += search_outputs([deployed], canaries)
    findings += search_log(output, "worker log", canaries)
    return findings


def check_runs_happened(
    runs: dict[str, RunOutput], sim: SimulatorServer, canaries: Canaries
) -> None:
    """The canaries reached the provider and came back in outputs; each path was taken."""
    mix = runs["mix"]
    assert mix.returncode == 1, mix.stderr[-3000:]
    report = mix.json()
    assert report["state"] == "FAILED"
    assert set(report["outputs"]) == {"answer", "follow", "retried", "fellback"}
    assert report["answered_by"]["fellback"] == "google:gemini-2.5-flash-lite"
    answer = report["outputs"]["answer"]
    assert canaries.literal in answer  # echoed: the literal is in a model output
    assert canaries.sensitive in answer  # the sensitive input, read from stdin, reached it
    # The provider echoed its key too, but the engine cut it out of the output.
    assert answer.endswith(f"Key: {REDACTED}")
    assert not any(key in mix.stdout for key in canaries.keys.values())
    assert [row["attempt"] for row in report["usage"] if row["step"] == "retried"] == [2]
    if ok := runs.get("ok"):
        assert ok.returncode == 0, ok.stderr[-3000:]
        assert ok.json()["state"] == "COMPLETED"
    if invalid := runs.get("invalid input"):
        assert invalid.returncode != 0
        assert "input 'count'" in invalid.stderr
        assert "input 'token': is sensitive: give a reference" in invalid.stderr
    # Every call carried a canary key, each provider's, and never in the URL (Gemini too).
    used = {r.key_fingerprint for r in sim.requests}
    assert used == {key_fingerprint(key) for key in canaries.keys.values()}
    assert not any(r.key_in_url for r in sim.requests)
    sent = {r.model for r in sim.requests}
    assert {"gpt-4.1-mini", "claude-sonnet-4-5", "gpt-4.1-nano"} <= sent
    assert "claude-opus-4-1" not in sent  # the budget stopped it before the call


def search_outputs(outputs: list[RunOutput], canaries: Canaries) -> list[Finding]:
    """Each command's stderr, and its stdout except the model outputs it was asked to print."""
    findings: list[Finding] = []
    for output in outputs:
        stdout = output.stdout
        if output.command == "byok run" and output.stdout.startswith("{"):
            document: dict[str, Any] = json.loads(output.stdout)
            document.pop("outputs")  # the outputs the user asked for: echoed content
            stdout = json.dumps(document)
        for stream, text in (("stdout", stdout), ("stderr", output.stderr)):
            findings += search_log(text, f"{output.command} {stream}", canaries)
    return findings


def search_log(text: str, where: str, canaries: Canaries) -> list[Finding]:
    """Findings of every canary, the input included, in log text."""
    return search_bytes(text.encode(), where, canaries.everything())


def search_stores(
    place: Backend, homes: list[Path], canaries: Canaries, root: Path
) -> list[Finding]:
    """Files under every home, every SQLite database's rows, the PostgreSQL database."""
    everything = canaries.everything()
    findings: list[Finding] = []
    for home in homes:
        storage = [p for p in home.rglob("storage") if p.is_dir()]
        assert [f for s in storage for f in s.rglob("*") if f.is_file()] == []
        for database in sqlite_files(home):
            findings += search_sqlite(database, everything)
    # Raw bytes of every file: the input may be in a Prefect database file (parameters).
    for finding in search_files(homes, everything):
        in_prefect_db = "/prefect.db" in finding.where and finding.canary == "input"
        if not in_prefect_db:
            findings.append(finding)
    if place.postgres is not None:
        for finding in search_postgres(place.postgres, everything, root / "prefect.sql"):
            # The dump holds the flow parameters and the deployments' recipes too: the
            # column search below it says in which column each canary is.
            in_dump = finding.where.startswith("pg_dump") and finding.canary in ("input", "literal")
            if not in_dump:
                findings.append(finding)
    return findings


def wait_for_final_events(api_url: str, run_ids: list[str], since: datetime) -> None:
    """Until the server has stored each run's final-state event (events are written late)."""
    resources = [f"prefect.flow-run.{run_id}" for run_id in run_ids]

    def stored() -> bool:
        body = {
            "filter": {
                "occurred": event_window(since),
                "resource": {"id": resources},
                "event": {"name": _FINAL_EVENTS},
            }
        }
        page = httpx.post(f"{api_url}/events/filter", json=body, timeout=10).json()
        return len({e["resource"]["prefect.resource.id"] for e in page["events"]}) == len(run_ids)

    wait_until(stored, timeout=60, what="the runs' final-state events", poll=0.5)


_FINAL_EVENTS = ["prefect.flow-run.Completed", "prefect.flow-run.Failed"]
