"""Cross-check: every dashboard widget and every alarm in every template reads a metric that exists.

Each metric query (plain metric, metric math, SEARCH, Metrics Insights) is resolved against the
registry of what the code emits (EMF) and what AWS documents (AWS/States, AWS/Lambda, AWS/Kinesis,
...), and each dimension value must name something a use-case stack creates; a search over every
function must match a metric some function emits. The shared stacks find use cases by search, so
neither has a parameter per use case. They must be exactly what the generator produces, within
CloudWatch's limits for searches and Metrics Insights alarms, lint clean, and deployable on moto.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.api import ManualArgs, lint_file

from scripts import catalog, cfn_template, metrics_registry, observability_check, observability_stacks
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
EXISTING = [uc for uc in catalog.USE_CASES if uc.number and uc.exists]
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


def _dashboard_problems(
    template: dict[str, Any], known: KnownNames, environment: str = "prod"
) -> tuple[list[MetricQuery], list[str]]:
    evaluation = cfn_template.evaluate(template, "dash", {"Environment": environment})
    body = evaluation.properties("Dashboard")["DashboardBody"]
    queries, problems = observability_check.dashboard_queries(body, "dashboard")
    return queries, problems + observability_check.check(queries, known)


def _alarm_problems(evaluation: cfn_template.Evaluation, known: KnownNames, where: str) -> list[str]:
    problems: list[str] = []
    for logical, props in observability_check.alarms_of(evaluation).items():
        queries, issues = observability_check.alarm_queries(props, f"{where} {logical}")
        problems += issues + observability_check.check(queries, known)
    return problems


def _body(template: dict[str, Any]) -> dict[str, Any]:
    evaluation = cfn_template.evaluate(template, "dash", {"Environment": "prod"})
    body: dict[str, Any] = json.loads(evaluation.properties("Dashboard")["DashboardBody"])
    return body


# -- the committed templates -----------------------------------------------------------------------


def test_committed_templates_are_what_the_generator_writes() -> None:
    """Regenerate with ``python -m scripts.observability_stacks`` when the registry changes."""
    for path, text in observability_stacks.generated().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale"


def test_no_parameter_names_a_use_case_or_a_stack() -> None:
    assert set(cfn_template.load(DASHBOARD)["Parameters"]) == {"DashboardName", "Environment"}
    assert set(cfn_template.load(ALERTS)["Parameters"]) == {
        "Environment",
        "NotificationEmail",
        "HttpsEndpoint",
        "SlackWebhookSecretArn",
        "ProcessingErrorThreshold",
        "DurationBaselineMs",
    }
    assert "Conditions" not in cfn_template.load(DASHBOARD)


def test_another_use_case_changes_no_parameter() -> None:
    """A use case added to the catalog is found by the searches: the parameters stay the same."""
    before = observability_stacks.dashboard_template(EXISTING)
    after = observability_stacks.dashboard_template([*EXISTING, FIXTURE_UC])
    assert after["Parameters"] == before["Parameters"]
    assert "Conditions" not in after
    # Its own metric gets a widget only if no use case emitted it before; the rest is unchanged.
    assert observability_stacks.alert_template()["Parameters"] == cfn_template.load(ALERTS)["Parameters"]


def test_every_committed_dashboard_query_resolves() -> None:
    queries, problems = _dashboard_problems(cfn_template.load(DASHBOARD), _known(EXISTING))
    assert problems == []
    assert queries and all(q.dimensions.get("Environment") == "prod" for q in queries)


def test_every_metric_a_function_emits_has_a_per_function_widget() -> None:
    body = _body(cfn_template.load(DASHBOARD))
    searched = {
        q.name
        for index, widget in enumerate(body["widgets"])
        for q in observability_check.widget_queries(widget, str(index))[0]
    }
    emitted = {spec.name for spec in metrics_registry.emf_metrics(EXISTING)}
    assert searched == emitted


def test_searches_stay_within_cloudwatch_limits() -> None:
    """A SEARCH returns at most 500 time series; ours return one per function of the catalog."""
    functions = sum(len(metrics_registry.function_folders(uc)) for uc in catalog.USE_CASES)
    assert functions <= 500
    body = _body(cfn_template.load(DASHBOARD))
    assert len(body["widgets"]) <= 500
    for widget in body["widgets"]:
        for line in widget.get("properties", {}).get("metrics", []):
            assert isinstance(line, dict), "plain metric lines would have to name a stack"


def test_a_search_that_matches_nothing_is_reported() -> None:
    template = copy.deepcopy(cfn_template.load(DASHBOARD))
    known = _known(EXISTING)
    wrong_env = _dashboard_problems(template, known, environment="staging")[1]
    assert any("Environment='staging' names nothing" in p for p in wrong_env)
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    body["Fn::Sub"] = body["Fn::Sub"].replace('MetricName=\\"ColdStart\\"', 'MetricName=\\"ColdStarts\\"')
    assert any("no code or AWS service emits" in p for p in _dashboard_problems(template, known)[1])
    # A function-specific metric that only the fixture emits matches no function of the catalog.
    fixture_only = observability_stacks.dashboard_template([FIXTURE_UC])
    # Every use case with a stream consumer emits it: leave them all out.
    non_streaming = [uc for uc in EXISTING if not (uc.functions_dir / "stream_consumer").is_dir()]
    problems = _dashboard_problems(fixture_only, _known(non_streaming))[1]
    assert any("RecordsDeadLettered" in p and "no code or AWS service emits" in p for p in problems)
    # Registered for the catalog, but no function of the known stacks emits it.
    only_ad = _known(non_streaming)
    only_ad.use_cases = list(EXISTING)
    problems = _dashboard_problems(fixture_only, only_ad)[1]
    assert any("RecordsDeadLettered" in p and "matches no function" in p for p in problems)


def test_every_alarm_of_the_alert_stack_resolves() -> None:
    evaluation = cfn_template.evaluate(cfn_template.load(ALERTS), "alerts", {})
    assert observability_check.alarms_of(evaluation), "the alert stack creates alarms"
    assert _alarm_problems(evaluation, _known(EXISTING), "alert-automation") == []


def test_metrics_insights_alarms_respect_cloudwatch_limits() -> None:
    """One query per alarm, at most three hours evaluated, and far below 200 such alarms a Region."""
    evaluation = cfn_template.evaluate(cfn_template.load(ALERTS), "alerts", {})
    insights = 0
    for props in observability_check.alarms_of(evaluation).values():
        metrics = props.get("Metrics") or []
        if any(str(m.get("Expression", "")).startswith("SELECT") for m in metrics):
            insights += 1
            assert len(metrics) == 1
            assert metrics[0]["Period"] * props["EvaluationPeriods"] <= 3 * 3600
            assert "GROUP BY" not in metrics[0]["Expression"], "a composite reads one time series"
    assert 0 < insights <= 10


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
    evaluation = cfn_template.evaluate(template, "alerts", {})
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
    # The duration signal compares milliseconds with a millisecond baseline.
    duration = evaluation.properties("ProcessingDurationAlarm")
    assert template["Resources"]["ProcessingDurationAlarm"]["Properties"]["Threshold"] == {
        "Ref": "DurationBaselineMs"
    }
    assert "AVG(ProcessingDuration)" in duration["Metrics"][0]["Expression"]
    from scripts.metrics_registry import resolve

    spec = resolve(NAMESPACE, "ProcessingDuration", ["UseCase", "FunctionName", "Environment"])
    assert spec is not None and spec.unit == "Milliseconds"
    # The metric alarms are signals without actions; the composite alone notifies the topic.
    topic = [evaluation.value({"Ref": "AlertTopic"})]
    for logical, resource in evaluation.resources().items():
        props = evaluation.properties(logical) if "Alarm" in resource["Type"] else {}
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            assert props["ActionsEnabled"] is False and "AlarmActions" not in props, logical
        elif resource["Type"] == "AWS::CloudWatch::CompositeAlarm":
            assert props["AlarmActions"] == topic and props["OKActions"] == topic


def test_composite_rule_names_only_alarms_the_stack_creates() -> None:
    evaluation = cfn_template.evaluate(cfn_template.load(ALERTS), "alerts", {})
    rule = evaluation.properties("CorrelatedFailuresAlarm")["AlarmRule"]
    created = {
        evaluation.physical_name(logical)
        for logical, r in evaluation.resources().items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    referenced = set(re.findall(r'ALARM\("([^"]+)"\)', rule))
    assert referenced == created, rule
    assert observability_check.rule_holds(rule, created)
    assert not observability_check.rule_holds(rule, {"alerts-processing-errors"})


def test_slack_notifier_code_is_the_source_file() -> None:
    template = cfn_template.load(ALERTS)
    code = template["Resources"]["SlackNotifier"]["Properties"]["Code"]["ZipFile"]
    assert code == observability_stacks.SLACK_HANDLER_PATH.read_text(encoding="utf-8")
    env = template["Resources"]["SlackNotifier"]["Properties"]["Environment"]["Variables"]
    assert env == {"SLACK_WEBHOOK_SECRET_ARN": {"Ref": "SlackWebhookSecretArn"}}


# -- the generator on a fixture with a function-specific metric ------------------------------------


def test_fixture_metric_gets_a_widget_that_resolves() -> None:
    dashboard = observability_stacks.dashboard_template([FIXTURE_UC])
    queries, problems = _dashboard_problems(dashboard, _known([FIXTURE_UC]))
    assert problems == []
    assert any(q.name == "RecordsDeadLettered" for q in queries)


def test_generated_templates_are_cfn_lint_clean(tmp_path: Path) -> None:
    templates = (observability_stacks.dashboard_template([FIXTURE_UC]), observability_stacks.alert_template())
    for name, template in zip(("dashboard.yaml", "alerts.yaml"), templates, strict=True):
        path = tmp_path / name
        path.write_text(observability_stacks.render(template), encoding="utf-8")
        matches = lint_file(
            path, config=ManualArgs(append_rules=["cfn_lint_serverless.rules"], regions=["us-east-1"])
        )
        assert [f"{m.rule.id} {m.message}" for m in matches] == []


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
    "metric nobody emits": (MetricQuery(NAMESPACE, "FilesIgnored", EMF, "w"), "no code or AWS service emits"),
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
    dash_params = {"Environment": "prod"}
    alert_params = {
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
    dashboard = cfn_template.load(DASHBOARD)
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
