"""The breaker policy from a worker's BYOK_BREAKER_* environment."""

from __future__ import annotations

import pytest

from providers.breaker import DEFAULT_BREAKER_POLICY, FailureCounts
from providers.breaker.settings import BreakerSettingsError, policy_from_env, refresh_from_env


def test_no_settings_give_the_default_policy() -> None:
    assert policy_from_env({}) == DEFAULT_BREAKER_POLICY


def test_off_switches_the_breaker_off() -> None:
    assert policy_from_env({"BYOK_BREAKER": "off"}) is None


def test_each_setting_reaches_the_policy() -> None:
    policy = policy_from_env(
        {
            "BYOK_BREAKER_FAILURES": "3",
            "BYOK_BREAKER_FAILURE_RATE": "0.25",
            "BYOK_BREAKER_MIN_CALLS": "8",
            "BYOK_BREAKER_WINDOW_S": "120",
            "BYOK_BREAKER_COOL_DOWN_S": "5",
            "BYOK_BREAKER_PROBES": "2",
        }
    )
    assert policy is not None
    assert (policy.window_s, policy.cool_down_s, policy.probes) == (120.0, 5.0, 2)
    assert policy.trip.reason(FailureCounts(3, 3, 3)) == "3 consecutive failures"
    assert policy.trip.reason(FailureCounts(2, 7, 2)) is None  # below min_calls
    assert policy.trip.reason(FailureCounts(1, 8, 2)) == "2 of 8 calls failed"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BYOK_BREAKER": "maybe"}, "BYOK_BREAKER must be 'on' or 'off'"),
        ({"BYOK_BREAKER_FAILURES": "five"}, "BYOK_BREAKER_FAILURES must be a whole number"),
        ({"BYOK_BREAKER_FAILURES": "0"}, "BYOK_BREAKER_FAILURES must be at least 1"),
        ({"BYOK_BREAKER_FAILURE_RATE": "2"}, "at least 0.01 and at most 1"),
        ({"BYOK_BREAKER_COOL_DOWN_S": "nan"}, "BYOK_BREAKER_COOL_DOWN_S must be at least"),
        ({"BYOK_BREAKER_WINDOW_S": "inf"}, "BYOK_BREAKER_WINDOW_S must be at least"),
    ],
)
def test_bad_values_are_rejected_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(BreakerSettingsError, match=message):
        policy_from_env(env)


@pytest.mark.parametrize(("raw", "seconds"), [(None, 1.0), ("0", 0.0), ("0.25", 0.25), ("5", 5.0)])
def test_refresh_s_defaults_to_one_second_and_zero_means_read_every_call(
    raw: str | None, seconds: float
) -> None:
    env = {} if raw is None else {"BYOK_BREAKER_REFRESH_S": raw}
    assert refresh_from_env(env) == seconds


@pytest.mark.parametrize("raw", ["-1", "soon", "nan", "inf"])
def test_a_bad_refresh_s_is_rejected_naming_the_variable(raw: str) -> None:
    with pytest.raises(BreakerSettingsError, match="BYOK_BREAKER_REFRESH_S must be"):
        refresh_from_env({"BYOK_BREAKER_REFRESH_S": raw})
