"""The UC9 template's contracts: conditions, IAM scope, the event rule, environment, alarms, packaging."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from autonomous_driving.quality import QCThresholds
from scripts import cfn_template
from shared import config
from shared.tasktokens import table_definition, validate_prefix
from tests.autonomous_driving.uc9_helpers import load

ROOT = Path(__file__).resolve().parents[2]
UC = ROOT / "autonomous-driving"
T = cfn_template.load(UC / "template.yaml")  # the effective template: loops expanded
RESOURCES: dict[str, Any] = T["Resources"]

# Function logical id -> (folder, configuration classes its handler loads)
FUNCTIONS = {
    "DiscoveryFunction": ("discovery", ["DiscoveryConfig"]),
    "VideoMetadataFunction": ("video_metadata", ["VideoConfig"]),
    "PointCloudQcFunction": ("pointcloud_qc", ["QcConfig", QCThresholds]),
    "SegmentationInvokeFunction": ("segmentation_invoke", ["InvokeConfig"]),
    "SegmentationCallbackFunction": ("segmentation_callback", ["CallbackConfig"]),
    "AnnotationManagerFunction": ("annotation_manager", ["AnnotationConfig"]),
}
# Set by the Lambda runtime, not by the template.
RUNTIME_VARIABLES = {"AWS_LAMBDA_FUNCTION_NAME"}
STACK_HASH = {
    "Fn::Select": [
        0,
        {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]},
    ]
}


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    """Every policy statement of a role, inline or attached, taking both branches of an Fn::If."""
    found: list[dict[str, Any]] = []
    name = next(n for n, r in RESOURCES.items() if r is role)
    attached = [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": name} in r["Properties"]["Roles"]
    ]
    for policy in [*role["Properties"].get("Policies", []), *attached]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:
                found += [s for s in statement["Fn::If"][1:] if isinstance(s, dict) and "Effect" in s]
            else:
                found.append(statement)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_required_parameters_and_defaults() -> None:
    params = T["Parameters"]
    expected_defaults = {
        "EnableSageMakerTransform": "false",
        "MockMode": "true",
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "AlertTopicArn": "",
        "Environment": "prod",
        "EnableBedrockSummary": "false",
    }
    for name, default in expected_defaults.items():
        assert params[name]["Default"] == default, name
    for name in (
        "ArtifactBucket",
        "AccessPointName",
        "AccessPointAlias",
        "OutputBucketName",
        "ModelImageUri",
        "ModelDataUrl",
        "TransformInstanceType",
        "TransformInstanceCount",
        "MaxRuntimeSeconds",
        "ScheduleIntervalMinutes",
        "MaxFilesPerRun",
        "ToleratedFailurePercentage",
        "QcMinPoints",
        "QcMaxNanRatio",
        "QcMaxDuplicateRatio",
        "BedrockModelId",
    ):
        assert name in params, name
    for gone in ("ScheduleExpression", "HeartbeatSeconds", "TimeoutSeconds"):
        assert gone not in params, f"{gone} follows from ScheduleIntervalMinutes now"


# The callback's sweep heartbeats a running job this often (HeartbeatSchedule).
SWEEP_SECONDS = 300
# What a run needs besides the segmentation wait: discovery, the per-file Map, annotations.
REST_OF_THE_RUN_SECONDS = 600


def test_every_schedule_interval_gives_a_run_that_ends_before_the_next_one_starts() -> None:
    intervals = T["Parameters"]["ScheduleIntervalMinutes"]["AllowedValues"]
    rows = T["Mappings"]["RunTimeouts"]
    assert set(rows) == set(intervals)
    assert T["Parameters"]["ScheduleIntervalMinutes"]["Default"] in intervals
    for interval in intervals:
        row = rows[interval]
        assert row["Execution"] < int(interval) * 60, interval
        assert row["Segmentation"] + REST_OF_THE_RUN_SECONDS <= row["Execution"], interval
        assert SWEEP_SECONDS < row["Heartbeat"] < row["Segmentation"], interval


@pytest.mark.parametrize("interval", ["30", "60", "1440"])
def test_the_schedule_the_execution_and_the_segmentation_wait_follow_one_parameter(interval: str) -> None:
    row = T["Mappings"]["RunTimeouts"][interval]
    machine = cfn_template.definition_document(
        T, "StateMachine", parameters={"ScheduleIntervalMinutes": interval}
    )
    assert machine["TimeoutSeconds"] == row["Execution"]
    assert machine["States"]["Segment"]["TimeoutSeconds"] == row["Segmentation"]
    assert machine["States"]["Segment"]["HeartbeatSeconds"] == row["Heartbeat"]
    evaluation = cfn_template.evaluate(T, "stack", parameters={"ScheduleIntervalMinutes": interval})
    schedule = evaluation.value(RESOURCES["PipelineSchedule"]["Properties"]["ScheduleExpression"])
    assert schedule == f"rate({interval} minutes)"
    variables = RESOURCES["SegmentationInvokeFunction"]["Properties"]["Environment"]["Variables"]
    assert evaluation.value(variables["CALLBACK_TIMEOUT_SECONDS"]) == row["Segmentation"]


def test_sagemaker_resources_exist_only_in_real_mode() -> None:
    conditions = T["Conditions"]
    assert conditions["SageMakerEnabled"] == {"Fn::Equals": [{"Ref": "EnableSageMakerTransform"}, "true"]}
    assert conditions["RealSageMaker"] == {
        "Fn::And": [{"Condition": "SageMakerEnabled"}, {"Fn::Equals": [{"Ref": "MockMode"}, "false"]}]
    }
    assert RESOURCES["SegmentationRealModePolicy"]["Condition"] == "RealSageMaker"
    for kind in ("AWS::SageMaker::Model", "AWS::Events::Rule", "AWS::SQS::Queue"):
        found = [name for name, r in RESOURCES.items() if r["Type"] == kind]
        assert found, kind
        assert all(RESOURCES[name].get("Condition") == "RealSageMaker" for name in found), kind
    assert RESOURCES["TransformJobRole"]["Condition"] == "RealSageMaker"
    assert RESOURCES["HeartbeatSchedule"]["Condition"] == "RealSageMaker"


def test_the_event_rule_is_scoped_to_this_stacks_job_name_prefix() -> None:
    pattern = RESOURCES["TransformJobStateRule"]["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.sagemaker"]
    assert pattern["detail-type"] == ["SageMaker Transform Job State Change"]
    prefix = pattern["detail"]["TransformJobName"][0]["prefix"]
    assert prefix == {"Fn::Sub": ["uc9-${StackHash}-", {"StackHash": STACK_HASH}]}
    assert set(pattern["detail"]["TransformJobStatus"]) == {"Completed", "Failed", "Stopped"}
    target = RESOURCES["TransformJobStateRule"]["Properties"]["Targets"][0]
    assert target["Arn"] == {"Fn::GetAtt": ["SegmentationCallbackFunction", "Arn"]}
    assert "DeadLetterConfig" in target


def test_the_job_name_prefix_is_the_same_everywhere_and_valid() -> None:
    expected = {"Fn::Sub": ["uc9-${StackHash}", {"StackHash": STACK_HASH}]}
    for logical in ("SegmentationInvokeFunction", "SegmentationCallbackFunction"):
        variables = RESOURCES[logical]["Properties"]["Environment"]["Variables"]
        assert variables["JOB_NAME_PREFIX"] == expected, logical
    # The first group of a stack id's UUID: 8 lowercase hex characters.
    stack_uuid = str(uuid.uuid4())
    validate_prefix(f"uc9-{stack_uuid.split('-')[0]}")


def test_no_role_may_touch_transform_jobs_beyond_the_stack_prefix() -> None:
    text = json.dumps(RESOURCES)
    assert "transform-job/*" not in text
    for name, resource in RESOURCES.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in statements(resource):
            actions = as_list(statement["Action"])
            if any(a.startswith("sagemaker:") for a in actions):
                for target in as_list(statement["Resource"]):
                    assert target["Fn::Sub"][0].endswith("transform-job/uc9-${StackHash}-*"), name


def test_the_model_role_reads_staged_input_and_writes_output_only() -> None:
    role = RESOURCES["TransformJobRole"]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sagemaker.amazonaws.com"
    }
    s3 = [s for s in statements(role) if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    by_sid = {s["Sid"]: s for s in s3}
    assert by_sid["ReadStagedInput"]["Resource"]["Fn::Sub"][0].endswith("/runs/*/segmentation/input/*")
    assert by_sid["WriteOutput"]["Resource"]["Fn::Sub"][0].endswith("/runs/*/segmentation/output/*")
    assert set(by_sid) == {"ReadStagedInput", "ListStagedInput", "WriteOutput", "ReadModelArtifact"}


def test_access_point_permissions_use_the_access_point_arn() -> None:
    for name, resource in RESOURCES.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in statements(resource):
            for target in as_list(statement["Resource"]):
                text = json.dumps(target)
                if "accesspoint" in text:
                    assert "accesspoint/${AccessPointName}" in text, name
                    assert "accesspoint/*" not in text, name


def _env_names(cls: type) -> tuple[set[str], set[str]]:
    """(all variables, required variables) a configuration dataclass reads."""
    every, required = set(), set()
    for field in dataclasses.fields(cls):
        name = field.metadata.get("env")
        if name is None:
            continue
        every.add(name)
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            required.add(name)
    return every, required


@pytest.mark.parametrize("logical", sorted(FUNCTIONS))
def test_each_function_gets_what_its_handler_reads_and_nothing_no_handler_reads(logical: str) -> None:
    """All functions share one environment: each gets what it needs, and every variable is read."""
    folder, classes = FUNCTIONS[logical]
    module = load(folder)
    every: set[str] = set()
    required: set[str] = set()
    for cls in classes:
        found = getattr(module, cls) if isinstance(cls, str) else cls
        names, needed = _env_names(found)
        every |= names
        required |= needed
    variables = set(RESOURCES[logical]["Properties"]["Environment"]["Variables"])
    assert required - RUNTIME_VARIABLES <= variables, f"{logical} misses {required - variables}"
    read_by_some = set()
    for other_folder, other_classes in FUNCTIONS.values():
        other = load(other_folder)
        for cls in other_classes:
            read_by_some |= _env_names(getattr(other, cls) if isinstance(cls, str) else cls)[0]
    assert variables <= read_by_some, f"{logical} sets variables no handler reads: {variables - read_by_some}"


def test_the_dependencies_layer_matches_the_requirements_file() -> None:
    layer = RESOURCES["DependenciesLayer"]["Properties"]
    assert layer["Content"] == {"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": "layer.zip"}
    pins = (UC / "requirements.txt").read_text()
    assert re.search(r"^aws-xray-sdk==2\.15\.0$", pins, re.MULTILINE)


def test_the_token_table_matches_the_store() -> None:
    props = RESOURCES["TaskTokenTable"]["Properties"]
    expected = table_definition("x")
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(expected["AttributeDefinitions"], key=str)
    assert props["KeySchema"] == expected["KeySchema"]
    assert sorted(props["GlobalSecondaryIndexes"], key=str) == sorted(
        expected["GlobalSecondaryIndexes"], key=str
    )
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    # A stored token can complete an execution: the table uses the stack's own key.
    assert props["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Fn::GetAtt": ["EncryptionKey", "Arn"]},
    }


def test_segmentation_invoke_cannot_pass_roles() -> None:
    """It starts transform jobs of an existing model; CreateTransformJob takes no role to pass."""
    actions = {a for s in statements(RESOURCES["SegmentationInvokeRole"]) for a in as_list(s["Action"])}
    assert "iam:PassRole" not in actions and "sagemaker:CreateTransformJob" in actions


def test_the_retained_bucket_keeps_its_policy() -> None:
    for name in ("OutputBucket", "OutputBucketPolicy"):
        assert RESOURCES[name]["DeletionPolicy"] == RESOURCES[name]["UpdateReplacePolicy"] == "Retain", name


def test_the_state_machine_is_traced_logged_and_defined_in_its_own_file() -> None:
    raw = cfn_template.load(UC / "template.yaml", raw=True)["Resources"]["StateMachine"]["Properties"]
    assert raw["DefinitionS3Location"] == {
        "Bucket": {"Ref": "ArtifactBucket"},
        "Key": "statemachine/pipeline.asl.json",
    }
    props = RESOURCES["StateMachine"]["Properties"]
    assert "Definition" not in props
    placeholders = set(re.findall(r"\$\{(\w+)\}", (UC / "statemachine" / "pipeline.asl.json").read_text()))
    assert placeholders == set(raw["DefinitionSubstitutions"])
    assert "${DiscoveryFunction.Arn}" in json.dumps(props["DefinitionString"])
    assert props["TracingConfiguration"] == {"Enabled": {"Fn::If": ["TracingEnabled", True, False]}}
    assert props["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
    schedule = RESOURCES["PipelineSchedule"]["Properties"]
    assert schedule["Target"]["Arn"] == {"Ref": "StateMachine"}


def test_alarms_query_what_the_functions_emit() -> None:
    alarms = {n: r for n, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert all(r["Condition"] == "AlarmsEnabled" for r in alarms.values())
    processing = [
        r["Properties"] for r in alarms.values() if r["Properties"].get("MetricName") == "ProcessingErrors"
    ]
    assert len(processing) == len(FUNCTIONS)
    for props in processing:
        assert props["Namespace"] == "FSxN-S3AP-Patterns"
        assert [d["Name"] for d in props["Dimensions"]] == ["UseCase", "FunctionName", "Environment"]
        assert props["Dimensions"][0]["Value"] == "autonomous-driving"
    failed = alarms["ExecutionsFailedAlarm"]["Properties"]
    assert (failed["Namespace"], failed["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert failed["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "StateMachine"}}]
    rates = [r for n, r in alarms.items() if n.endswith("ErrorRateAlarm")]
    assert len(rates) == len(FUNCTIONS)
    composite = RESOURCES["HealthCompositeAlarm"]
    assert composite["Type"] == "AWS::CloudWatch::CompositeAlarm"
    rule = composite["Properties"]["AlarmRule"]["Fn::Sub"]
    for name in alarms:
        if name.endswith("ErrorRateAlarm") or name.startswith("Executions"):
            assert f"${{{name}}}" in rule, name
    for props in (r["Properties"] for r in alarms.values()):
        assert props["AlarmActions"] == [
            {"Fn::If": ["NoAlertTopicArn", {"Ref": "AlertTopic"}, {"Ref": "AlertTopicArn"}]}
        ]


def test_the_alert_topic_key_lets_cloudwatch_publish() -> None:
    key = RESOURCES["EncryptionKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in key)
    assert RESOURCES["AlertTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "EncryptionKey"}


SKIPPED_BY_MOTO = {"AWS::Scheduler::Schedule", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"}


def test_outputs_never_get_attributes_of_resources_the_local_cloud_skips() -> None:
    for name, output in T["Outputs"].items():
        text = json.dumps(output["Value"])
        for logical in re.findall(r'"Fn::GetAtt": \["([A-Za-z0-9]+)"', text):
            assert RESOURCES[logical]["Type"] not in SKIPPED_BY_MOTO, name


# Every threshold QCThresholds reads -> the stack parameter that sets it.
QC_PARAMETERS = {
    "QC_MIN_POINTS": "QcMinPoints",
    "QC_MAX_NAN_RATIO": "QcMaxNanRatio",
    "QC_MAX_DUPLICATE_RATIO": "QcMaxDuplicateRatio",
    "QC_MIN_DENSITY": "QcMinDensity",
    "QC_INTENSITY_MIN": "QcIntensityMin",
    "QC_INTENSITY_MAX": "QcIntensityMax",
    "QC_DUPLICATE_RESOLUTION_M": "QcDuplicateResolutionM",
}


def _qc_environment(values: dict[str, str]) -> dict[str, str]:
    """The QC function's threshold variables as CloudFormation resolves them for ``values``."""
    variables = RESOURCES["PointCloudQcFunction"]["Properties"]["Environment"]["Variables"]
    return {name: values[ref["Ref"]] for name, ref in variables.items() if name.startswith("QC_")}


