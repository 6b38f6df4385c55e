"""The retail-catalog template: lint-clean, conventions, least privilege, and what each setting creates."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from scripts import cfn_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "retail-catalog" / "template.yaml"

STREAMING_RESOURCES = {
    "ChangeStream",
    "StreamProducerFunction",
    "StreamProducerRole",
    "StreamProducerLogGroup",
    "StreamConsumerFunction",
    "StreamConsumerRole",
    "StreamConsumerLogGroup",
    "StreamConsumerMapping",
    "StateTable",
    "DeadLetterTable",
    "StreamFailureQueue",
    "StreamingSchedule",
    "StreamingSchedulerRole",
}
POLLING_FUNCTIONS = {
    "DiscoveryFunction": "discovery",
    "ImageTaggingFunction": "image_tagging",
    "CatalogMetadataFunction": "catalog_metadata",
    "QualityCheckFunction": "quality_check",
}
_AP = "arn:${AWS::Partition}:s3:${AWS::Region}:${AWS::AccountId}:accesspoint/${AccessPointName}"
AP_LIST = {"Fn::Sub": _AP}
AP_OBJECTS = {"Fn::Sub": _AP + "/object/*"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """The effective template: loops expanded, the state machine definition inline."""
    _, matches = decode_str(TEMPLATE.read_text())
    assert not matches, matches
    return cfn_template.load(TEMPLATE)


def parameters(template: dict[str, Any], **overrides: str) -> dict[str, str]:
    values = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    values.update(
        ArtifactBucket="artifacts", AccessPointName="fsxn-ap", AccessPointAlias="fsxn-ap-ext-s3alias"
    )
    values.update(overrides)
    return values


def condition(template: dict[str, Any], name: str, params: dict[str, str]) -> bool:
    """Evaluate a named condition for the given parameter values."""
    return cfn_template.evaluate(template, "stack", params).condition(name)


def created(template: dict[str, Any], **overrides: str) -> set[str]:
    return set(cfn_template.evaluate(template, "stack", parameters(template, **overrides)).resources())


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {n: r for n, r in template["Resources"].items() if r["Type"] == kind}


def statements(template: dict[str, Any], role: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(policy name, statement) for every statement of a role, inline or attached, inside Fn::If too."""
    resources = template["Resources"]
    policies = list(resources[role]["Properties"].get("Policies", []))
    policies += [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
    ]
    for policy in policies:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:
                yield policy["PolicyName"], statement["Fn::If"][1]
            else:
                yield policy["PolicyName"], statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- streaming on and off ------------------------------------------------------------------------------


def test_streaming_off_creates_none_of_the_streaming_resources(template: dict[str, Any]) -> None:
    resources = created(template)
    assert not resources & STREAMING_RESOURCES
    assert set(POLLING_FUNCTIONS) <= resources
    assert {"StateMachine", "PollingSchedule", "OutputBucket"} <= resources
    assert not any(name.startswith(("Stream", "ChangeStream")) for name in resources)


def test_streaming_on_creates_all_of_them(template: dict[str, Any]) -> None:
    resources = created(template, EnableStreamingMode="true")
    assert resources >= STREAMING_RESOURCES | set(POLLING_FUNCTIONS) | {"EncryptionKey"}
    with_alarms = created(template, EnableStreamingMode="true", EnableCloudWatchAlarms="true")
    assert {"StreamIteratorAgeAlarm", "StreamFailureQueueAlarm"} <= with_alarms
    assert not {"StreamIteratorAgeAlarm", "StreamFailureQueueAlarm"} & created(template)


def test_alarms_and_topic_follow_their_switches(template: dict[str, Any]) -> None:
    assert not {
        r for r in created(template, EnableCloudWatchAlarms="false") if "Alarm" in r or r == "AlertTopic"
    }
    external = created(template, AlertTopicArn="arn:aws:sns:us-east-1:123456789012:ops")
    assert "AlertTopic" not in external and "HealthCompositeAlarm" in external
    assert "EncryptionKey" in external  # it also encrypts the log groups
    assert "OutputBucket" not in created(template, OutputBucketName="existing-bucket")


