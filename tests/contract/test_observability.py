"""The tracing, metrics and alarm contract every use-case template keeps, today and as more land.

For each template the catalog lists for a use case:

* ``EnableXRayTracing`` defaults to "true"; every function's ``TracingConfig`` is Active exactly when
  it is on and every state machine's ``TracingConfiguration`` follows it; X-Ray write permissions
  exist only when it is on.
* Every function carries ``USE_CASE`` (its catalog name), ``ENVIRONMENT`` and ``ENABLE_XRAY``.
* ``EnableCloudWatchAlarms`` creates: ExecutionsFailed for each state machine (its own ARN), a Lambda
  error rate per function, ProcessingErrors with exactly the EMF dimensions, Kinesis iterator age and
  dead-letter growth when there is a stream, and a composite alarm; every metric alarm notifies the
  stack's own alert topic, or the ``AlertTopicArn`` passed in, and the composite either does too or is
  a roll-up without actions (the paging rule, ``tests/shared/test_paging_rule.py``, wants the
  roll-up). With alarms off, none exist.

A conforming fixture proves the checks pass, and broken copies of it prove each check can fail.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from scripts import catalog, cfn_template
from scripts.observability_check import alarms_of, maximal_parameters
from shared.observability import DIMENSION_NAMES, NAMESPACE

ROOT = catalog.ROOT
FIXTURE = ROOT / "tests" / "fixtures" / "obs-uc" / "template.yaml"
USE_CASE_TEMPLATES = [uc for uc in catalog.USE_CASES if uc.exists]
XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
GIVEN_TOPIC = "arn:aws:sns:us-east-1:123456789012:central-alerts"


def _evaluate(template: dict[str, Any], **overrides: str) -> cfn_template.Evaluation:
    params = maximal_parameters(template)
    params.update(overrides)
    return cfn_template.evaluate(template, "uc-stack", params)


def _of_type(evaluation: cfn_template.Evaluation, rtype: str) -> list[str]:
    return [k for k, r in evaluation.resources().items() if r.get("Type") == rtype]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement.get("Action", [])
    return {action} if isinstance(action, str) else set(action)


def _role_statements(evaluation: cfn_template.Evaluation) -> dict[str, list[dict[str, Any]]]:
    """Policy statements per role logical id: inline policies, IAM policies naming the role."""
    out: dict[str, list[dict[str, Any]]] = {}
    resources = evaluation.resources()
    for logical, resource in resources.items():
        if resource.get("Type") == "AWS::IAM::Role":
            props = evaluation.properties(logical)
            for policy in props.get("Policies", []):
                out.setdefault(logical, []).extend(policy["PolicyDocument"]["Statement"])
            for arn in props.get("ManagedPolicyArns", []):
                if str(arn).endswith("/AWSXRayDaemonWriteAccess"):
                    out.setdefault(logical, []).append({"Effect": "Allow", "Action": sorted(XRAY_ACTIONS)})
    for logical, resource in resources.items():
        if resource.get("Type") in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            raw_roles = (resource.get("Properties") or {}).get("Roles", [])
            props = evaluation.properties(logical)
            for role in raw_roles:
                name = role.get("Ref") if isinstance(role, dict) else None
                if name:
                    out.setdefault(name, []).extend(props["PolicyDocument"]["Statement"])
    return out


def _function_role(evaluation: cfn_template.Evaluation, function: str) -> str | None:
    role = (evaluation.template["Resources"][function].get("Properties") or {}).get("Role")
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        return str(role["Fn::GetAtt"][0])
    return None


def _tracing_problems(template: dict[str, Any], use_case: str) -> list[str]:
    problems: list[str] = []
    spec = (template.get("Parameters") or {}).get("EnableXRayTracing")
    if spec is None or str(spec.get("Default")) != "true":
        return ["EnableXRayTracing must exist with default 'true'"]
    env_spec = (template.get("Parameters") or {}).get("Environment")
    if env_spec is None or str(env_spec.get("Default")) != "prod":
        problems.append("Environment must exist with default 'prod'")
    for switch, mode, enabled in (("true", "Active", True), ("false", "PassThrough", False)):
        evaluation = _evaluate(template, EnableXRayTracing=switch)
        statements = _role_statements(evaluation)
        for fn in _of_type(evaluation, "AWS::Lambda::Function"):
            props = evaluation.properties(fn)
            if props.get("TracingConfig", {}).get("Mode") != mode:
                problems.append(f"{fn}: TracingConfig.Mode must be {mode} when EnableXRayTracing={switch}")
            env = props.get("Environment", {}).get("Variables", {})
            expected = {"USE_CASE": use_case, "ENVIRONMENT": evaluation.parameters["Environment"],
                        "ENABLE_XRAY": switch}  # fmt: skip
            for key, value in expected.items():
                if str(env.get(key)) != value:
                    problems.append(f"{fn}: env {key} must be {value!r}, got {env.get(key)!r}")
            role = _function_role(evaluation, fn)
            granted = set().union(*(_actions(s) for s in statements.get(role or "", [])))
            if enabled and not (granted >= XRAY_ACTIONS or "xray:Put*" in granted):
                problems.append(f"{fn}: its role {role} lacks X-Ray write permissions while tracing is on")
        for sm in _of_type(evaluation, "AWS::StepFunctions::StateMachine"):
            tracing = evaluation.properties(sm).get("TracingConfiguration", {}).get("Enabled")
            if str(tracing).lower() != str(enabled).lower():
                problems.append(f"{sm}: TracingConfiguration.Enabled must be {enabled} when tracing={switch}")
        if not enabled:
            for role, role_statements in statements.items():
                if any(a.startswith("xray:") for s in role_statements for a in _actions(s)):
                    problems.append(f"{role}: X-Ray permissions granted while EnableXRayTracing=false")
    return problems


def _metric_of(props: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    if "MetricName" in props:
        dims = {d["Name"]: str(d["Value"]) for d in props.get("Dimensions", [])}
        return [(props.get("Namespace", ""), props["MetricName"], dims)]
    out = []
    for item in props.get("Metrics", []):
        if "MetricStat" in item:
            metric = item["MetricStat"]["Metric"]
            dims = {d["Name"]: str(d["Value"]) for d in metric.get("Dimensions", [])}
            out.append((metric.get("Namespace", ""), metric["MetricName"], dims))
    return out


def _is_error_rate(props: dict[str, Any], function_name: str) -> bool:
    """Metric math over this function's Errors and Invocations (both ids used in one expression)."""
    ids: dict[str, str] = {}
    for item in props.get("Metrics", []):
        metric = item.get("MetricStat", {}).get("Metric", {})
        dims = {d["Name"]: str(d["Value"]) for d in metric.get("Dimensions", [])}
        if metric.get("Namespace") == "AWS/Lambda" and dims == {"FunctionName": function_name}:
            ids[metric.get("MetricName", "")] = str(item["Id"])
    if not {"Errors", "Invocations"} <= set(ids):
        return False
    return any(ids["Errors"] in e and ids["Invocations"] in e for e in _insights(props))


