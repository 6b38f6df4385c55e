"""Distributed Map failure thresholds on the local cloud: a Map Run fails as it does on AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scripts.localcloud import LocalCloud
from scripts.localcloud.runtime import SeamMovedError
from scripts.localcloud.stepfunctions import MAP_THRESHOLD_ERROR, MapFailureThresholdFix, exceeds_tolerance
from tests.scripts.localcloud.conftest import ROLE

# Items with "bad": true reach a Fail state in their child execution; the others pass.
ITEMS = [{"id": index, "bad": index in (1, 6)} for index in range(10)]  # 2 of 10 fail: 20 %


def _machine(cloud: LocalCloud, name: str, **map_fields: Any) -> str:
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.bad", "BooleanEquals": True, "Next": "Broken"}],
                "Default": "Fine",
            },
            "Broken": {"Type": "Fail", "Error": "ItemBroken", "Cause": "planted"},
            "Fine": {"Type": "Pass", "End": True},
        },
    }
    definition = {
        "StartAt": "Files",
        "States": {
            "Files": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": processor,
                "ResultPath": "$.results",
                "End": True,
                **map_fields,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    if "Catch" not in map_fields:
        del definition["States"]["Caught"]  # type: ignore[attr-defined]
    response = cloud.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE
    )
    return str(response["stateMachineArn"])


def _map_run_status(cloud: LocalCloud, execution_arn: str) -> str:
    runs = cloud.client("stepfunctions").list_map_runs(executionArn=execution_arn)["mapRuns"]
    assert len(runs) == 1
    described = cloud.client("stepfunctions").describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    assert described["itemCounts"]["failed"] == 2
    return str(described["status"])


def test_a_failed_item_fails_the_map_run_and_the_execution_by_default(cloud: LocalCloud) -> None:
    arn = _machine(cloud, "map-default")
    result = cloud.stepfunctions.run(arn, {"items": ITEMS})
    assert result.status == "FAILED"
    assert result.error == MAP_THRESHOLD_ERROR
    assert "2 of 10 items failed" in (result.cause or "")
    assert _map_run_status(cloud, result.arn) == "FAILED"


def test_failures_within_the_tolerated_percentage_let_the_run_succeed(cloud: LocalCloud) -> None:
    arn = _machine(cloud, "map-tolerant", ToleratedFailurePercentage=25.0)
    result = cloud.stepfunctions.run(arn, {"items": ITEMS})
    assert result.status == "SUCCEEDED"
    assert _map_run_status(cloud, result.arn) == "SUCCEEDED"


def test_failures_above_the_tolerated_count_fail_the_run(cloud: LocalCloud) -> None:
    arn = _machine(cloud, "map-count", ToleratedFailureCount=1)
    result = cloud.stepfunctions.run(arn, {"items": ITEMS})
    assert (result.status, result.error) == ("FAILED", MAP_THRESHOLD_ERROR)


def test_a_catch_on_the_map_handles_the_threshold_error(cloud: LocalCloud) -> None:
    catch = [{"ErrorEquals": [MAP_THRESHOLD_ERROR], "ResultPath": "$.error", "Next": "Caught"}]
    arn = _machine(cloud, "map-caught", Catch=catch)
    result = cloud.stepfunctions.run(arn, {"items": ITEMS})
    assert result.status == "SUCCEEDED"
    assert result.output["error"]["Error"] == MAP_THRESHOLD_ERROR
    assert "Caught" in result.states_entered()


@pytest.mark.parametrize(
    ("failed", "total", "count", "percentage", "fails"),
    [
        (0, 10, 0, 0.0, False),
        (1, 10, 0, 0.0, True),
        (2, 10, 0, 20.0, False),  # exactly the percentage is tolerated
        (3, 10, 0, 20.0, True),
        (2, 10, 2, 0.0, False),
        (3, 10, 2, 0.0, True),
        (3, 10, 5, 20.0, True),  # either threshold fails the run
    ],
)
def test_tolerance_rules(failed: int, total: int, count: int, percentage: float, fails: bool) -> None:
    assert exceeds_tolerance(failed, total, count, percentage) is fails


def test_the_map_run_seam_fails_loudly_when_moto_moves_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as distributed,
    )

    owner = distributed.DistributedIterationComponent
    assert "_map_run" in owner.__dict__, "moto moved the Distributed Map seam"
    # The counters the fix reads must still be there under these names.
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        map_run_record,
    )

    counter = map_run_record.ItemCounter()  # type: ignore[no-untyped-call]  # moto is untyped
    assert (counter.failed.get(), counter.total.get()) == (0, 0)
    monkeypatch.delattr(owner, "_map_run")
    with pytest.raises(SeamMovedError, match="_map_run"):
        MapFailureThresholdFix().install()
