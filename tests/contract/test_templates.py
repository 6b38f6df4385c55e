"""Template contracts over the catalog: lint in one run, least privilege, one name per concept.

The linters run once, in ``make lint`` (``scripts.lint_templates``: every effective template of every
use case and shared stack, each tool in one run over all of them). Here: that run covers every
template of the catalog and every switch combination, the state machines are valid ASL, and a
planted broken template fails it, so the lint can fail.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from cfnlint.decode import decode

from scripts import catalog, cfn_template, lint_templates

ROOT = catalog.ROOT
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
    "rekognition:DetectText",
    "textract:AnalyzeDocument",
    "textract:AnalyzeExpense",
    "textract:DetectDocumentText",
    "textract:GetDocumentAnalysis",
    "textract:GetExpenseAnalysis",
    "textract:StartDocumentAnalysis",
    "textract:StartExpenseAnalysis",
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


def test_one_lint_run_covers_every_template_and_switch_combination(tmp_path: Path) -> None:
    written = lint_templates.write_all(TEMPLATES, tmp_path)
    for template in TEMPLATES:
        parsed, errors = decode(str(template))
        assert not errors, errors
        assert parsed is not None and parsed.get("Resources"), f"{template} has no resources"
        folder = tmp_path / template.relative_to(ROOT).with_suffix("").as_posix().replace("/", "__")
        combinations = lint_templates.combinations(cfn_template.load(template, raw=True))
        assert sorted(p.name for p in folder.glob("*.yaml")) == sorted(
            f"{c.label}.yaml" for c in combinations
        )
    assert len(written) == sum(len(list(tmp_path.glob("*/*.yaml"))) for _ in [0])
    for where, document in lint_templates.definitions(TEMPLATES):
        assert lint_templates.asl_problems(where, document) == [], where


@pytest.mark.slow
def test_the_lint_run_fails_on_a_broken_template() -> None:
    """A function without its log group and with a wildcard role: cfn-lint's serverless rules and
    checkov both object, and the run counts the failures."""
    folder = ROOT / "build" / "contract-lint"
    folder.mkdir(parents=True, exist_ok=True)
    template = folder / "broken.yaml"
    template.write_text(
        """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: all
          PolicyDocument:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: "*", Resource: "*"}]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: handler.handler
      Role: !GetAtt Role.Arn
      Code: {ZipFile: "def handler(e, c): return e"}
