"""The polling skeleton's per-run budget (with its cursor) and the overlap check, in isolation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.polling.contract import ContractError
from shared.polling.discovery import (
    CURSOR_KEY,
    ManifestChunkError,
    RunBudget,
    discover,
    read_cursor,
)
from shared.polling.overlap import RunIdentity, earlier_run_in_flight
from shared.s3ap import ObjectInfo, S3AccessPoint

STAMP = datetime(2026, 1, 1, tzinfo=UTC)
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:rc-polling"


def _objects(keys: list[str]) -> list[ObjectInfo]:
    return [ObjectInfo(key=key, size=1, etag=f"e-{key}", last_modified=STAMP) for key in keys]


# -- the budget -----------------------------------------------------------------------------------


def test_no_budget_takes_everything_and_leaves_no_cursor() -> None:
    budget = RunBudget(0, cursor="b")
    taken = [o.key for o in budget(_objects(["a", "b", "c"]))]
    assert taken == ["c", "a", "b"]  # after the cursor first, then wrapped around
    assert budget.deferred == 0 and budget.next_cursor() == ""


def test_a_budget_starts_after_the_cursor_and_wraps_around() -> None:
    budget = RunBudget(3, cursor="c")
    taken = [o.key for o in budget(_objects(["a", "b", "c", "d", "e"]))]
    assert taken == ["d", "e", "a"]
    assert budget.deferred == 2 and budget.next_cursor() == "a"


def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        RunBudget(-1)


@settings(max_examples=60, deadline=None)
@given(
    files=st.integers(min_value=0, max_value=40),
    limit=st.integers(min_value=1, max_value=9),
    hot=st.integers(min_value=0, max_value=8),
)
def test_every_pending_file_is_taken_within_its_share_of_runs_even_with_changing_files(
    files: int, limit: int, hot: int
) -> None:
    """Files "h*" sort first and change every run; the backlog "f*" still drains, no file starves.

    A file taken is done unless it changes again; the hot files come back pending each run. Every
    backlog file must be taken within ceil((files + hot) / limit) + 1 runs.
    """
    backlog = [f"f{index:03d}" for index in range(files)]
    hot_keys = [f"a-hot-{index}" for index in range(min(hot, limit - 1))]
    done: set[str] = set()
    cursor = ""
    runs = -(-(files + len(hot_keys)) // limit) + 1
    for _ in range(runs):
        pending = sorted([*hot_keys, *(key for key in backlog if key not in done)])
        budget = RunBudget(limit, cursor)
        taken = [o.key for o in budget(_objects(pending))]
        assert len(taken) == min(limit, len(pending))
        assert budget.deferred == len(pending) - len(taken)
        for key in taken:
            if key in backlog:
                assert key not in done, f"{key} taken twice"
                done.add(key)
        cursor = budget.next_cursor()
    assert done == set(backlog)


def test_discover_carries_the_budget_on_through_the_cursor(access_point: dict[str, Any]) -> None:
    s3 = access_point["client"]
    s3.create_bucket(Bucket="out")
    for index in range(7):
        s3.put_object(Bucket="fsxn-volume", Key=f"in/{index}.jpg", Body=b"x")
    source, output = S3AccessPoint(access_point["arn"], s3), S3AccessPoint("out", s3)
    first = discover(source, output, run_id="r1", max_files=3)
    assert (first.files_to_process, first.deferred, first.skipped) == (3, 4, 0)
    assert read_cursor(output) == "in/2.jpg"
    # Nothing was processed (no results): the next run still starts after the cursor.
    second = discover(source, output, run_id="r2", max_files=3)
    lines = output.get_bytes(second.manifest_key).decode().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["in/3.jpg", "in/4.jpg", "in/5.jpg"]


def test_a_cursor_that_is_not_json_is_a_clear_error(access_point: dict[str, Any]) -> None:
    s3 = access_point["client"]
    s3.create_bucket(Bucket="out")
    s3.put_object(Bucket="out", Key=CURSOR_KEY, Body=b"{not json")
    with pytest.raises(ManifestChunkError, match="cursor"):
        read_cursor(S3AccessPoint("out", s3))


# -- the overlap check ----------------------------------------------------------------------------


class FakeStepFunctions:
    """ListExecutions over a fixed list of RUNNING executions, two per page."""

    def __init__(self, running: list[tuple[str, datetime]]) -> None:
        self.running = running
        self.calls: list[dict[str, Any]] = []

    def get_paginator(self, name: str) -> Any:
        assert name == "list_executions"
        fake = self

        class Paginator:
            def paginate(self, **kwargs: Any) -> Any:
                fake.calls.append(kwargs)
                items = [
                    {
                        "executionArn": f"{MACHINE.replace(':stateMachine:', ':execution:')}:{n}",
                        "name": n,
                        "startDate": t,
                    }
                    for n, t in fake.running
                ]
                for start in range(0, len(items), 2):
                    yield {"executions": items[start : start + 2]}

        return Paginator()


def _me(name: str, started: datetime) -> RunIdentity:
    return RunIdentity(MACHINE, f"{MACHINE.replace(':stateMachine:', ':execution:')}:{name}", started)


def test_an_earlier_run_wins_and_a_later_one_does_not_block() -> None:
    sfn = FakeStepFunctions(
        [("late", STAMP + timedelta(seconds=5)), ("me", STAMP), ("early", STAMP - timedelta(minutes=3))]
    )
    assert earlier_run_in_flight(sfn, _me("me", STAMP)).endswith(":early")
    assert sfn.calls == [{"stateMachineArn": MACHINE, "statusFilter": "RUNNING"}]
    alone = FakeStepFunctions([("me", STAMP), ("late", STAMP + timedelta(seconds=1))])
    assert earlier_run_in_flight(alone, _me("me", STAMP)) == ""


def test_two_runs_started_together_let_exactly_one_go_on() -> None:
    running = [("run-a", STAMP), ("run-b", STAMP)]
    outcomes = {
        name: earlier_run_in_flight(FakeStepFunctions(running), _me(name, STAMP)) for name, _ in running
    }
    assert outcomes["run-a"] == "" and outcomes["run-b"].endswith(":run-a")


def test_the_run_identity_comes_from_the_context_object_fields() -> None:
    assert RunIdentity.from_event({"run_id": "x"}) is None
    run = RunIdentity.from_event(
        {
            "state_machine_arn": MACHINE,
            "execution_arn": f"{MACHINE}:x",
            "started_at": "2026-01-01T00:00:00.123Z",
        }
    )
    assert run is not None and run.started_at == STAMP + timedelta(milliseconds=123) and run.name == "x"
    with pytest.raises(ContractError, match="lacks"):
        RunIdentity.from_event({"state_machine_arn": MACHINE})
    with pytest.raises(ContractError, match="time zone"):
        RunIdentity.from_event(
            {"state_machine_arn": MACHINE, "execution_arn": "a:b", "started_at": "2026-01-01T00:00:00"}
        )
    with pytest.raises(ContractError, match="ISO 8601"):
        RunIdentity.from_event(
            {"state_machine_arn": MACHINE, "execution_arn": "a:b", "started_at": "yesterday"}
        )


def test_the_overlap_check_reads_moto_executions() -> None:
    """The same call against moto's Step Functions API: the shapes the fake assumes are real."""
    from moto import mock_aws

    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        definition = json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
        )
        machine = sfn.create_state_machine(name="m", definition=definition, roleArn=role)["stateMachineArn"]
        first = sfn.start_execution(stateMachineArn=machine, name="first")
        second = sfn.start_execution(stateMachineArn=machine, name="second")
        described = sfn.describe_execution(executionArn=second["executionArn"])
        me = RunIdentity(machine, second["executionArn"], described["startDate"])
        assert earlier_run_in_flight(sfn, me) == first["executionArn"]
        sfn.stop_execution(executionArn=first["executionArn"])
        assert earlier_run_in_flight(sfn, me) == ""
