"""Cross-check: every dashboard widget and every alarm in every template reads a metric that exists.

Each metric query (plain metric, metric math, SEARCH, Metrics Insights) is resolved against the
registry of what the code emits (EMF) and what AWS documents (AWS/States, AWS/Lambda, AWS/Kinesis,
...), and each dimension value must name something a use-case stack creates. The shared templates
must also be exactly what the generator produces from today's use-case templates, lint clean, and
deployable on moto.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.api import ManualArgs, lint_file

from scripts import catalog, cfn_template, observability_check, observability_stacks
from scripts.observability_check import KnownNames, MetricQuery
from shared.observability import NAMESPACE

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_UC = catalog.UseCase(
    9,
    "obs-uc",
    "Test",
    str(ROOT / "tests" / "fixtures" / "obs-uc"),
    "Fixture with a state machine and a stream.",
)
DASHBOARD = observability_stacks.DASHBOARD_PATH
ALERTS = observability_stacks.ALERTS_PATH
EXISTING = [uc for uc in catalog.USE_CASES if uc.exists]
# moto names the resource types it skips on create (alarms, subscriptions, policies); that is expected.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")


def _stack(uc: catalog.UseCase) -> str:
    return f"{uc.name}-stk"


def _known(use_cases: list[catalog.UseCase], **overrides: str) -> KnownNames:
    """What the use-case stacks create with every feature switch on."""
    known = KnownNames()
    for uc in use_cases:
        template = cfn_template.load(uc.template)
        params = observability_check.maximal_parameters(template) | overrides
        observability_check.learn(known, uc, cfn_template.evaluate(template, _stack(uc), params))
    return known


def _shared_parameters(
    template: dict[str, Any], use_cases: list[catalog.UseCase], on: bool = True
) -> dict[str, str]:
    by_parameter = {f"{observability_stacks.pascal(uc.name)}StackName": uc for uc in use_cases}
    params: dict[str, str] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if name in by_parameter:
            params[name] = _stack(by_parameter[name]) if on else ""
        elif sorted(str(v) for v in spec.get("AllowedValues", [])) == ["false", "true"]:
            params[name] = "true" if on else "false"
    return params


def _dashboard_problems(
    template: dict[str, Any], params: dict[str, str], known: KnownNames
) -> tuple[list[MetricQuery], list[str]]:
    evaluation = cfn_template.evaluate(template, "dash", params)
    body = evaluation.properties("Dashboard")["DashboardBody"]
    queries, problems = observability_check.dashboard_queries(body, "dashboard")
    return queries, problems + observability_check.check(queries, known)


def _alarm_problems(evaluation: cfn_template.Evaluation, known: KnownNames, where: str) -> list[str]:
    problems: list[str] = []
    for logical, props in observability_check.alarms_of(evaluation).items():
        queries, issues = observability_check.alarm_queries(props, f"{where} {logical}")
        problems += issues + observability_check.check(queries, known)
    return problems


# -- the committed templates -----------------------------------------------------------------------


def test_committed_templates_are_what_the_generator_writes() -> None:
    """Regenerate with ``python -m scripts.observability_stacks`` when a use-case template changes."""
    for path, text in observability_stacks.generated().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale"


def test_dashboard_has_a_section_exactly_for_each_use_case_with_a_template() -> None:
    parameters = set(cfn_template.load(DASHBOARD)["Parameters"])
    stack_parameters = {p for p in parameters if p.endswith("StackName")}
    assert stack_parameters == {f"{observability_stacks.pascal(uc.name)}StackName" for uc in EXISTING}


def test_every_committed_dashboard_widget_resolves() -> None:
    template = cfn_template.load(DASHBOARD)
    queries, problems = _dashboard_problems(
        template, _shared_parameters(template, EXISTING), _known(EXISTING)
    )
    assert problems == []
    # Every function of every shown use case has its FilesProcessed line, with the EMF dimensions.
    for uc in EXISTING:
        functions = _known([uc]).values.get("FunctionName", set())
        shown = {
            q.dimensions["FunctionName"]
            for q in queries
            if q.name == "FilesProcessed" and q.dimensions.get("UseCase") == uc.name
        }
        assert shown == functions, uc.name


def test_dashboard_body_is_valid_for_every_combination_of_switches() -> None:
    template = cfn_template.load(DASHBOARD)
    full = _shared_parameters(template, EXISTING)
    names = sorted(full)
    assert len(names) <= 8, "too many switches to enumerate; sample instead"
    known = _known(EXISTING)
    for values in itertools.product([True, False], repeat=len(names)):
        params = {
            name: (full[name] if on else ("" if name.endswith("StackName") else "false"))
            for name, on in zip(names, values, strict=True)
        }
        _, problems = _dashboard_problems(template, params, known)
        assert problems == [], params


def test_plain_metric_widgets_have_no_wildcard_values() -> None:
    template = cfn_template.load(DASHBOARD)
    evaluation = cfn_template.evaluate(template, "dash", _shared_parameters(template, EXISTING))
    body = json.loads(evaluation.properties("Dashboard")["DashboardBody"])
    for widget in body["widgets"]:
        for line in widget.get("properties", {}).get("metrics", []):
            if isinstance(line, list):
                assert not any("*" in str(item) for item in line if not isinstance(item, dict)), line


def test_every_alarm_of_the_alert_stack_resolves() -> None:
    template = cfn_template.load(ALERTS)
    evaluation = cfn_template.evaluate(template, "alerts", _shared_parameters(template, EXISTING))
    assert observability_check.alarms_of(evaluation), "the alert stack creates alarms"
    assert _alarm_problems(evaluation, _known(EXISTING), "alert-automation") == []


@pytest.mark.parametrize("uc", EXISTING, ids=[uc.name for uc in EXISTING])
@pytest.mark.parametrize("config", ["maximal", "defaults"])
def test_every_alarm_of_a_use_case_resolves(uc: catalog.UseCase, config: str) -> None:
    template = cfn_template.load(uc.template)
    params = observability_check.maximal_parameters(template) if config == "maximal" else {}
    evaluation = cfn_template.evaluate(template, _stack(uc), params)
    known = KnownNames()
    observability_check.learn(known, uc, evaluation)
    assert _alarm_problems(evaluation, known, uc.name) == []


def test_alert_stack_wiring() -> None:
    """CMK with rotation usable by CloudWatch and SNS; encrypted topic; CloudWatch may publish."""
    template = cfn_template.load(ALERTS)
    evaluation = cfn_template.evaluate(template, "alerts", _shared_parameters(template, EXISTING))
    key = evaluation.properties("AlertKey")
    assert key["EnableKeyRotation"] is True
    services = {
        s["Principal"]["Service"]: s
        for s in key["KeyPolicy"]["Statement"]
        if "Service" in s.get("Principal", {})
    }
    for service in ("cloudwatch.amazonaws.com", "sns.amazonaws.com"):
        assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(services[service]["Action"])
        assert services[service]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert template["Resources"]["AlertTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlertKey"}
    allow = evaluation.properties("AlertTopicPolicy")["PolicyDocument"]["Statement"][0]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and allow["Action"] == "sns:Publish"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert allow["Condition"]["ArnLike"]["aws:SourceArn"].startswith(
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"
    )
    # The duration alarm compares milliseconds with a millisecond baseline.
    duration = evaluation.properties("ProcessingDurationAlarm")
    assert template["Resources"]["ProcessingDurationAlarm"]["Properties"]["Threshold"] == {
        "Ref": "DurationBaselineMs"
    }
    assert "AVG(ProcessingDuration)" in duration["Metrics"][0]["Expression"]
    from scripts.metrics_registry import resolve

    spec = resolve(NAMESPACE, "ProcessingDuration", ["UseCase", "FunctionName", "Environment"])
    assert spec is not None and spec.unit == "Milliseconds"
    # Every alarm and the composite notify the topic.
    for logical, resource in evaluation.resources().items():
        if resource["Type"] in {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"}:
            assert evaluation.properties(logical)["AlarmActions"] == [evaluation.value({"Ref": "AlertTopic"})]


def test_composite_rule_names_only_alarms_the_stack_creates() -> None:
    template = cfn_template.load(ALERTS)
    for on in (True, False):
        evaluation = cfn_template.evaluate(template, "alerts", _shared_parameters(template, EXISTING, on))
        rule = evaluation.properties("CorrelatedFailuresAlarm")["AlarmRule"]
        created = {
            evaluation.physical_name(logical)
            for logical, r in evaluation.resources().items()
            if r["Type"] == "AWS::CloudWatch::Alarm"
        }
        referenced = set(re.findall(r'ALARM\("([^"]+)"\)', rule))
        assert referenced and referenced <= created, rule
        assert rule.count("(") == rule.count(")")


def test_slack_notifier_code_is_the_source_file() -> None:
    template = cfn_template.load(ALERTS)
    code = template["Resources"]["SlackNotifier"]["Properties"]["Code"]["ZipFile"]
    assert code == observability_stacks.SLACK_HANDLER_PATH.read_text(encoding="utf-8")
    env = template["Resources"]["SlackNotifier"]["Properties"]["Environment"]["Variables"]
    assert env == {"SLACK_WEBHOOK_SECRET_ARN": {"Ref": "SlackWebhookSecretArn"}}


# -- the generator on a fixture with every feature -------------------------------------------------


def _fixture_templates() -> tuple[dict[str, Any], dict[str, Any]]:
    inv = observability_stacks.inventory(FIXTURE_UC)
    return observability_stacks.dashboard_template([inv]), observability_stacks.alert_template([inv])


def test_fixture_sections_resolve_with_streaming_on_and_off() -> None:
    dashboard, alerts = _fixture_templates()
    for on in (True, False):
        params = _shared_parameters(dashboard, [FIXTURE_UC])
        params["ObsUcEnableStreamingMode"] = "true" if on else "false"
        known = _known([FIXTURE_UC], EnableStreamingMode=params["ObsUcEnableStreamingMode"])
        queries, problems = _dashboard_problems(dashboard, params, known)
        assert problems == []
        namespaces = {q.namespace for q in queries}
        assert ("AWS/Kinesis" in namespaces) is on
        assert any(q.name == "RecordsDeadLettered" for q in queries) is on
        assert {"AWS/States", "AWS/Lambda", NAMESPACE} <= namespaces
    evaluation = cfn_template.evaluate(alerts, "alerts", _shared_parameters(alerts, [FIXTURE_UC]))
    assert _alarm_problems(evaluation, _known([FIXTURE_UC]), "alerts") == []
    assert "ObsUcPipelineFailureRateAlarm" in observability_check.alarms_of(evaluation)


def test_fixture_generated_templates_are_cfn_lint_clean(tmp_path: Path) -> None:
    dashboard, alerts = _fixture_templates()
    for name, template in (("dashboard.yaml", dashboard), ("alerts.yaml", alerts)):
        path = tmp_path / name
        path.write_text(observability_stacks.render(template), encoding="utf-8")
        matches = lint_file(
            path, config=ManualArgs(append_rules=["cfn_lint_serverless.rules"], regions=["us-east-1"])
        )
        assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_unnamed_resources_are_left_out_not_guessed(tmp_path: Path) -> None:
    template = cfn_template.load(FIXTURE_UC.template)
    del template["Resources"]["Pipeline"]["Properties"]["StateMachineName"]
    folder = tmp_path / "uc"
    folder.mkdir()
    (folder / "template.yaml").write_text(json.dumps(template), encoding="utf-8")
    inv = observability_stacks.inventory(catalog.UseCase(9, "obs-uc", "Test", str(folder), "x"))
    assert inv.state_machines == [] and inv.unnamed == ["Pipeline"]
    assert "AWS/States" not in json.dumps(observability_stacks.dashboard_template([inv]))


# -- the checker catches what would show no data ---------------------------------------------------


def _fixture_known() -> KnownNames:
    return _known([FIXTURE_UC])


FN = "obs-uc-stk-process"
EMF = {"UseCase": "obs-uc", "FunctionName": FN, "Environment": "prod"}

BROKEN: dict[str, tuple[MetricQuery, str]] = {
    "seed bug: EMF metric without Environment": (
        MetricQuery(NAMESPACE, "FilesProcessed", {"UseCase": "obs-uc", "FunctionName": FN}, "w"),
        "no code or AWS service emits",
    ),
    "metric nobody emits": (MetricQuery(NAMESPACE, "FilesSkipped", EMF, "w"), "no code or AWS service emits"),
    "function that no stack creates": (
        MetricQuery(NAMESPACE, "FilesProcessed", EMF | {"FunctionName": "ImageTaggingLambda"}, "w"),
        "names nothing",
    ),
    "wildcard": (MetricQuery("AWS/Lambda", "Errors", {"FunctionName": "*"}, "w"), "wildcard"),
    "metric of another function": (MetricQuery(NAMESPACE, "RecordsDeadLettered", EMF, "w"), "does not emit"),
    "wrong environment": (
        MetricQuery(NAMESPACE, "FilesProcessed", EMF | {"Environment": "staging"}, "w"),
        "names nothing",
    ),
    "shard-level kinesis": (
        MetricQuery(
            "AWS/Kinesis", "IncomingRecords", {"StreamName": "obs-uc-stk-changes", "ShardId": "s"}, "w"
        ),
        "no code or AWS service emits",
    ),
    "state machine by name instead of ARN": (
        MetricQuery("AWS/States", "ExecutionsFailed", {"StateMachineArn": "obs-uc-stk-pipeline"}, "w"),
        "names nothing",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_checker_reports_queries_without_data(case: str) -> None:
    query, expected = BROKEN[case]
    problems = observability_check.check([query], _fixture_known())
    assert any(expected in p for p in problems), problems


def test_checker_accepts_the_real_emitted_metric() -> None:
    assert (
        observability_check.check([MetricQuery(NAMESPACE, "FilesProcessed", EMF, "w")], _fixture_known())
        == []
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (
            "SEARCH('{FSxN-S3AP-Patterns,UseCase,FunctionName} MetricName=\"FilesProcessed\"', 'Sum', 300)",
            "no code",
        ),
        ("SEARCH('MetricName=\"FilesProcessed\"', 'Sum', 300)", "schema"),
        (
            'SEARCH(\'{"FSxN-S3AP-Patterns",UseCase,FunctionName,Environment} MetricName="FilesProcessed" '
            "Stage=\"x\"', 'Sum', 300)",
            "not in its schema",
        ),
        ("SUM(m9)", "not an id"),
        ('SELECT SUM(ProcessingErrors) FROM SCHEMA("FSxN-S3AP-Patterns", UseCase)', "no code"),
        (
            'SELECT SUM(ProcessingErrors) FROM SCHEMA("FSxN-S3AP-Patterns", UseCase, FunctionName, '
            "Environment) WHERE Stage = 'x'",
            "not in the schema",
        ),
    ],
)
def test_checker_reports_expressions_without_data(expression: str, expected: str) -> None:
    widget = {"type": "metric", "properties": {"metrics": [{"expression": expression, "id": "e1"}]}}
    queries, problems = observability_check.widget_queries(widget, "w")
    problems += observability_check.check(queries, _fixture_known())
    assert any(expected in p for p in problems), problems


# -- deploying ---------------------------------------------------------------------------------------


def test_both_templates_deploy_on_moto(aws: None) -> None:
    region = "us-east-1"
    cfn = boto3.client("cloudformation", region_name=region)
    secret = boto3.client("secretsmanager", region_name=region).create_secret(
        Name="slack-webhook", SecretString="https://hooks.slack.example/services/T/B/x"
    )["ARN"]
    dashboard = cfn_template.load(DASHBOARD)
    dash_params = _shared_parameters(dashboard, EXISTING)
    alerts = cfn_template.load(ALERTS)
    alert_params = _shared_parameters(alerts, EXISTING) | {
        "NotificationEmail": "ops@example.com",
        "HttpsEndpoint": "https://events.example.com/integration",
        "SlackWebhookSecretArn": secret,
    }
    for stack, path, params in (("dash", DASHBOARD, dash_params), ("alerts", ALERTS, alert_params)):
        cfn.create_stack(
            StackName=stack,
            TemplateBody=path.read_text(encoding="utf-8"),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
        assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    deployed = boto3.client("cloudwatch", region_name=region).get_dashboard(
        DashboardName="FSxN-S3AP-Patterns"
    )
    expected = cfn_template.evaluate(dashboard, "dash", dash_params).properties("Dashboard")["DashboardBody"]
    assert json.loads(deployed["DashboardBody"]) == json.loads(expected)
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName="alerts")["Stacks"][0]["Outputs"]
    }
    kms = boto3.client("kms", region_name=region)
    assert kms.get_key_rotation_status(KeyId=outputs["AlertKeyArn"])["KeyRotationEnabled"] is True
    topic = boto3.client("sns", region_name=region).get_topic_attributes(TopicArn=outputs["AlertTopicArn"])
    assert topic["Attributes"]["KmsMasterKeyId"] in outputs["AlertKeyArn"]
    function = boto3.client("lambda", region_name=region).get_function(FunctionName="alerts-slack-notifier")
    assert function["Configuration"]["Environment"]["Variables"] == {"SLACK_WEBHOOK_SECRET_ARN": secret}


def test_alert_stack_without_optional_parts_deploys_on_moto(aws: None) -> None:
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    cfn.create_stack(StackName="alerts", TemplateBody=ALERTS.read_text(encoding="utf-8"))
    assert cfn.describe_stacks(StackName="alerts")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert boto3.client("lambda", region_name="us-east-1").list_functions()["Functions"] == []
