"""Deploy refuses a polling execution timeout that would let two scheduled runs overlap."""

from __future__ import annotations

import pytest

from scripts import deploy_params
from scripts.deploy_params import ParameterError, check_run_timeouts, schedule_interval_seconds


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 hour)", 3600),
        ("rate(15 minutes)", 900),
        ("rate( 2 days )", 172800),
        ("cron(0 * * * ? *)", None),
    ],
)
def test_rate_expressions_give_their_interval(expression: str, seconds: int | None) -> None:
    assert schedule_interval_seconds(expression) == seconds


def test_a_timeout_at_or_above_the_interval_is_refused_and_one_below_passes() -> None:
    check_run_timeouts({"PollingScheduleExpression": "rate(1 hour)", "PollingTimeoutSeconds": "3599"})
    with pytest.raises(ParameterError, match="PollingTimeoutSeconds=3600 must be below the 3600 s"):
        check_run_timeouts({"PollingScheduleExpression": "rate(1 hour)", "PollingTimeoutSeconds": "3600"})
    # A cron schedule is not parsed; nothing is refused on its account.
    check_run_timeouts({"PollingScheduleExpression": "cron(0 * * * ? *)", "PollingTimeoutSeconds": "99999"})


def test_resolve_applies_the_check_to_the_merged_values() -> None:
    declared = {
        "ArtifactBucket": {"Type": "String"},
        "PollingScheduleExpression": {"Type": "String", "Default": "rate(1 hour)"},
        "PollingTimeoutSeconds": {"Type": "Number", "Default": 3300},
    }
    deploy_params.resolve(declared, artifact_bucket="b")
    with pytest.raises(ParameterError, match="could overlap"):
        deploy_params.resolve(
            declared, artifact_bucket="b", overrides={"PollingScheduleExpression": "rate(30 minutes)"}
        )
