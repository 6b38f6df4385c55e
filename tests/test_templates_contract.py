"""Every template the catalog lists parses and passes the checks ``make lint`` runs.

cfn-lint (with the serverless rules appended) runs in-process per template; checkov runs once over
all of them from its own tools environment, as ``make lint`` does.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from cfnlint.decode import decode

from scripts import catalog, cfn_template, lint_templates

ROOT = Path(__file__).resolve().parent.parent
CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"
IAM_TYPES = {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}
# Actions whose API offers no resource-level permission, so "*" is the only resource they can name.
ACTIONS_WITHOUT_RESOURCES = {
    "cloudwatch:PutMetricData",
    "ecr:GetAuthorizationToken",
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    "rekognition:DetectLabels",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
}
SERVERLESS_RULES = "cfn_lint_serverless.rules"
TEMPLATES = catalog.templates()


def _lint(path: Path) -> list[str]:
    matches = lint_file(path, config=ManualArgs(append_rules=[SERVERLESS_RULES], regions=["us-east-1"]))
    return [f"{m.rule.id} {m.filename}:{m.linenumber} {m.message}" for m in matches]


def test_serverless_rules_are_really_appended(tmp_path: Path) -> None:
    """A function with no log group is flagged only when the serverless rules are loaded."""
    template = tmp_path / "t.yaml"
    template.write_text(
        """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: handler.handler
      Role: !GetAtt Role.Arn
      Code: {ZipFile: "def handler(e, c): return e"}