"""
    )
    assert lint_templates.run([template]) >= 2  # cfn-lint and at least one checkov check


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


def iam_problems(template: dict[str, Any]) -> list[str]:
    """No wildcard action; a wildcard resource only for actions without resource-level permission."""
    problems = []
    for name, statement in _iam_statements(template):
        actions = _as_list(statement.get("Action", []))
        if any(action == "*" or action.endswith(":*") for action in actions):
            problems.append(f"{name}: wildcard action in {actions}")
        if "*" in _as_list(statement.get("Resource", [])) and not set(actions) <= ACTIONS_WITHOUT_RESOURCES:
            problems.append(f"{name}: Resource * for {sorted(set(actions) - ACTIONS_WITHOUT_RESOURCES)}")
    return problems


@pytest.mark.parametrize("template", TEMPLATES, ids=[str(t.relative_to(ROOT)) for t in TEMPLATES])
def test_iam_names_star_only_where_the_api_has_no_resource_level_permission(template: Path) -> None:
    assert iam_problems(cfn_template.load(template)) == []


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
    "StreamConsumerStreamingPolicy": "the shared consumer's rights, apart from the use case's per-file work",
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
    # These came with the shared building blocks (shared/cfn/blocks).
    "ExecutionsTimedOutAlarm": "every use case pages on a timed-out run, not only UC9",
    "StateMachinePolicy": "what the states call, beside the shared state machine role (UC9)",
}


def _snapshot_parameters(label: str) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for part in label.split(","):
        name, value = part.split("=")
        setting = {"true": "on", "false": "off"}.get(value, value)
        parameters.update(lint_templates.SWITCHES[SNAPSHOT_LABELS[name]][setting])
    return parameters


# The use cases that existed before the shared blocks; those built on them have no earlier resources.
SNAPSHOT_USE_CASES = [uc for uc in USE_CASES if uc.name in json.loads(SNAPSHOT.read_text())]


@pytest.mark.parametrize("uc", SNAPSHOT_USE_CASES, ids=[uc.name for uc in SNAPSHOT_USE_CASES])
def test_the_expanded_resources_are_the_snapshot_plus_declared_changes(uc: catalog.UseCase) -> None:
    snapshot = json.loads(SNAPSHOT.read_text()).get(uc.name)
    if snapshot is None:
        pytest.skip(f"{uc.name} was built on the shared blocks from the start: no pre-loop snapshot")
    template = cfn_template.load(uc.template)
    for label, before_list in snapshot.items():
        before = dict(item.split(" ") for item in before_list)
        expected = {RENAMED.get((uc.name, k), k): t for k, t in before.items() if (uc.name, k) not in REMOVED}
        now = {
            k: r["Type"]
            for k, r in cfn_template.evaluate(template, "s", _snapshot_parameters(label)).resources().items()
        }
        assert {k: t for k, t in expected.items() if now.get(k) != t} == {}, f"{label}: missing or retyped"
        unexplained = {k for k in now if k not in expected and k not in ADDED}
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


# Resources of those types that are another concept, with the one name each has wherever it appears.
OTHER_CONCEPTS = {
    "TextractTopic": "Textract's job-completion channel (shared/documents/asyncjobs.py)",
    "TextractTopicPolicy": "TLS-only publishing to the Textract completion topic",
}


def naming_problems(template: dict[str, Any]) -> list[str]:
    """Shared parameters with their defaults, one logical id per concept, alarms per function."""
    resources = template["Resources"]
    problems = [
        f"parameter {name}: missing or default not {default!r}"
        for name, default in SHARED_PARAMETERS.items()
        if name not in template["Parameters"] or template["Parameters"][name].get("Default") != default
    ]
    for kind, logical in ONE_OF_A_KIND.items():
        found = [n for n, r in resources.items() if r["Type"] == kind and n not in OTHER_CONCEPTS]
        if found != [logical]:
            problems.append(f"{kind}: {found}, want [{logical}]")
    for logical, kind in (
        ("StateMachineRole", "AWS::IAM::Role"),
        ("StateMachineLogGroup", "AWS::Logs::LogGroup"),
    ):
        if resources.get(logical, {}).get("Type") != kind:
            problems.append(f"{logical}: missing or not {kind}")
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Logs::LogGroup" and (
            props.get("RetentionInDays") != {"Ref": "LogRetentionDays"}
            or props.get("KmsKeyId") != {"Fn::GetAtt": ["EncryptionKey", "Arn"]}
        ):
            problems.append(f"{name}: log group without the stack's retention and key")
        if resource["Type"] == "AWS::Lambda::Function":
            logical = name.removesuffix("Function")
            rate = resources.get(f"{logical}ErrorRateAlarm", {}).get("Properties", {})
            processing = resources.get(f"{logical}ProcessingErrorsAlarm", {}).get("Properties", {})
            if rate.get("Threshold") != {"Ref": "LambdaErrorRatePercent"}:
                problems.append(f"{name}: no error-rate alarm on LambdaErrorRatePercent")
            if processing.get("Threshold") != {"Ref": "ProcessingErrorsThreshold"} or (
                processing.get("ComparisonOperator") != "GreaterThanOrEqualToThreshold"
            ):
                problems.append(f"{name}: no ProcessingErrors alarm at ProcessingErrorsThreshold")
    if not {"StateMachineArn", "StateMachineName"} <= set(template.get("Outputs", {})):
        problems.append("Outputs: StateMachineArn and StateMachineName missing")
    return problems


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_every_use_case_names_shared_concepts_the_same_way(uc: catalog.UseCase) -> None:
    assert naming_problems(cfn_template.load(uc.template)) == []


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


def async_invoke_problems(created: dict[str, Any], label: str = "") -> list[str]:
    """Every function a schedule or rule invokes asynchronously has an EventInvokeConfig with at
    most two retries and an on-failure destination."""
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
    problems = []
    for function in sorted(async_functions):
        config = configs.get(function)
        if config is None:
            problems.append(f"{label}: {function} is invoked asynchronously without an EventInvokeConfig")
        elif not 0 <= config.get("MaximumRetryAttempts", 2) <= 2:
            problems.append(f"{label}: {function} retries {config['MaximumRetryAttempts']} times")
        elif not config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"):
            problems.append(f"{label}: {function} has no on-failure destination")
    return problems


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_every_asynchronously_invoked_function_has_a_bounded_on_failure_config(uc: catalog.UseCase) -> None:
    for label, template in _combinations(uc):
        assert async_invoke_problems(cfn_template.evaluate(template, "s").resources(), label) == []


def _streaming_resources() -> dict[str, Any]:
    """The retail-catalog resources with streaming on: its producer is invoked by a schedule."""
    uc = catalog.find("retail-catalog")
    _label, template = next(c for c in _combinations(uc) if c[0].startswith("streaming-on"))
    return copy.deepcopy(cfn_template.evaluate(template, "s").resources())


def _invoke_config(resources: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = next(
        r for r in resources.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"
    )
    return config


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            lambda r: r.pop(next(k for k, v in r.items() if v["Type"] == "AWS::Lambda::EventInvokeConfig")),
            "without",
        ),
        (lambda r: _invoke_config(r)["Properties"].update(MaximumRetryAttempts=5), "retries 5"),
        (lambda r: _invoke_config(r)["Properties"].pop("DestinationConfig"), "destination"),
    ],
    ids=["no config", "too many retries", "no destination"],
)
def test_the_async_invoke_check_catches_its_breakage(
    change: Callable[[dict[str, Any]], Any], words: str
) -> None:
    resources = _streaming_resources()
    assert async_invoke_problems(resources) == []
    change(resources)
    problems = async_invoke_problems(resources)
    assert problems and any(words in p for p in problems), problems


def hardening_problems(template: dict[str, Any]) -> list[str]:
    """The alert topic takes TLS only; every trust policy names the source account."""
    resources = template["Resources"]
    problems = []
    policy = resources.get("AlertTopicPolicy", {})
    deny = [
        s
        for s in policy.get("Properties", {}).get("PolicyDocument", {}).get("Statement", [])
        if s["Effect"] == "Deny"
    ]
    if (
        policy.get("Condition") != resources.get("AlertTopic", {}).get("Condition")
        or not deny
        or deny[0].get("Condition") != {"Bool": {"aws:SecureTransport": "false"}}
        or policy.get("Properties", {}).get("Topics") != [{"Ref": "AlertTopic"}]
    ):
        problems.append("AlertTopicPolicy: the topic does not refuse publishing without TLS")
    for name, resource in resources.items():
        if resource["Type"] == "AWS::IAM::Role":
            for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                if statement.get("Condition") != {
                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                }:
                    problems.append(f"{name}: trust policy without aws:SourceAccount")
    return problems


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_the_alert_topic_accepts_tls_only_and_trust_names_the_account(uc: catalog.UseCase) -> None:
    assert hardening_problems(cfn_template.load(uc.template)) == []


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
# Deliberate breakages: each check above fails on a copy of a conforming template broken its way

REFERENCE = catalog.find("retail-catalog")


def _resource(kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda t: next(r for r in t["Resources"].values() if r["Type"] == kind)


def _first_role_policy(template: dict[str, Any]) -> dict[str, Any]:
    return _iam_statements(template)[0][1]


Check = Callable[[dict[str, Any]], list[str]]
Change = Callable[[dict[str, Any]], Any]
TEMPLATE_BREAKAGES: dict[str, tuple[Check, Change, str]] = {
    "wildcard action": (iam_problems, lambda t: _first_role_policy(t).update(Action="s3:*"), "wildcard"),
    "wildcard resource": (
        iam_problems,
        lambda t: _first_role_policy(t).update(Action=["s3:GetObject"], Resource="*"),
        "Resource *",
    ),
    "shared default drift": (
        naming_problems,
        lambda t: t["Parameters"]["LogLevel"].update(Default="DEBUG"),
        "LogLevel",
    ),
    "renamed key": (
        naming_problems,
        lambda t: t["Resources"].update(OtherKey=t["Resources"].pop("EncryptionKey")),
        "KMS",
    ),
    "log group retention": (
        naming_problems,
        lambda t: _resource("AWS::Logs::LogGroup")(t)["Properties"].update(RetentionInDays=1),
        "retention",
    ),
    "no error-rate alarm": (
        naming_problems,
        lambda t: t["Resources"].pop("DiscoveryErrorRateAlarm"),
        "error-rate",
    ),
    "no output": (naming_problems, lambda t: t["Outputs"].pop("StateMachineArn"), "Outputs"),
    "plain-text topic": (
        hardening_problems,
        lambda t: t["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"].update(Statement=[]),
        "TLS",
    ),
    "confused deputy": (
        hardening_problems,
        lambda t: _resource("AWS::IAM::Role")(t)["Properties"]["AssumeRolePolicyDocument"]["Statement"][
            0
        ].pop("Condition"),
        "SourceAccount",
    ),
}


@pytest.mark.parametrize("breakage", list(TEMPLATE_BREAKAGES))
def test_each_template_check_catches_its_breakage(breakage: str) -> None:
    check, change, words = TEMPLATE_BREAKAGES[breakage]
    template = copy.deepcopy(cfn_template.load(REFERENCE.template))
    assert check(copy.deepcopy(template)) == []
    change(template)
    problems = check(template)
    assert problems and any(words in p for p in problems), problems


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


# --------------------------------------------------------------------------------------------------
# AI services have account quotas: one parameter bounds every function that calls them

AI_ACTIONS = ("rekognition:", "bedrock:", "textract:", "comprehend:", "comprehendmedical:")


def ai_concurrency_problems(template: dict[str, Any]) -> list[str]:
    """Every function whose policies call an AI service reserves ``AiConcurrency``; no other does."""
    resources = template["Resources"]
    callers: set[str] = set()
    for resource in resources.values():
        if resource.get("Type") != "AWS::IAM::Policy":
            continue
        statements = resource["Properties"]["PolicyDocument"]["Statement"]
        actions = [
            action
            for statement in statements
            if isinstance(statement, dict) and "Action" in statement
            for action in _as_list(statement["Action"])
        ]
        if any(str(action).startswith(AI_ACTIONS) for action in actions):
            for role in resource["Properties"]["Roles"]:
                callers.add(str(role["Ref"]).removesuffix("Role"))
    problems = []
    if callers and "AiConcurrency" not in template["Parameters"]:
        problems.append("functions call AI services but the template has no AiConcurrency parameter")
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        reserved = resource["Properties"].get("ReservedConcurrentExecutions")
        bounded = reserved == {"Ref": "AiConcurrency"}
        if name.removesuffix("Function") in callers and not bounded:
            problems.append(f"{name} calls an AI service without reserving AiConcurrency")
        if bounded and name.removesuffix("Function") not in callers:
            problems.append(f"{name} reserves AiConcurrency but calls no AI service")
    return problems


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_the_ai_callers_are_bounded_by_one_concurrency_parameter(uc: catalog.UseCase) -> None:
    assert ai_concurrency_problems(cfn_template.load(uc.template)) == []


def test_the_ai_concurrency_check_can_fail() -> None:
    template = cfn_template.load(catalog.find("retail-catalog").template)
    unbounded = copy.deepcopy(template)
    unbounded["Resources"]["ImageTaggingFunction"]["Properties"].pop("ReservedConcurrentExecutions")
    assert ai_concurrency_problems(unbounded) == [
        "ImageTaggingFunction calls an AI service without reserving AiConcurrency"
    ]
    stray = copy.deepcopy(template)
    stray["Resources"]["QualityCheckFunction"]["Properties"]["ReservedConcurrentExecutions"] = {
        "Ref": "AiConcurrency"
    }
    assert ai_concurrency_problems(stray) == [
        "QualityCheckFunction reserves AiConcurrency but calls no AI service"
    ]


# --------------------------------------------------------------------------------------------------
# Streaming mode: one set of shared snippets, taken over as they are

STREAMING_BLOCKS = ROOT / "shared" / "cfn" / "blocks" / "streaming"
# What a use case offering streaming declares itself, the same way as the reference use case.
STREAMING_PARAMETERS = (
    "EnableStreamingMode",
    "StreamingScheduleExpression",
    "KinesisStreamMode",
    "KinesisShardCount",
    "KinesisRetentionHours",
    "StreamBatchSize",
    "PartitionStrategy",
    "PartitionBuckets",
    "QuietPolls",
)
STREAMING_CONDITIONS = ("StreamingEnabled", "StreamingAlarms", "KinesisOnDemand", "PollingWithStreaming")
# What the snippets may refer to besides one another: the documented interface.
STREAMING_INTERFACE = {
    "StreamProducerFunction",
    "StreamConsumerFunction",
    "StreamProducerRole",
    "StreamConsumerRole",
    "StreamConsumerPolicy",
    "DiscoveryRole",
    "EncryptionKey",
    "OutputBucket",
    "AlertTopic",
    "AccessPointName",
    "OutputBucketName",
    "Environment",
    "AlertTopicArn",
    "CreateOutputBucket",
    "NoAlertTopicArn",
    *STREAMING_PARAMETERS,
    *STREAMING_CONDITIONS,
}
USE_CASE_WORDS = re.compile(r"retail|catalog|image|rekognition|bedrock|textract|comprehend", re.IGNORECASE)


def streaming_snippets() -> dict[str, Path]:
    """Each shared streaming snippet by the logical id it is included as (its name in CamelCase)."""
    return {
        "".join(part.capitalize() for part in path.stem.split("-")): path
        for path in sorted(STREAMING_BLOCKS.glob("*.yaml"))
    }


def _references(node: Any) -> set[str]:
    """Logical ids, parameters and conditions a template fragment refers to."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in {"Ref", "Condition"} and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0])
            elif key == "Fn::If":
                found.add(value[0])
                found |= _references(value[1:])
            elif key == "Fn::Sub":
                text, names = (value[0], value[1]) if isinstance(value, list) else (value, {})
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)} - set(names)
                found |= _references(names)
            else:
                found |= _references(value)
    return {name for name in found if not name.startswith("AWS::")}


