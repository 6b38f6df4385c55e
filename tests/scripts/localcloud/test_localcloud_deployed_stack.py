"""A packaged template deployed on the local cloud: skipped resources, state machines, invoke paths."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from scripts.localcloud import AccessPoint, LocalCloud
from scripts.localcloud.resources import StackInfo
from tests.fixtures.localcloud_fixture import FIXTURE, driver


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[LocalCloud, StackInfo, AccessPoint]]:
    with LocalCloud() as cloud:
        access_point = cloud.create_access_point()
        stack = cloud.deploy(str(FIXTURE), driver().parameters(access_point), stack_name="fx")
        driver().seed(cloud, access_point, 6)
        yield cloud, stack, access_point


def test_skipped_resources_exist_after_deploy(deployed: tuple[LocalCloud, StackInfo, AccessPoint]) -> None:
    cloud, stack, _ = deployed
    alarms = cloud.client("cloudwatch").describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    metric = {a["AlarmName"]: a for a in alarms["MetricAlarms"]}
    composite = {a["AlarmName"]: a for a in alarms["CompositeAlarms"]}
    assert set(metric) == {"fx-worker-errors", "fx-polling-failed"}
    errors = metric["fx-worker-errors"]
    assert {d["Name"]: d["Value"] for d in errors["Dimensions"]} == {
        "UseCase": "localcloud-fixture",
        "FunctionName": "fx-worker",
        "Environment": "prod",
    }
    assert errors["AlarmActions"] == [stack.physical_ids["AlertTopic"]]
    polling = metric["fx-polling-failed"]
    assert polling["Dimensions"][0]["Value"] == stack.physical_ids["PollingStateMachine"]
    assert composite["fx-health"]["AlarmRule"] == 'ALARM("fx-worker-errors") OR ALARM("fx-polling-failed")'
    schedules = {s["Name"] for s in cloud.client("scheduler").list_schedules()["Schedules"]}
    assert schedules == {"fx-polling", "fx-producer"}
    target = cloud.client("scheduler").get_schedule(Name="fx-producer")["Target"]
    assert target["Arn"].endswith(":function:fx-producer")
    assert target["Input"] == '{"prefix": "incoming/"}'


def test_event_invoke_config_is_created_and_routes_failed_async_invocations(
    deployed: tuple[LocalCloud, StackInfo, AccessPoint],
) -> None:
    cloud, stack, _ = deployed
    config = cloud.client("lambda").get_function_event_invoke_config(FunctionName="fx-worker")
    assert config["MaximumRetryAttempts"] == 1
    before = len(cloud.runtime.invocations)
    assert cloud.invoke_async("WorkerFunction", {"probe": "raise"}) == "FixtureError"
    assert len(cloud.runtime.invocations) - before == 2
    queue = stack.physical_ids["CallbackFailureQueue"]
    [message] = cloud.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"] == {"probe": "raise"}
    assert record["responsePayload"]["errorType"] == "FixtureError"


def test_functions_run_from_the_uploaded_packaged_zip(
    deployed: tuple[LocalCloud, StackInfo, AccessPoint],
) -> None:
    cloud, _, _ = deployed
    configuration = cloud.client("lambda").get_function(FunctionName="fx-worker")["Configuration"]
    assert configuration["Handler"] == "handler.handler"
    result = cloud.invoke("WorkerFunction", {"probe": "x"})
    assert result.payload["identity"] == "worker"
    assert result.payload["use_case"] == "localcloud-fixture"
    assert result.payload["table"] == cloud.physical_id("ResultsTable")
    failed = cloud.invoke("WorkerFunction", {"probe": "raise"})
    assert failed.function_error == "Unhandled"
    assert failed.payload["errorType"] == "FixtureError"
    # trace_lambda_handler logged the failure and still emitted its metrics.
    assert any("handler fx-worker failed" in line for line in failed.log_lines)
    dims = {"UseCase": "localcloud-fixture", "FunctionName": "fx-worker", "Environment": "prod"}
    assert cloud.metrics("FSxN-S3AP-Patterns", "ProcessingErrors", dims) >= 1.0


def test_cloudformation_state_machine_runs_a_map_over_lambda_tasks(
    deployed: tuple[LocalCloud, StackInfo, AccessPoint],
) -> None:
    cloud, _, _ = deployed
    result = cloud.run_state_machine("PollingStateMachine", {"prefix": "incoming/file-"})
    assert result.succeeded, result.cause
    assert result.states_entered()["Work"] == 5
    assert sorted(item["key"] for item in result.output) == [
        f"incoming/file-{i:03d}.txt" for i in (0, 1, 2, 4, 5)
    ]


def test_a_failing_map_iteration_fails_the_execution(
    deployed: tuple[LocalCloud, StackInfo, AccessPoint],
) -> None:
    cloud, _, _ = deployed
    result = cloud.run_state_machine("PollingStateMachine", {"prefix": "incoming/poison"})
    assert result.status == "FAILED"
    assert result.states_failed()["Work"] >= 1


def test_wait_for_task_token_round_trip_through_sagemaker_and_eventbridge(
    deployed: tuple[LocalCloud, StackInfo, AccessPoint],
) -> None:
    cloud, _, access_point = deployed
    cloud.register_model(None, lambda body, content_type: body[::-1])
    result = cloud.run_state_machine(
        "CallbackStateMachine",
        {
            "job_name": "fixture-rt-1",
            "input_uri": f"s3://{access_point.bucket}/scans/",
            "output_uri": f"s3://{access_point.bucket}/rt/",
        },
    )
    assert result.succeeded, result.cause
    assert result.output == {"job": "fixture-rt-1", "status": "Completed"}
    body = cloud.client("s3").get_object(Bucket=access_point.bucket, Key="rt/frame-1.bin.out")["Body"].read()
    assert body == b"\x03\x02\x01"


def test_redeploying_the_same_stack_keeps_the_locally_created_resources(
    deployed: tuple[LocalCloud, StackInfo, AccessPoint],
) -> None:
    cloud, _, access_point = deployed
    again = cloud.deploy(str(FIXTURE), driver().parameters(access_point), stack_name="fx")
    assert set(again.created) >= {"ProducerSchedule", "PollingSchedule", "HealthAlarm"}
    schedules = [s["Name"] for s in cloud.client("scheduler").list_schedules()["Schedules"]]
    assert sorted(schedules) == ["fx-polling", "fx-producer"]
