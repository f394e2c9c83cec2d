"""Rotating or revoking a key while a recipe runs takes effect at the run's next call.

The simulator records the SHA-256 fingerprint of the key each call carried, so
the test sees which key version reached the "provider". Between the recipe's
first and second step the key is rotated (or revoked) through the vault, as an
admin would from another terminal; no recipe or flow is touched.
"""

from __future__ import annotations

from typing import Any

import pytest

from flows.engine import run_recipe
from flows.recipe import Recipe
from providers.endpoint import Endpoint
from providers.simulator import SimulatorServer, key_fingerprint
from providers.types import Protocol
from tests.conftest import NO_WAIT
from vault import KeyStore, VaultKeys

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

TWO_STEPS = Recipe.model_validate(
    {
        "name": "rotation-in-a-run",
        "inputs": {"ticket": {"type": "string"}},
        "steps": [
            {"id": "extract", "model": "openai:gpt-5-mini", "prompt": "{{ inputs.ticket }}"},
            {
                "id": "reply",
                "model": "openai:gpt-5-mini",
                "prompt": "Reply to {{ steps.extract.output }}",
                "retries": 0,
            },
        ],
    }
)


class ChangeBeforeSecondCall:
    """The vault block, with someone changing the key just before the run's second call."""

    def __init__(self, change: Any) -> None:
        self._vault = VaultKeys(org="default")
        self._change = change
        self.calls = 0

    def resolve(
        self,
        prefix: str,
        *,
        user: str | None = None,
        run_id: str | None = None,
        step: str | None = None,
    ) -> Endpoint:
        self.calls += 1
        if self.calls == 2:
            self._change()
        return self._vault.resolve(prefix, user=user, run_id=run_id, step=step)


async def test_a_rotation_between_two_steps_is_used_by_the_second(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    old = keys[Protocol.OPENAI]
    new = old + "-rotated"
    resolver = ChangeBeforeSecondCall(
        lambda: KeyStore.open().rotate_key(org="default", ref="openai", secret=new, actor="ana")
    )

    result = await run_recipe(TWO_STEPS, {"ticket": "hi"}, keys=resolver, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    assert [r.key_fingerprint for r in sim.requests] == [key_fingerprint(old), key_fingerprint(new)]
    uses = [
        e.record
        for e in KeyStore.open().audit.entries(orgs=["default"])
        if e.record.action == "key.use"
    ]
    assert [(u.run_id, u.step, u.key_version, u.actor) for u in uses] == [
        (result.run_id, "extract", 1, "local"),
        (result.run_id, "reply", 2, "local"),
    ]
    assert [row.key_version for row in result.usage] == [1, 2]


async def test_a_revocation_between_two_steps_stops_the_second(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    resolver = ChangeBeforeSecondCall(
        lambda: KeyStore.open().revoke_key(org="default", ref="openai", actor="ana")
    )

    result = await run_recipe(TWO_STEPS, {"ticket": "hi"}, keys=resolver, policy=NO_WAIT)

    assert result.state == "FAILED"
    assert result.error is not None
    assert "step 'reply'" in result.error
    assert "revoked" in result.error
    assert [r.key_fingerprint for r in sim.requests] == [key_fingerprint(keys[Protocol.OPENAI])]
    assert keys[Protocol.OPENAI] not in result.error