def streaming_problems(raw: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """A template offering streaming includes every shared snippet and declares the interface alike."""
    if "EnableStreamingMode" not in raw.get("Parameters", {}):
        return []
    problems: list[str] = []
    resources = raw["Resources"]
    for logical_id, path in streaming_snippets().items():
        resource = resources.get(logical_id)
        location = cfn_template.include_location((resource or {}).get("Fn::Transform"))
        if (
            not location
            or not location.endswith(f"shared/cfn/blocks/streaming/{path.name}")
            or len(resource) > 1
        ):
            problems.append(f"{logical_id}: not the shared snippet streaming/{path.name} as it is")
    for name in STREAMING_PARAMETERS:
        if raw["Parameters"].get(name) != reference["Parameters"][name]:
            problems.append(f"parameter {name}: differs from {REFERENCE.name}'s")
    for name in STREAMING_CONDITIONS:
        if raw.get("Conditions", {}).get(name) != reference["Conditions"][name]:
            problems.append(f"condition {name}: differs from {REFERENCE.name}'s")
    return problems


STREAMING_USE_CASES = [
    uc for uc in USE_CASES if "EnableStreamingMode" in cfn_template.load(uc.template, raw=True)["Parameters"]
]


@pytest.mark.parametrize("uc", STREAMING_USE_CASES, ids=[uc.name for uc in STREAMING_USE_CASES])
def test_streaming_comes_from_the_shared_snippets(uc: catalog.UseCase) -> None:
    reference = cfn_template.load(REFERENCE.template, raw=True)
    assert streaming_problems(cfn_template.load(uc.template, raw=True), reference) == []


def test_the_streaming_check_catches_a_copied_resource_and_a_drifted_parameter() -> None:
    reference = cfn_template.load(REFERENCE.template, raw=True)
    copied = copy.deepcopy(reference)
    copied["Resources"]["StateTable"] = {"Type": "AWS::DynamoDB::Table", "Properties": {}}
    copied["Parameters"]["StreamBatchSize"]["Default"] = 500
    problems = streaming_problems(copied, reference)
    assert any("StateTable" in p for p in problems) and any("StreamBatchSize" in p for p in problems)


def test_the_streaming_snippets_name_no_use_case_and_use_only_their_interface() -> None:
    snippets = streaming_snippets()
    assert len(snippets) == 14
    for logical_id, path in snippets.items():
        text = path.read_text(encoding="utf-8")
        body = cfn_template.loads(text)
        assert "!" not in re.sub(r"#.*", "", text).replace("!=", ""), f"{path.name}: short-form tag"
        assert not USE_CASE_WORDS.search(json.dumps(body)), f"{path.name} names a use case"
        outside = _references(body) - STREAMING_INTERFACE - set(snippets)
        assert outside == set(), f"{logical_id} refers to {outside}, outside the streaming interface"