"""
    )
    findings = _lint(template)
    assert any(f.split()[0].startswith(("ES", "WS", "E9", "W9")) for f in findings), findings


@pytest.mark.parametrize("template", TEMPLATES, ids=[str(t.relative_to(ROOT)) for t in TEMPLATES])
def test_template_parses_and_is_cfn_lint_clean(template: Path, tmp_path: Path) -> None:
    parsed, errors = decode(str(template))
    assert not errors, errors
    assert parsed is not None and parsed.get("Resources"), f"{template} has no resources"
    # What CloudFormation runs (snippets included, loops expanded); make lint does every combination.
    assert _lint(lint_templates.write_effective(template, tmp_path / template.name)) == []


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(document: Any) -> list[dict[str, Any]]:
    """Every statement of a policy document, taking both branches of an ``Fn::If``."""
    found: list[dict[str, Any]] = []
    for statement in _as_list(document.get("Statement", [])):
        if isinstance(statement, dict) and "Fn::If" in statement:
            found += [s for s in statement["Fn::If"][1:] if isinstance(s, dict) and "Effect" in s]
        elif isinstance(statement, dict):
            found.append(statement)
    return found


def _iam_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for name, resource in template["Resources"].items():
        if resource.get("Type") not in IAM_TYPES:
            continue
        properties = resource.get("Properties", {})
        documents = [p.get("PolicyDocument", {}) for p in _as_list(properties.get("Policies", []))]
        documents.append(properties.get("PolicyDocument", {}))
        found += [
            (name, statement) for doc in documents if isinstance(doc, dict) for statement in _statements(doc)
        ]
    return found


@pytest.mark.parametrize("template", TEMPLATES, ids=[str(t.relative_to(ROOT)) for t in TEMPLATES])
def test_iam_names_star_only_where_the_api_has_no_resource_level_permission(template: Path) -> None:
    for name, statement in _iam_statements(cfn_template.load(template)):
        actions = _as_list(statement.get("Action", []))
        assert not any(action == "*" or action.endswith(":*") for action in actions), (name, actions)
        if "*" in _as_list(statement.get("Resource", [])):
            assert set(actions) <= ACTIONS_WITHOUT_RESOURCES, (name, actions)


@pytest.mark.skipif(not TEMPLATES, reason="no template in the catalog exists yet")
def test_templates_are_checkov_clean(tmp_path: Path) -> None:
    if not CHECKOV.exists():
        pytest.fail("checkov is missing: run `make setup` (it installs .venv-tools)")
    args = [
        str(CHECKOV),
        "--quiet",
        "--compact",
        "--skip-download",
        "--framework",
        "cloudformation",
        "--output",
        "json",
    ]
    for index, template in enumerate(TEMPLATES):
        effective = lint_templates.write_effective(template, tmp_path / f"{index}-{template.name}")
        args += ["-f", effective.name]  # relative, as make lint passes them (see lint_templates.run)
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600, cwd=tmp_path)
    reports = json.loads(result.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{check['check_id']} {check['file_path']} {check['resource']}"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    assert failed == []
    assert result.returncode == 0, result.stderr[-2000:]


# --------------------------------------------------------------------------------------------------
# The expanded resource set, per switch combination, against the snapshot taken before the loops

SNAPSHOT = ROOT / "tests" / "fixtures" / "template-resources.json"
USE_CASES = [uc for uc in catalog.ALL if uc.exists and uc.number]
SNAPSHOT_LABELS = {  # switch values of the snapshot -> the lint combination they are
    "EnableStreamingMode": "streaming",
    "SageMaker": "sagemaker",
    "EnableXRayTracing": "xray",
    "EnableCloudWatchAlarms": "alarms",
}
# Every difference from the snapshot, with its reason. (use case, logical id) -> reason.
RENAMED = {
    ("retail-catalog", "PollingStateMachine"): "StateMachine",
    ("retail-catalog", "PollingStateMachineRole"): "StateMachineRole",
    ("retail-catalog", "PollingStateMachineLogGroup"): "StateMachineLogGroup",
    ("retail-catalog", "PollingExecutionsFailedAlarm"): "ExecutionsFailedAlarm",
    ("autonomous-driving", "PipelineHealthCompositeAlarm"): "HealthCompositeAlarm",
}
# These came with the shared building blocks (shared/cfn/blocks).
ADDED_BY_BLOCKS = {
    "ExecutionsTimedOutAlarm": "every use case pages on a timed-out run, not only UC9",
    "StateMachinePolicy": "what the states call, beside the shared state machine role (UC9)",
}
REMOVED = {
    ("autonomous-driving", "LogsKey"): "folded into the one EncryptionKey of every use case",
    ("autonomous-driving", "AlertKey"): "folded into the one EncryptionKey of every use case",
}
ADDED = {
    "EncryptionKey": "one key per use case; UC11 now always has it, since its log groups are encrypted",
    "AlertTopicPolicy": "TLS-only publishing to the alert topic",
    "DiscoveryPolicy": "per-function permissions, attached to the role the Functions loop builds",
    "ImageTaggingPolicy": "per-function permissions",
    "CatalogMetadataPolicy": "per-function permissions",
    "QualityCheckPolicy": "per-function permissions",
    "StreamProducerPolicy": "per-function permissions",
    "StreamConsumerPolicy": "per-function permissions",
    "DiscoveryStreamingPolicy": "permissions that exist only with streaming on",
    "StreamProducerInvokeConfig": "Scheduler invokes the producer asynchronously: on-failure destination",
    "VideoMetadataPolicy": "per-function permissions",
    "PointCloudQcPolicy": "per-function permissions",
    "SegmentationInvokePolicy": "per-function permissions",
    "SegmentationCallbackPolicy": "per-function permissions",
    "AnnotationManagerPolicy": "per-function permissions",
    "VideoLabelsPolicy": "permissions that exist only with video labels on",
    "SegmentationRealModePolicy": "permissions that exist only in real SageMaker mode",
    "CallbackDeadLetterPolicy": "permissions that exist only in real SageMaker mode",
    "SummaryModelPolicy": "permissions that exist only with the Bedrock summary on",
}


def _snapshot_parameters(label: str) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for part in label.split(","):
        name, value = part.split("=")
        setting = {"true": "on", "false": "off"}.get(value, value)
        parameters.update(lint_templates.SWITCHES[SNAPSHOT_LABELS[name]][setting])
    return parameters


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_the_expanded_resources_are_the_snapshot_plus_declared_changes(uc: catalog.UseCase) -> None:
    snapshot = json.loads(SNAPSHOT.read_text())[uc.name]
    template = cfn_template.load(uc.template)
    for label, before_list in snapshot.items():
        before = dict(item.split(" ") for item in before_list)
        expected = {RENAMED.get((uc.name, k), k): t for k, t in before.items() if (uc.name, k) not in REMOVED}
        now = {
            k: r["Type"]
            for k, r in cfn_template.evaluate(template, "s", _snapshot_parameters(label)).resources().items()
        }
        assert {k: t for k, t in expected.items() if now.get(k) != t} == {}, f"{label}: missing or retyped"
        unexplained = {k for k in now if k not in expected and k not in ADDED and k not in ADDED_BY_BLOCKS}
        assert unexplained == set(), f"{label}: resources no declared change explains"


# --------------------------------------------------------------------------------------------------
# One name per concept across the catalog

SHARED_PARAMETERS = {
    "AlertTopicArn": "",
    "LambdaErrorRatePercent": 5,
    "ProcessingErrorsThreshold": 1,
    "LogRetentionDays": 30,
    "LogLevel": "INFO",
    "EnableXRayTracing": "true",
    "EnableCloudWatchAlarms": "true",
    "AccessPointAlias": None,
}
# A concept's resource type -> the one logical id it has in every use case.
ONE_OF_A_KIND = {
    "AWS::StepFunctions::StateMachine": "StateMachine",
    "AWS::KMS::Key": "EncryptionKey",
    "AWS::SNS::Topic": "AlertTopic",
    "AWS::SNS::TopicPolicy": "AlertTopicPolicy",
    "AWS::Lambda::LayerVersion": "DependenciesLayer",
}


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_every_use_case_names_shared_concepts_the_same_way(uc: catalog.UseCase) -> None:
    template = cfn_template.load(uc.template)
    resources = template["Resources"]
    for name, default in SHARED_PARAMETERS.items():
        assert name in template["Parameters"], name
        assert template["Parameters"][name].get("Default") == default, name
    for kind, logical in ONE_OF_A_KIND.items():
        assert [n for n, r in resources.items() if r["Type"] == kind] == [logical], kind
    assert resources["StateMachineRole"]["Type"] == "AWS::IAM::Role"
    assert resources["StateMachineLogGroup"]["Type"] == "AWS::Logs::LogGroup"
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Logs::LogGroup":
            assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
            assert props["KmsKeyId"] == {"Fn::GetAtt": ["EncryptionKey", "Arn"]}, name
        if resource["Type"] == "AWS::Lambda::Function":
            assert props["LoggingConfig"]["ApplicationLogLevel"] == {"Ref": "LogLevel"}, name
            assert props["LoggingConfig"]["LogFormat"] == "JSON", name
            logical = name.removesuffix("Function")
            rate = resources[f"{logical}ErrorRateAlarm"]["Properties"]
            assert rate["Threshold"] == {"Ref": "LambdaErrorRatePercent"}, name
            processing = resources[f"{logical}ProcessingErrorsAlarm"]["Properties"]
            assert processing["Threshold"] == {"Ref": "ProcessingErrorsThreshold"}, name
            assert processing["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name
    assert {"StateMachineArn", "StateMachineName"} <= set(template["Outputs"])


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_the_functions_come_from_one_loop(uc: catalog.UseCase) -> None:
    raw = cfn_template.load(uc.template, raw=True)
    assert cfn_template.transforms(raw) == [cfn_template.LANGUAGE_EXTENSIONS]
    assert not [
        n
        for n, r in raw["Resources"].items()
        if isinstance(r, dict) and r.get("Type") == "AWS::Lambda::Function"
    ]
    identifier, names, body = raw["Resources"]["Fn::ForEach::Functions"]
    kinds = ("Role", "LogGroup", "Function", "ErrorRateAlarm", "ProcessingErrorsAlarm")
    assert set(body) == {f"${{{identifier}}}{kind}" for kind in kinds}
    # Each resource of the block comes from the shared snippet of that name (shared/cfn/blocks).
    for kind in kinds:
        location = body[f"${{{identifier}}}{kind}"]["Fn::Transform"]["Parameters"]["Location"]
        snippet = "function" + re.sub(r"(?=[A-Z])", "-", kind).lower().replace("-function", "")
        assert location.endswith(f"shared/cfn/blocks/{snippet}.yaml"), location
    assert sorted(names) == sorted(raw["Mappings"]["Functions"])


# --------------------------------------------------------------------------------------------------
# Hardening


def _combinations(uc: catalog.UseCase) -> list[tuple[str, dict[str, Any]]]:
    raw = cfn_template.load(uc.template, raw=True)
    return [(c.label, lint_templates.effective(uc.template, c)) for c in lint_templates.combinations(raw)]


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_every_asynchronously_invoked_function_has_a_bounded_on_failure_config(uc: catalog.UseCase) -> None:
    for label, template in _combinations(uc):
        evaluation = cfn_template.evaluate(template, "s")
        created = evaluation.resources()
        targets = set()
        for resource in created.values():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::Scheduler::Schedule":
                targets.add(json.dumps(props["Target"]["Arn"]))
            if resource["Type"] == "AWS::Events::Rule":
                targets |= {json.dumps(t["Arn"]) for t in props["Targets"]}
        async_functions = {
            json.loads(t)["Fn::GetAtt"][0] for t in targets if '"Fn::GetAtt"' in t and "Function" in t
        }
        configs = {
            r["Properties"]["FunctionName"]["Ref"]: r["Properties"]
            for r in created.values()
            if r["Type"] == "AWS::Lambda::EventInvokeConfig"
        }
        for function in async_functions:
            assert function in configs, (
                f"{label}: {function} is invoked asynchronously without an EventInvokeConfig"
            )
            config = configs[function]
            assert 0 <= config["MaximumRetryAttempts"] <= 2, (label, function)
            assert config["DestinationConfig"]["OnFailure"]["Destination"], (label, function)


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_the_alert_topic_accepts_tls_only(uc: catalog.UseCase) -> None:
    resources = cfn_template.load(uc.template)["Resources"]
    policy = resources["AlertTopicPolicy"]
    assert policy["Condition"] == resources["AlertTopic"]["Condition"]
    deny = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["Properties"]["Topics"] == [{"Ref": "AlertTopic"}]


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_every_trust_policy_names_the_source_account(uc: catalog.UseCase) -> None:
    for name, resource in cfn_template.load(uc.template)["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                assert statement["Condition"] == {
                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                }, name


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
@pytest.mark.parametrize(
    ("alias", "accepted"),
    [
        ("vol1-ap-abcdefghijklmnopqrstuvwxyz0123-ext-s3alias", True),
        ("arn:aws:s3:us-east-1:123456789012:accesspoint/vol1-ap", True),
        ("arn:aws-cn:s3:cn-north-1:123456789012:accesspoint/vol1-ap", True),
        ("my-bucket", False),
        ("vol1-ap-ext-s3alias/extra", False),
        ("arn:aws:s3:::my-bucket", False),
        ("", False),
    ],
)
def test_the_access_point_alias_is_checked_before_deploy(
    uc: catalog.UseCase, alias: str, accepted: bool
) -> None:
    pattern = cfn_template.load(uc.template)["Parameters"]["AccessPointAlias"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, alias)) is accepted


def test_a_stack_name_too_long_for_its_function_names_is_refused_before_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scripts import deploy

    def no_session(*_: Any, **__: Any) -> Any:
        raise AssertionError("deploy connected to AWS before checking the stack name")

    monkeypatch.setattr(deploy, "_connect", no_session)
    template = cfn_template.load(ROOT / "retail-catalog" / "template.yaml")
    # <stack>-catalog-metadata must stay within Lambda's 64 characters.
    assert cfn_template.stack_name_limit(template) == (
        47,
        "CatalogMetadataFunction (<stack>-catalog-metadata, at most 64)",
    )
    with pytest.raises(deploy.DeployError, match=r"48 characters; retail-catalog allows at most 47"):
        deploy.deploy("retail-catalog", stack_name="s" * 48)


# --------------------------------------------------------------------------------------------------
# The template a new use case starts from

ADDING = ROOT / "docs" / "adding-a-use-case.md"


def test_the_documented_skeleton_is_a_lint_clean_template(tmp_path: Path) -> None:
    """The skeleton in docs/adding-a-use-case.md includes the real snippets and lints clean."""
    skeleton = re.search(r"## The skeleton.*?```yaml\n(.*?)```", ADDING.read_text(), re.DOTALL)
    assert skeleton is not None
    folder = tmp_path / "my-use-case"
    folder.mkdir()
    (tmp_path / "shared").symlink_to(ROOT / "shared")
    (folder / "template.yaml").write_text(skeleton.group(1), encoding="utf-8")
    template = cfn_template.load(folder / "template.yaml")
    resources = template["Resources"]
    assert {"EncryptionKey", "DiscoveryRole", "ProcessFunction", "ProcessErrorRateAlarm"} <= set(resources)
    assert resources["ProcessFunction"]["Properties"]["EphemeralStorage"] == {"Size": "2048"}
    assert resources["ProcessFunction"]["Properties"]["Environment"]["Variables"]["USE_CASE"] == "my-use-case"
    effective = tmp_path / "effective.yaml"
    effective.write_text(cfn_template.dump(cfn_template.drop_unused_mappings(template)), encoding="utf-8")
    # The skeleton leaves out ProcessPolicy and the definition file; nothing else may be missing.
    assert [f for f in _lint(effective) if "ProcessPolicy" not in f] == []