def test_every_qc_threshold_is_a_parameter_passed_under_the_name_the_qc_reads() -> None:
    every, _ = _env_names(QCThresholds)
    assert every == set(QC_PARAMETERS)
    variables = RESOURCES["PointCloudQcFunction"]["Properties"]["Environment"]["Variables"]
    for name, parameter in QC_PARAMETERS.items():
        assert variables[name] == {"Ref": parameter}, name
        assert parameter in T["Parameters"], parameter
    grouped = [
        group["Parameters"]
        for group in T["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        if "QC" in group["Label"]["default"]
    ]
    assert len(grouped) == 1
    assert set(grouped[0]) == set(QC_PARAMETERS.values())  # the console shows them together


def test_qc_parameter_values_reach_the_thresholds() -> None:
    defaults = {p: str(T["Parameters"][p]["Default"]) for p in QC_PARAMETERS.values()}
    assert config.from_environ(QCThresholds, _qc_environment(defaults)) == QCThresholds()
    chosen = {
        "QcMinPoints": "250",
        "QcMaxNanRatio": "0.2",
        "QcMaxDuplicateRatio": "0.3",
        "QcMinDensity": "4.5",
        "QcIntensityMin": "-1",
        "QcIntensityMax": "255",
        "QcDuplicateResolutionM": "0.01",
    }
    assert config.from_environ(QCThresholds, _qc_environment(chosen)) == QCThresholds(
        min_points=250,
        max_nan_ratio=0.2,
        max_duplicate_ratio=0.3,
        min_density=4.5,
        intensity_min=-1.0,
        intensity_max=255.0,
        duplicate_resolution_m=0.01,
    )
