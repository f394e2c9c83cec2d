"""`byok demo` works as a new user runs it: a real subprocess, its own Prefect.

This is the README's first command minus the install: no keys, no network, a
fresh Prefect home, the simulator on loopback. It takes ~25 s because Prefect's
ephemeral API starts inside it, as it would for the user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli.demo import DEMO_RECIPE
from flows.recipe import load_recipe


@pytest.mark.prefect
def test_demo_runs_all_three_providers_with_parallel_steps(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BYOK_", "PREFECT_")) and k not in {"HTTP_PROXY", "HTTPS_PROXY"}
    }
    env |= {"HOME": str(tmp_path), "PREFECT_HOME": str(tmp_path / "prefect")}
    byok = Path(sys.executable).with_name("byok")

    done = subprocess.run(
        [str(byok), "demo", "--json", "--latency-ms", "300"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    recipe = load_recipe(DEMO_RECIPE)
    assert result["state"] == "COMPLETED"
    assert set(result["outputs"]) == {step.id for step in recipe.steps}
    providers = {row["provider"] for row in result["usage"]}
    assert providers == {"anthropic", "openai", "google"}
    structured = [s.id for s in recipe.steps if s.output is not None]
    assert structured
    assert all(isinstance(result["outputs"][sid], dict) for sid in structured)
    assert result["cost_usd"] > 0
    assert max(len(layer) for layer in recipe.layers()) >= 2  # two steps run in parallel
    # The throwaway vault is gone and nothing was written to the user's real home.
    assert not (tmp_path / ".byok").exists()