def test_outputs_only_name_resources_that_exist(template: dict[str, Any]) -> None:
    for overrides in ({}, {"EnableStreamingMode": "true"}):
        resources = created(template, **overrides)
        params = parameters(template, **overrides)
        for name, output in template["Outputs"].items():
            if "Condition" in output and not condition(template, output["Condition"], params):
                continue
            text = json.dumps(output["Value"])
            for ref in re.findall(r'"(?:Ref|Fn::GetAtt)": \["?(\w+)', text):
                assert ref in resources or ref in template["Parameters"], (name, ref)
            kinds = {template["Resources"][r]["Type"] for r in re.findall(r'"Fn::GetAtt": \["(\w+)', text)}
            assert not kinds & {"AWS::Scheduler::Schedule", "AWS::CloudWatch::Alarm", "AWS::S3::AccessPoint"}


# -- parameters ---------------------------------------------------------------------------------------


def test_the_parameters_of_the_issue_and_the_conventions_exist(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    expected = {
        "ArtifactBucket": None,
        "Environment": "prod",
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "AlertTopicArn": "",
        "AccessPointName": None,
        "AccessPointAlias": None,
        "OutputBucketName": "",
        "EnableStreamingMode": "false",
        "KinesisStreamMode": "PROVISIONED",
        "KinesisShardCount": 1,
        "KinesisRetentionHours": 24,
        "StreamingScheduleExpression": "rate(1 minute)",
        "PollingScheduleExpression": "rate(1 hour)",
        "ConfidenceThreshold": 70,
        "MapConcurrency": 10,
        "LambdaMemorySize": 1024,
        "LambdaTimeout": 300,
        "BedrockModelId": "amazon.nova-lite-v1:0",
        "StreamBatchSize": 10,
        "PartitionStrategy": "prefix-hash",
        "PartitionBuckets": 8,
        "QuietPolls": 1,
    }
    for name, default in expected.items():
        assert name in params, name
        assert params[name].get("Default") == default, name
    assert params["PartitionStrategy"]["AllowedValues"] == ["prefix", "prefix-hash", "key-hash"]


# -- functions ----------------------------------------------------------------------------------------


def test_the_functions_and_their_own_roles(template: dict[str, Any]) -> None:
    """Which functions exist, each created with its role; the shared conventions of every function
    are checked for every use case by tests/contract/test_functions.py."""
    functions = of_type(template, "AWS::Lambda::Function")
    assert set(functions) == set(POLLING_FUNCTIONS) | {"StreamProducerFunction", "StreamConsumerFunction"}
    for function in functions.values():
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        assert function.get("Condition") == template["Resources"][role].get("Condition")


def test_the_ai_callers_are_bounded_by_one_concurrency_parameter(template: dict[str, Any]) -> None:
    """Rekognition and Bedrock callers reserve AiConcurrency; the producer 1; the rest nothing."""
    assert template["Parameters"]["AiConcurrency"]["MinValue"] >= 1
    evaluation = cfn_template.evaluate(
        template, "stack", parameters(template, EnableStreamingMode="true", AiConcurrency="7")
    )
    reserved = {
        name: resource["Properties"].get("ReservedConcurrentExecutions")
        for name, resource in evaluation.resources().items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    ai = {"ImageTaggingFunction", "CatalogMetadataFunction", "StreamConsumerFunction"}
    assert all(reserved[name] == {"Ref": "AiConcurrency"} for name in ai)
    assert reserved["StreamProducerFunction"] == 1
    others = set(reserved) - ai - {"StreamProducerFunction"}
    assert others and all(reserved[name] in (None, {"Ref": "AWS::NoValue"}) for name in others)


def test_streaming_function_environments_match_the_contract(template: dict[str, Any]) -> None:
    producer = template["Resources"]["StreamProducerFunction"]["Properties"]["Environment"]["Variables"]
    assert set(producer) >= {
        "ACCESS_POINT", "STREAM_NAME", "MANIFEST_BUCKET", "MANIFEST_PREFIX",
        "PARTITION_STRATEGY", "PARTITION_BUCKETS", "QUIET_POLLS", "SUFFIXES",
    }  # fmt: skip
    assert producer["MANIFEST_PREFIX"] == "manifests/"
    assert producer["PARTITION_STRATEGY"] == {"Ref": "PartitionStrategy"}
    assert producer["SUFFIXES"] == ".jpg,.jpeg,.png,.webp"
    consumer = template["Resources"]["StreamConsumerFunction"]["Properties"]["Environment"]["Variables"]
    assert set(consumer) >= {
        "ACCESS_POINT", "STATE_TABLE", "DLQ_TABLE", "OUTPUT_BUCKET", "BEDROCK_MODEL_ID",
        "CONFIDENCE_THRESHOLD", "CLAIM_TIMEOUT_SECONDS", "DLQ_TTL_DAYS",
    }  # fmt: skip
    assert (consumer["CLAIM_TIMEOUT_SECONDS"], consumer["DLQ_TTL_DAYS"]) == ("900", "14")
    discovery = template["Resources"]["DiscoveryFunction"]["Properties"]["Environment"]["Variables"]
    assert discovery["STATE_TABLE"] == {"Fn::If": ["StreamingEnabled", {"Ref": "StateTable"}, ""]}


def test_the_event_source_mapping_is_bounded_and_reports_item_failures(template: dict[str, Any]) -> None:
    mapping = template["Resources"]["StreamConsumerMapping"]["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 3
    assert 0 < mapping["MaximumRecordAgeInSeconds"] <= 3600
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BatchSize"] == {"Ref": "StreamBatchSize"}
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["StreamFailureQueue", "Arn"]
    }
    assert "KmsMasterKeyId" in template["Resources"]["StreamFailureQueue"]["Properties"]


# -- IAM ----------------------------------------------------------------------------------------------


def test_xray_permissions_exist_only_when_tracing_is_on(template: dict[str, Any]) -> None:
    found = 0
    for name, role in of_type(template, "AWS::IAM::Role").items():
        policies = list(role["Properties"]["Policies"])
        policies += [p["Properties"] for p in of_type(template, "AWS::IAM::Policy").values()]
        for policy in policies:
            for statement in policy["PolicyDocument"]["Statement"]:
                if "xray:" not in json.dumps(statement):
                    continue
                found += 1
                assert statement["Fn::If"][0] == "TracingEnabled", name
                assert statement["Fn::If"][2] == {"Ref": "AWS::NoValue"}, name
    roles = of_type(template, "AWS::IAM::Role")
    xray_roles = [n for n, r in roles.items() if "xray:" in json.dumps(r)]
    assert len(xray_roles) == 7 and found >= 7  # six functions and the state machine


def test_access_point_permissions_are_scoped_to_the_one_access_point(template: dict[str, Any]) -> None:
    seen_list = seen_get = 0
    for name in of_type(template, "AWS::IAM::Role"):
        for _, statement in statements(template, name):
            actions = set(as_list(statement["Action"]))
            resources = as_list(statement["Resource"])
            text = json.dumps(resources)
            if "accesspoint" not in text:
                continue
            if actions == {"s3:ListBucket"}:
                assert resources == [AP_LIST], name
                seen_list += 1
            else:
                assert actions == {"s3:GetObject"} and resources == [AP_OBJECTS], name
                seen_get += 1
            assert "accesspoint/*" not in text
    # Everything that lists or reads: tagging, quality and the consumer also list, so that a file that
    # vanished reads as 404 (not 403). The producer only lists: it never reads a file.
    assert seen_list == 5 and seen_get == 3


@pytest.mark.parametrize("role", ["ImageTaggingRole", "QualityCheckRole", "StreamConsumerRole"])
def test_readers_of_files_may_list_the_access_point(template: dict[str, Any], role: str) -> None:
    listed = [s for _, s in statements(template, role) if as_list(s["Action"]) == ["s3:ListBucket"]]
    assert [as_list(s["Resource"]) for s in listed] == [[AP_LIST]]


def test_grants_nobody_needs_are_gone(template: dict[str, Any]) -> None:
    producer = [s for _, s in statements(template, "StreamProducerRole")]
    assert not [
        s for s in producer if "s3:GetObject" in as_list(s["Action"]) and "accesspoint" in json.dumps(s)
    ]
    consumer = {a for _, s in statements(template, "StreamConsumerRole") for a in as_list(s["Action"])}
    assert not consumer & {"kms:Encrypt", "kms:DescribeKey"}


@pytest.mark.parametrize("role", ["CatalogMetadataRole", "StreamConsumerRole"])
def test_bedrock_is_scoped_to_the_chosen_model_or_inference_profile(
    template: dict[str, Any], role: str
) -> None:
    evaluation = cfn_template.evaluate(
        template,
        "stack",
        parameters(template, EnableStreamingMode="true", BedrockModelId="us.amazon.nova-pro-v1:0"),
    )
    granted = []
    for _, statement in statements(template, role):
        if "bedrock:InvokeModel" in as_list(statement["Action"]):
            granted.append(evaluation.value(statement))
    direct = [r for s in granted if "Condition" not in s for r in as_list(s["Resource"])]
    profile = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0"
    assert profile in direct  # an inference-profile id works
    assert "arn:aws:bedrock:us-east-1::foundation-model/us.amazon.nova-pro-v1:0" in direct
    routed = [s for s in granted if "Condition" in s]
    assert routed == [
        {
            "Sid": "FoundationModelsReachedThroughThatProfile",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": "arn:aws:bedrock:*::foundation-model/*",
            "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": profile}},
        }
    ]


def test_polling_functions_get_only_what_their_step_needs(template: dict[str, Any]) -> None:
    def actions(role: str) -> set[str]:
        found = {a for _, s in statements(template, role) for a in as_list(s["Action"])}
        return {a for a in found if not a.startswith("xray:")}

    assert "rekognition:DetectLabels" in actions("ImageTaggingRole")
    assert not {a for a in actions("ImageTaggingRole") if a.startswith(("bedrock:", "s3:Put"))}
    assert actions("CatalogMetadataRole") == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "bedrock:InvokeModel",
    }
    assert "s3:PutObject" in actions("QualityCheckRole") and "rekognition:DetectLabels" not in actions(
        "QualityCheckRole"
    )
    machine = actions("StateMachineRole")
    assert {"lambda:InvokeFunction", "states:StartExecution", "s3:GetObject"} <= machine


def _resources(template: dict[str, Any], role: str, action: str) -> list[str]:
    """The resources a role's statements grant ``action`` on, as their Sub strings or GetAtt names."""
    found = []
    for _, statement in statements(template, role):
        if action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                sub = resource.get("Fn::Sub") if isinstance(resource, dict) else resource
                found.append(sub[0] if isinstance(sub, list) else str(sub or resource))
    return found


def test_deletion_reconcile_and_dead_letter_overflow_are_granted_exactly(template: dict[str, Any]) -> None:
    deletes = _resources(template, "DiscoveryRole", "s3:DeleteObject")
    assert deletes == ["arn:${AWS::Partition}:s3:::${Bucket}/results/by-key/*"]
    assert "{'Fn::GetAtt': ['StateTable', 'Arn']}" in _resources(
        template, "DiscoveryRole", "dynamodb:UpdateItem"
    )
    puts = _resources(template, "StreamConsumerRole", "s3:PutObject")
    assert sorted(puts) == [
        "arn:${AWS::Partition}:s3:::${Bucket}/dead-letters/*",
        "arn:${AWS::Partition}:s3:::${Bucket}/results/*",
    ]


# -- encryption, tables, stream --------------------------------------------------------------------------


def test_encryption_and_durability_settings(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert resources["EncryptionKey"]["Properties"]["EnableKeyRotation"] is True
    statements_ = resources["EncryptionKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements_ if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert resources["AlertTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "EncryptionKey"}
    stream = resources["ChangeStream"]["Properties"]
    assert stream["StreamEncryption"]["EncryptionType"] == "KMS"
    assert stream["RetentionPeriodHours"] == {"Ref": "KinesisRetentionHours"}
    assert stream["ShardCount"] == {
        "Fn::If": ["KinesisOnDemand", {"Ref": "AWS::NoValue"}, {"Ref": "KinesisShardCount"}]
    }
    state = resources["StateTable"]["Properties"]
    assert state["KeySchema"] == [{"AttributeName": "file_key", "KeyType": "HASH"}]
    assert state["BillingMode"] == "PAY_PER_REQUEST"
    assert state["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert state["SSESpecification"]["SSEType"] == "KMS"
    dlq = resources["DeadLetterTable"]["Properties"]
    assert dlq["KeySchema"] == [{"AttributeName": "record_id", "KeyType": "HASH"}]
    assert dlq["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert dlq["SSESpecification"]["SSEType"] == "KMS"


# -- state machine and schedules --------------------------------------------------------------------------


def test_state_machine_is_traced_logged_and_uses_a_definition_string(template: dict[str, Any]) -> None:
    raw = cfn_template.load(TEMPLATE, raw=True)["Resources"]["StateMachine"]["Properties"]
    assert raw["DefinitionS3Location"] == {
        "Bucket": {"Ref": "ArtifactBucket"},
        "Key": "statemachine/polling.asl.json",
    }
    machine = template["Resources"]["StateMachine"]["Properties"]
    assert "Definition" not in machine and "Fn::Sub" in machine["DefinitionString"]
    assert machine["TracingConfiguration"] == {"Enabled": {"Fn::If": ["TracingEnabled", True, False]}}
    assert machine["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": ["StateMachineLogGroup", "Arn"]
    }
    role = template["Resources"]["StateMachineRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert role["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_schedules_use_their_expressions(template: dict[str, Any]) -> None:
    polling = template["Resources"]["PollingSchedule"]["Properties"]
    assert polling["ScheduleExpression"] == {"Ref": "PollingScheduleExpression"}
    assert polling["Target"]["Arn"] == {"Ref": "StateMachine"}
    streaming = template["Resources"]["StreamingSchedule"]
    assert streaming["Condition"] == "StreamingEnabled"
    assert streaming["Properties"]["ScheduleExpression"] == {"Ref": "StreamingScheduleExpression"}
    assert streaming["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": ["StreamProducerFunction", "Arn"]}


# -- alarms -------------------------------------------------------------------------------------------


def test_alarms_query_exactly_what_is_emitted(template: dict[str, Any]) -> None:
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    functions = of_type(template, "AWS::Lambda::Function")
    failed = alarms["ExecutionsFailedAlarm"]["Properties"]
    assert (failed["Namespace"], failed["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert failed["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "StateMachine"}}]
    for name, function in functions.items():
        logical = name.removesuffix("Function")
        errors = alarms[f"{logical}ErrorRateAlarm"]["Properties"]
        metric_ids = {m["Id"]: m for m in errors["Metrics"]}
        assert "errors / invocations" in metric_ids["rate"]["Expression"]
        for metric in ("errors", "invocations"):
            stat = metric_ids[metric]["MetricStat"]["Metric"]
            assert stat["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": name}}]
        processing = alarms[f"{logical}ProcessingErrorsAlarm"]["Properties"]
        assert (processing["Namespace"], processing["MetricName"]) == (
            "FSxN-S3AP-Patterns",
            "ProcessingErrors",
        )
        assert processing["Dimensions"] == [
            {"Name": "UseCase", "Value": "retail-catalog"},
            {"Name": "FunctionName", "Value": {"Ref": name}},
            {"Name": "Environment", "Value": {"Ref": "Environment"}},
        ]
        expected = "StreamingAlarms" if function.get("Condition") == "StreamingEnabled" else "PollingAlarms"
        assert alarms[f"{logical}ErrorRateAlarm"]["Condition"] == expected
    age = alarms["StreamIteratorAgeAlarm"]["Properties"]
    assert (age["Namespace"], age["MetricName"]) == ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds")
    assert age["Dimensions"] == [{"Name": "StreamName", "Value": {"Ref": "ChangeStream"}}]


def test_every_alarm_pages_the_alert_topic_and_the_summary_none(template: dict[str, Any]) -> None:
    for name, alarm in of_type(template, "AWS::CloudWatch::Alarm").items():
        assert alarm["Properties"]["AlarmActions"] == [
            {"Fn::If": ["NoAlertTopicArn", {"Ref": "AlertTopic"}, {"Ref": "AlertTopicArn"}]}
        ], name
    # The composite rolls up alarms that page on their own; paging it too would page twice.
    for name, composite in of_type(template, "AWS::CloudWatch::CompositeAlarm").items():
        assert "AlarmActions" not in composite["Properties"], name


@pytest.mark.parametrize("streaming", ["false", "true"])
def test_the_composite_alarm_names_exactly_the_alarms_that_exist(
    template: dict[str, Any], streaming: str
) -> None:
    params = parameters(template, EnableStreamingMode=streaming)
    resources = created(template, EnableStreamingMode=streaming)
    rule = template["Resources"]["HealthCompositeAlarm"]["Properties"]["AlarmRule"]["Fn::If"]
    chosen = rule[1] if condition(template, rule[0], params) else rule[2]
    referenced = set(re.findall(r'ALARM\("\$\{(\w+)\}"\)', chosen["Fn::Sub"]))
    alarms = {n for n in resources if template["Resources"][n]["Type"] == "AWS::CloudWatch::Alarm"}
    assert referenced == alarms
