"""EventBridge rule delivery and Scheduler ticks against what those services deliver."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from scripts.localcloud import LocalCloud
from scripts.localcloud.scheduler import UnsupportedScheduleError, is_due

ECHO = "def handler(event, context):\n    return event\n"
ROLE = "arn:aws:iam::123456789012:role/localcloud-test"


def events_of(cloud: LocalCloud, function: str, since: int) -> list[Any]:
    return [i.event for i in cloud.runtime.invocations[since:] if i.function_name == function]


@pytest.fixture(scope="module")
def echo(make_function: Callable[..., str]) -> str:
    return make_function("echo", {"handler.py": ECHO})


@pytest.fixture(scope="module")
def machine(cloud: LocalCloud) -> str:
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    response = cloud.client("stepfunctions").create_state_machine(
        name="events-target", definition=json.dumps(definition), roleArn=ROLE
    )
    return str(response["stateMachineArn"])


def _rule(cloud: LocalCloud, name: str, pattern: dict[str, Any], targets: list[dict[str, Any]]) -> None:
    events = cloud.client("events")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=targets)


def test_matching_event_is_delivered_to_a_lambda_target_with_content_filtering(
    cloud: LocalCloud, echo: str
) -> None:
    _rule(
        cloud,
        "jobs",
        {"source": ["aws.sagemaker"], "detail": {"TransformJobName": [{"prefix": "uc9-"}]}},
        [{"Id": "fn", "Arn": echo}],
    )
    since = len(cloud.runtime.invocations)
    cloud.put_events({"Source": "aws.sagemaker", "DetailType": "x", "Detail": {"TransformJobName": "uc9-1"}})
    cloud.put_events(
        {"Source": "aws.sagemaker", "DetailType": "x", "Detail": {"TransformJobName": "other-1"}}
    )
    delivered = events_of(cloud, "echo", since)
    assert len(delivered) == 1
    event = delivered[0]
    assert event["detail"] == {"TransformJobName": "uc9-1"}
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "x"
    dt.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")


def test_disabled_rule_delivers_nothing(cloud: LocalCloud, echo: str) -> None:
    _rule(cloud, "off", {"source": ["app.off"]}, [{"Id": "fn", "Arn": echo}])
    cloud.client("events").disable_rule(Name="off")
    since = len(cloud.runtime.invocations)
    cloud.put_events({"Source": "app.off", "DetailType": "x", "Detail": {}})
    assert events_of(cloud, "echo", since) == []


def test_target_input_and_input_path_shape_the_payload(cloud: LocalCloud, echo: str) -> None:
    _rule(
        cloud,
        "shaped",
        {"source": ["app.shaped"]},
        [
            {"Id": "const", "Arn": echo, "Input": '{"fixed": true}'},
            {"Id": "path", "Arn": echo, "InputPath": "$.detail"},
        ],
    )
    since = len(cloud.runtime.invocations)
    cloud.put_events({"Source": "app.shaped", "DetailType": "x", "Detail": {"k": "v"}})
    assert events_of(cloud, "echo", since) == [{"fixed": True}, {"k": "v"}]


def test_step_functions_target_starts_a_named_execution(cloud: LocalCloud, machine: str) -> None:
    _rule(cloud, "to-sfn", {"source": ["app.sfn"]}, [{"Id": "sm", "Arn": machine}])
    cloud.put_events({"Source": "app.sfn", "DetailType": "x", "Detail": {"a": 1}})
    [result] = cloud.wait_for_executions()
    assert result.succeeded
    assert result.output["detail"] == {"a": 1}
    assert result.name.startswith("local-")


def test_failed_lambda_delivery_is_retried_twice_then_recorded(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    make_function("always-fails", {"handler.py": "def handler(e, c):\n    raise KeyError('x')\n"})
    _rule(
        cloud,
        "fails",
        {"source": ["app.fails"]},
        [{"Id": "fn", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:always-fails"}],
    )
    since = len(cloud.runtime.invocations)
    cloud.put_events({"Source": "app.fails", "DetailType": "x", "Detail": {}})
    assert len(events_of(cloud, "always-fails", since)) == 3
    assert cloud.eventbridge.deliveries[-1].ok is False
    assert cloud.eventbridge.deliveries[-1].error == "KeyError"


def test_undeliverable_target_sends_the_event_to_its_dead_letter_queue(cloud: LocalCloud) -> None:
    queue = cloud.client("sqs").create_queue(QueueName="rule-dlq")["QueueUrl"]
    missing = "arn:aws:lambda:us-east-1:123456789012:function:does-not-exist"
    _rule(
        cloud,
        "lost",
        {"source": ["app.lost"]},
        [
            {
                "Id": "fn",
                "Arn": missing,
                "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:123456789012:rule-dlq"},
            },
        ],
    )
    cloud.put_events({"Source": "app.lost", "DetailType": "x", "Detail": {"k": 1}})
    assert cloud.eventbridge.deliveries[-1].ok is False
    [message] = cloud.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(message["Body"])["detail"] == {"k": 1}


def test_schedule_tick_sends_the_target_input(cloud: LocalCloud, echo: str) -> None:
    cloud.client("scheduler").create_schedule(
        Name="every-minute",
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": echo, "RoleArn": ROLE, "Input": '{"prefix": "a/"}'},
    )
    since = len(cloud.runtime.invocations)
    [firing] = cloud.tick("every-minute")
    assert firing.ok
    assert events_of(cloud, "echo", since) == [{"prefix": "a/"}]


def test_run_minutes_fires_what_is_due_and_skips_disabled_schedules(cloud: LocalCloud, echo: str) -> None:
    scheduler = cloud.client("scheduler")
    scheduler.create_schedule(
        Name="five",
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": echo, "RoleArn": ROLE, "Input": '{"s": "five"}'},
    )
    scheduler.create_schedule(
        Name="paused",
        ScheduleExpression="rate(1 minute)",
        State="DISABLED",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": echo, "RoleArn": ROLE, "Input": '{"s": "paused"}'},
    )
    cloud.client("events").put_rule(Name="rule-tick", ScheduleExpression="rate(2 minutes)")
    cloud.client("events").put_targets(Rule="rule-tick", Targets=[{"Id": "fn", "Arn": echo}])
    since = len(cloud.runtime.invocations)
    fired = cloud.run_minutes(10)
    names = [f.name for f in fired]
    assert names.count("five") == 2
    assert names.count("paused") == 0
    assert names.count("rule-tick") == 5
    assert names.count("every-minute") == 10
    scheduled = [e for e in events_of(cloud, "echo", since) if e.get("detail-type") == "Scheduled Event"]
    assert len(scheduled) == 5
    assert scheduled[0]["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/rule-tick"]


def test_cron_and_at_expressions() -> None:
    at = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)  # a Monday
    assert is_due("cron(30 9 * * ? *)", at, 1)
    assert not is_due("cron(0 9 * * ? *)", at, 1)
    assert is_due("cron(*/15 8-17 ? * MON-FRI *)", at, 1)
    assert not is_due("cron(*/15 8-17 ? * SAT,SUN *)", at, 1)
    assert is_due("at(2026-01-05T09:30:00)", at, 1)
    with pytest.raises(UnsupportedScheduleError):
        is_due("cron(0 0 L * ? *)", at, 1)


def test_distributed_map_reads_its_items_from_s3_and_runs_child_executions(
    cloud: LocalCloud, echo: str
) -> None:
    cloud.client("s3").create_bucket(Bucket="map-items")
    items = [{"n": i} for i in range(5)]
    cloud.client("s3").put_object(Bucket="map-items", Key="items.json", Body=json.dumps(items).encode())
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "MaxConcurrency": 2,
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSON"},
                    "Parameters": {"Bucket": "map-items", "Key": "items.json"},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Echo",
                    "States": {
                        "Echo": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": echo, "Payload.$": "$"},
                            "OutputPath": "$.Payload",
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }
    arn = cloud.client("stepfunctions").create_state_machine(
        name="distributed", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    result = cloud.run_state_machine(arn, {})
    assert result.succeeded, result.cause
    assert sorted(item["n"] for item in result.output) == list(range(5))


def test_task_token_answered_inside_the_invoked_lambda_ends_the_wait_despite_a_heartbeat(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    answer = (
        "import boto3, json\n"
        "def handler(event, context):\n"
        "    sfn = boto3.client('stepfunctions')\n"
        "    sfn.send_task_success(taskToken=event['token'], output=json.dumps({'ok': 1}))\n"
        "    return {}\n"
    )
    arn = make_function("answers-at-once", {"handler.py": answer})
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": arn, "Payload": {"token.$": "$$.Task.Token"}},
                "HeartbeatSeconds": 600,
                "TimeoutSeconds": 3600,
                "End": True,
            }
        },
    }
    machine = cloud.client("stepfunctions").create_state_machine(
        name="early-answer", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    # Without the fix moto waits for the 600 s heartbeat; the wait below gives up long before.
    result = cloud.run_state_machine(machine, {}, timeout_seconds=30)
    assert result.succeeded
    assert result.output == {"ok": 1}