def _is_dead_letter_alarm(
    evaluation: cfn_template.Evaluation, found: list[tuple[str, str, dict[str, str]]]
) -> bool:
    """An alarm on a dead-letter store of this stack: its SQS queue, a DLQ table, or a DLQ EMF count."""
    queues = {evaluation.physical_name(q) for q in _of_type(evaluation, "AWS::SQS::Queue")}
    tables = {
        str(evaluation.value({"Ref": t}))
        for t in _of_type(evaluation, "AWS::DynamoDB::Table")
        if any(word in t.lower() for word in ("dlq", "deadletter"))
    }
    for namespace, name, dims in found:
        if namespace == "AWS/SQS" and dims.get("QueueName") in queues:
            return True
        if namespace == "AWS/DynamoDB" and dims.get("TableName") in tables:
            return True
        if namespace == NAMESPACE and any(word in name.lower() for word in ("dlq", "deadletter")):
            return True
    return False


def _insights(props: dict[str, Any]) -> list[str]:
    return [str(m["Expression"]) for m in props.get("Metrics", []) if "Expression" in m]


def _alarm_problems(template: dict[str, Any], use_case: str) -> list[str]:
    params = template.get("Parameters") or {}
    problems: list[str] = []
    for name, default in (("EnableCloudWatchAlarms", "true"), ("AlertTopicArn", "")):
        if name not in params or str(params[name].get("Default")) != default:
            problems.append(f"parameter {name} must exist with default {default!r}")
    if problems:
        return problems
    off = _evaluate(template, EnableCloudWatchAlarms="false")
    alarm_types = {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"}
    leftover = [k for k, r in off.resources().items() if r.get("Type") in alarm_types]
    if leftover:
        problems.append(f"alarms exist with EnableCloudWatchAlarms=false: {leftover}")
    for topic_param in ("", GIVEN_TOPIC):
        evaluation = _evaluate(template, EnableCloudWatchAlarms="true", AlertTopicArn=topic_param)
        problems += _alarm_set_problems(evaluation, use_case, topic_param)
    return problems


def _alarm_set_problems(evaluation: cfn_template.Evaluation, use_case: str, given_topic: str) -> list[str]:
    problems: list[str] = []
    alarms = alarms_of(evaluation)
    metrics = {logical: _metric_of(props) for logical, props in alarms.items()}
    functions = {
        fn: str(evaluation.value({"Ref": fn})) for fn in _of_type(evaluation, "AWS::Lambda::Function")
    }
    for sm in _of_type(evaluation, "AWS::StepFunctions::StateMachine"):
        arn = str(evaluation.value({"Ref": sm}))
        if not any(
            (ns, name, dims) == ("AWS/States", "ExecutionsFailed", {"StateMachineArn": arn})
            for found in metrics.values()
            for ns, name, dims in found
        ):
            problems.append(f"{sm}: no ExecutionsFailed alarm on StateMachineArn {arn}")
    for fn, name in functions.items():
        if not any(_is_error_rate(props, name) for props in alarms.values()):
            problems.append(f"{fn}: no Lambda error-rate alarm (math over Errors and Invocations of {name})")
    environment = evaluation.parameters["Environment"]
    emf_ok = False
    for logical, found in metrics.items():
        for ns, name, dims in found:
            if ns == NAMESPACE and name == "ProcessingErrors":
                if set(dims) != set(DIMENSION_NAMES):
                    problems.append(
                        f"{logical}: ProcessingErrors dimensions {sorted(dims)} are not the EMF set"
                    )
                elif (
                    dims["UseCase"] == use_case
                    and dims["Environment"] == environment
                    and (dims["FunctionName"] in functions.values())
                ):
                    emf_ok = True
                else:
                    problems.append(f"{logical}: ProcessingErrors dimension values {dims} match no function")
        for expression in _insights(alarms[logical]):
            if "ProcessingErrors" in expression and f'SCHEMA("{NAMESPACE}"' in expression.replace("'", '"'):
                emf_ok = emf_ok or f"'{use_case}'" in expression
    if not emf_ok:
        problems.append("no ProcessingErrors alarm with the exact EMF dimensions of this use case")
    streams = {str(evaluation.value({"Ref": s})) for s in _of_type(evaluation, "AWS::Kinesis::Stream")}
    for stream in streams:
        if not any(
            (ns, name) == ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds")
            and dims == {"StreamName": stream}
            for found in metrics.values()
            for ns, name, dims in found
        ):
            problems.append(f"stream {stream}: no GetRecords.IteratorAgeMilliseconds alarm")
    if streams and not any(_is_dead_letter_alarm(evaluation, found) for found in metrics.values()):
        problems.append("a stream exists but no dead-letter growth alarm does")
    if not _of_type(evaluation, "AWS::CloudWatch::CompositeAlarm"):
        problems.append("no AWS::CloudWatch::CompositeAlarm")
    problems += _action_problems(evaluation, given_topic)
    return problems


def _action_problems(evaluation: cfn_template.Evaluation, given_topic: str) -> list[str]:
    problems: list[str] = []
    topics = _of_type(evaluation, "AWS::SNS::Topic")
    if given_topic:
        expected = {given_topic}
    else:
        expected = {str(evaluation.value({"Ref": t})) for t in topics}
        if not expected:
            return ["alarms are on and AlertTopicArn is empty, but the stack creates no alert topic"]
        keys = {k: evaluation.properties(k) for k in _of_type(evaluation, "AWS::KMS::Key")}
        for topic in topics:
            key_ref = evaluation.template["Resources"][topic].get("Properties", {}).get("KmsMasterKeyId")
            key = key_ref.get("Ref") if isinstance(key_ref, dict) else None
            if key not in keys:
                problems.append(f"{topic}: the alert topic must be encrypted with a key of this stack")
                continue
            principals = [s.get("Principal", {}).get("Service") for s in keys[key]["KeyPolicy"]["Statement"]]
            if not any("cloudwatch.amazonaws.com" in (p if isinstance(p, list) else [p]) for p in principals):
                problems.append(f"{key}: the key policy must let cloudwatch.amazonaws.com use the key")
    for logical, resource in evaluation.resources().items():
        if resource.get("Type") not in {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"}:
            continue
        actions = [str(a) for a in evaluation.properties(logical).get("AlarmActions", [])]
        if resource["Type"] == "AWS::CloudWatch::CompositeAlarm" and not actions:
            continue  # a roll-up: the alarms it reads page (tests/shared/test_paging_rule.py)
        if not actions or set(actions) - expected:
            problems.append(
                f"{logical}: AlarmActions {actions} must all be the alert topic {sorted(expected)}"
            )
    return problems


def contract_problems(template: dict[str, Any], use_case: str) -> list[str]:
    return _tracing_problems(template, use_case) + _alarm_problems(template, use_case)


# -- the templates of the catalog ------------------------------------------------------------------


@pytest.mark.parametrize("uc", USE_CASE_TEMPLATES, ids=[uc.name for uc in USE_CASE_TEMPLATES])
def test_use_case_template_keeps_the_observability_contract(uc: catalog.UseCase) -> None:
    assert contract_problems(cfn_template.load(uc.template), uc.name) == []


# -- the checks themselves -------------------------------------------------------------------------


def _fixture() -> dict[str, Any]:
    return cfn_template.load(FIXTURE)


def test_conforming_fixture_passes() -> None:
    assert contract_problems(_fixture(), "obs-uc") == []


def test_wrong_use_case_name_is_caught() -> None:
    assert any("USE_CASE" in p for p in contract_problems(_fixture(), "another-uc"))


def _resources(t: dict[str, Any]) -> dict[str, Any]:
    resources: dict[str, Any] = t["Resources"]
    return resources


def _always_active(t: dict[str, Any]) -> None:
    _resources(t)["ProcessFunction"]["Properties"]["TracingConfig"] = {"Mode": "Active"}


def _xray_default_false(t: dict[str, Any]) -> None:
    t["Parameters"]["EnableXRayTracing"]["Default"] = "false"


def _unconditional_xray_policy(t: dict[str, Any]) -> None:
    del _resources(t)["ProcessXRayPolicy"]["Condition"]


def _no_xray_policy(t: dict[str, Any]) -> None:
    del _resources(t)["ProcessXRayPolicy"]


def _state_machine_untraced(t: dict[str, Any]) -> None:
    del _resources(t)["Pipeline"]["Properties"]["TracingConfiguration"]


def _missing_environment_variable(t: dict[str, Any]) -> None:
    del _resources(t)["DiscoveryFunction"]["Properties"]["Environment"]["Variables"]["ENVIRONMENT"]


def _failed_alarm_on_other_machine(t: dict[str, Any]) -> None:
    _resources(t)["PipelineFailedAlarm"]["Properties"]["Dimensions"][0]["Value"] = "arn:aws:states:::other"


def _no_error_rate(t: dict[str, Any]) -> None:
    del _resources(t)["ProcessErrorRateAlarm"]


def _wrong_emf_dimensions(t: dict[str, Any]) -> None:
    _resources(t)["ProcessingErrorsAlarm"]["Properties"]["Dimensions"].pop(0)


def _no_iterator_age(t: dict[str, Any]) -> None:
    del _resources(t)["IteratorAgeAlarm"]


def _no_dlq_alarm(t: dict[str, Any]) -> None:
    del _resources(t)["DeadLetterGrowthAlarm"]


def _no_composite(t: dict[str, Any]) -> None:
    del _resources(t)["PipelineHealthAlarm"]


def _action_elsewhere(t: dict[str, Any]) -> None:
    _resources(t)["ProcessErrorRateAlarm"]["Properties"]["AlarmActions"] = ["arn:aws:sns:us-east-1:1:x"]


def _unconditional_alarm(t: dict[str, Any]) -> None:
    del _resources(t)["PipelineFailedAlarm"]["Condition"]


def _topic_without_key(t: dict[str, Any]) -> None:
    del _resources(t)["AlertTopic"]["Properties"]["KmsMasterKeyId"]


BREAKAGES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "tracing always active": (_always_active, "TracingConfig.Mode"),
    "tracing default false": (_xray_default_false, "EnableXRayTracing"),
    "x-ray policy without condition": (_unconditional_xray_policy, "X-Ray permissions granted"),
    "x-ray policy missing": (_no_xray_policy, "lacks X-Ray"),
    "state machine untraced": (_state_machine_untraced, "TracingConfiguration"),
    "ENVIRONMENT missing": (_missing_environment_variable, "env ENVIRONMENT"),
    "ExecutionsFailed on another machine": (_failed_alarm_on_other_machine, "no ExecutionsFailed"),
    "no error-rate alarm": (_no_error_rate, "error-rate"),
    "ProcessingErrors with 2 dimensions": (_wrong_emf_dimensions, "not the EMF set"),
    "no iterator-age alarm": (_no_iterator_age, "IteratorAgeMilliseconds"),
    "no dead-letter alarm": (_no_dlq_alarm, "dead-letter"),
    "no composite alarm": (_no_composite, "CompositeAlarm"),
    "alarm notifies another topic": (_action_elsewhere, "AlarmActions"),
    "alarm exists with alarms off": (_unconditional_alarm, "EnableCloudWatchAlarms=false"),
    "topic not encrypted": (_topic_without_key, "encrypted"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES), ids=list(BREAKAGES))
def test_each_check_catches_its_breakage(breakage: str) -> None:
    mutate, expected = BREAKAGES[breakage]
    template = copy.deepcopy(_fixture())
    mutate(template)
    problems = contract_problems(template, "obs-uc")
    assert any(expected in p for p in problems), problems
