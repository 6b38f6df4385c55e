"""Prove that every dashboard widget and alarm queries a metric that something really emits.

A metric query resolves when its namespace, metric name and exact dimension set are in the
registry (:mod:`scripts.metrics_registry`), and every dimension value names something a deployed
stack creates: a function, state machine, stream, queue or table of an evaluated template, a use
case of the catalog, the environment the stacks run in. Any miss is a widget or alarm that would
show no data, and is reported as a problem.

Queries come in four forms, all understood here: a plain metric (dashboard metric arrays, alarm
``Namespace``/``MetricName``/``Dimensions``, alarm ``MetricStat``), a metric-math expression over
ids, a ``SEARCH('{Namespace,Dim,...} MetricName="..."', ...)`` expression, and a Metrics Insights
``SELECT FUNC(Metric) FROM SCHEMA("Namespace", Dim, ...) WHERE Dim = '...'`` query.

:func:`paging_alarms` answers the paging question across stacks: for one datapoint, which alarms
(metric and composite) go to ALARM with an action, so a test can hold "one failed file pages once".
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scripts import catalog, cfn_template, metrics_registry
from shared.observability import NAMESPACE

logger = logging.getLogger(__name__)


@dataclass
class KnownNames:
    """Names that deployed stacks create, by the dimension that carries them."""

    values: dict[str, set[str]] = field(default_factory=dict)
    # function name -> the metrics its code emits in the project namespace
    function_metrics: dict[str, set[str]] = field(default_factory=dict)
    use_cases: list[catalog.UseCase] = field(default_factory=list)

    def add(self, dimension: str, value: str) -> None:
        self.values.setdefault(dimension, set()).add(value)


# Dimensions whose values must name something known; the others (Operation, Resource, Host) are free.
CHECKED_DIMENSIONS = ("FunctionName", "StateMachineArn", "StreamName", "QueueName", "TableName", "UseCase",
                      "Environment")  # fmt: skip

_TYPE_DIMENSION = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::StepFunctions::StateMachine": "StateMachineArn",
    "AWS::Kinesis::Stream": "StreamName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::DynamoDB::Table": "TableName",
}


def learn(known: KnownNames, uc: catalog.UseCase, evaluation: cfn_template.Evaluation) -> None:
    """Add what one evaluated use-case template creates to ``known``."""
    if uc not in known.use_cases:
        known.use_cases.append(uc)
    known.add("UseCase", uc.name)
    known.add("Environment", evaluation.parameters.get("Environment", "prod"))
    for logical, resource in evaluation.resources().items():
        dimension = _TYPE_DIMENSION.get(resource.get("Type", ""))
        if dimension is None:
            continue
        if dimension == "StateMachineArn":
            value = str(evaluation.value({"Ref": logical}))
        elif dimension == "QueueName":
            value = evaluation.physical_name(logical)
        else:
            value = str(evaluation.value({"Ref": logical}))
        known.add(dimension, value)
        if dimension == "FunctionName":
            handler = (resource.get("Properties") or {}).get("Handler", "")
            match = re.match(r"^functions/([A-Za-z0-9_]+)/handler\.handler$", str(handler))
            folder = match.group(1) if match else ""
            known.function_metrics[value] = set(metrics_registry.metrics_of_function(uc, folder))


@dataclass(frozen=True)
class MetricQuery:
    """One metric a widget or alarm reads: dimension values are None when only names are known."""

    namespace: str
    name: str
    dimensions: Mapping[str, str | None]
    where: str


SEARCH_PATTERN = re.compile(
    r"SEARCH\(\s*'(?P<query>[^']*)'\s*,\s*'(?P<stat>[^']*)'\s*,\s*(?P<period>\d+)\s*\)"
)
_SCHEMA_BRACES = re.compile(r"\{(?P<schema>[^}]*)\}")
_PROPERTY = re.compile(r'(?P<key>[A-Za-z][A-Za-z0-9_.]*)\s*=\s*"(?P<value>[^"]*)"')
_INSIGHTS = re.compile(
    r"^\s*SELECT\s+(?P<fn>AVG|SUM|MIN|MAX|COUNT)\((?P<metric>[^)]+)\)\s+FROM\s+SCHEMA\((?P<schema>[^)]*)\)"
    r"(?:\s+WHERE\s+(?P<where>.*?))?(?:\s+GROUP BY.*)?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_WHERE = re.compile(r"(?P<key>[A-Za-z][A-Za-z0-9_]*)\s*=\s*'(?P<value>[^']*)'")
_IDENTIFIER = re.compile(r"\b[a-z][A-Za-z0-9_]*\b")


def _unquote(text: str) -> str:
    text = text.strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def parse_search(expression: str, where: str) -> tuple[list[MetricQuery], list[str]]:
    """The metrics a SEARCH expression can match (exact schema), and its problems."""
    queries: list[MetricQuery] = []
    problems: list[str] = []
    matches = list(SEARCH_PATTERN.finditer(expression))
    if not matches:
        return [], [f"{where}: SEARCH expression not understood: {expression}"]
    for match in matches:
        query = match.group("query")
        schema = _SCHEMA_BRACES.search(query)
        if schema is None:
            problems.append(f"{where}: SEARCH without a {{namespace,dimensions}} schema matches too much")
            continue
        parts = [_unquote(p) for p in schema.group("schema").split(",")]
        properties = {m.group("key"): m.group("value") for m in _PROPERTY.finditer(query)}
        metric = properties.pop("MetricName", None)
        if metric is None:
            problems.append(f"{where}: SEARCH without MetricName")
            continue
        dims: dict[str, str | None] = dict.fromkeys(parts[1:])
        for key, value in properties.items():
            if key not in dims:
                problems.append(f"{where}: SEARCH filters on {key}, which is not in its schema")
            dims[key] = value
        queries.append(MetricQuery(parts[0], metric, dims, where))
    return queries, problems


def parse_insights(sql: str, where: str) -> tuple[list[MetricQuery], list[str]]:
    match = _INSIGHTS.match(sql)
    if match is None:
        return [], [f"{where}: Metrics Insights query not understood: {sql}"]
    parts = [_unquote(p) for p in match.group("schema").split(",")]
    dims: dict[str, str | None] = dict.fromkeys(parts[1:])
    for condition in _WHERE.finditer(match.group("where") or ""):
        if condition.group("key") not in dims:
            return [], [f"{where}: WHERE on {condition.group('key')}, which is not in the schema"]
        dims[condition.group("key")] = condition.group("value")
    return [MetricQuery(parts[0], match.group("metric").strip(), dims, where)], []


def _expression(expression: str, ids: set[str], where: str) -> tuple[list[MetricQuery], list[str]]:
    if expression.lstrip().upper().startswith("SELECT"):
        return parse_insights(expression, where)
    if "SEARCH(" in expression:
        queries, problems = parse_search(expression, where)
        outside = SEARCH_PATTERN.sub("", expression)
    else:
        queries, problems = [], []
        outside = expression
    for token in _IDENTIFIER.findall(outside):
        if token not in ids:
            problems.append(f"{where}: expression refers to {token!r}, not an id of this query")
    return queries, problems


def widget_queries(widget: Mapping[str, Any], where: str) -> tuple[list[MetricQuery], list[str]]:
    """The metrics one dashboard widget reads."""
    if widget.get("type") != "metric":
        return [], []
    metrics = widget.get("properties", {}).get("metrics") or []
    if not metrics:
        return [], [f"{where}: a metric widget without metrics"]
    ids = {m.get("id") for m in metrics if isinstance(m, dict)}
    ids |= {m[-1].get("id") for m in metrics if isinstance(m, list) and m and isinstance(m[-1], dict)}
    ids.discard(None)
    queries: list[MetricQuery] = []
    problems: list[str] = []
    for line in metrics:
        if isinstance(line, dict):
            found, issues = _expression(str(line.get("expression", "")), {str(i) for i in ids}, where)
            queries += found
            problems += issues
            continue
        items = list(line[:-1] if line and isinstance(line[-1], dict) else line)
        if len(items) < 2 or len(items) % 2 or "." in items[:2]:
            problems.append(f"{where}: metric line not understood (shorthand is not allowed): {line}")
            continue
        dims = {str(items[i]): str(items[i + 1]) for i in range(2, len(items), 2)}
        queries.append(MetricQuery(str(items[0]), str(items[1]), dims, where))
    return queries, problems


def dashboard_queries(body: str, where: str) -> tuple[list[MetricQuery], list[str]]:
    """Every metric of a dashboard body (JSON text)."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError as error:
        return [], [f"{where}: dashboard body is not JSON ({error})"]
    queries: list[MetricQuery] = []
    problems: list[str] = []
    for index, widget in enumerate(document.get("widgets", [])):
        title = widget.get("properties", {}).get("title") or widget.get("type")
        found, issues = widget_queries(widget, f"{where} widget {index} ({title})")
        queries += found
        problems += issues
    return queries, problems


def alarm_queries(properties: Mapping[str, Any], where: str) -> tuple[list[MetricQuery], list[str]]:
    """Every metric an evaluated ``AWS::CloudWatch::Alarm`` reads."""
    if "MetricName" in properties:
        dims = {d["Name"]: str(d["Value"]) for d in properties.get("Dimensions", [])}
        return [MetricQuery(properties.get("Namespace", ""), properties["MetricName"], dims, where)], []
    metrics = properties.get("Metrics") or []
    if not metrics:
        return [], [f"{where}: an alarm with neither MetricName nor Metrics"]
    ids = {str(m.get("Id")) for m in metrics}
    queries: list[MetricQuery] = []
    problems: list[str] = []
    for item in metrics:
        if "MetricStat" in item:
            metric = item["MetricStat"]["Metric"]
            dims = {d["Name"]: str(d["Value"]) for d in metric.get("Dimensions", [])}
            queries.append(MetricQuery(metric.get("Namespace", ""), metric["MetricName"], dims, where))
        elif "Expression" in item:
            found, issues = _expression(str(item["Expression"]), ids, where)
            queries += found
            problems += issues
    return queries, problems


def check(queries: Iterable[MetricQuery], known: KnownNames) -> list[str]:
    """Problems that would leave a query without data."""
    problems: list[str] = []
    for query in queries:
        use_cases = known.use_cases or list(catalog.USE_CASES)
        spec = metrics_registry.resolve(query.namespace, query.name, query.dimensions, use_cases)
        label = f"{query.where}: {query.namespace} {query.name} {sorted(query.dimensions)}"
        if spec is None:
            problems.append(f"{label}: no code or AWS service emits this metric with these dimensions")
            continue
        for dimension, value in query.dimensions.items():
            if value is None:
                continue
            if "*" in value:
                problems.append(f"{label}: dimension {dimension} has a wildcard value {value!r}")
            elif dimension in CHECKED_DIMENSIONS and value not in known.values.get(dimension, set()):
                problems.append(f"{label}: {dimension}={value!r} names nothing a stack creates")
        function = query.dimensions.get("FunctionName")
        if query.namespace == NAMESPACE and function is not None:
            emitted = known.function_metrics.get(function, set())
            if query.name not in emitted:
                problems.append(f"{label}: function {function} does not emit {query.name}")
        elif (
            query.namespace == NAMESPACE
            and known.function_metrics
            and not any(query.name in emitted for emitted in known.function_metrics.values())
        ):
            # A search over every function: some function of the known stacks must emit the metric.
            problems.append(f"{label}: the search matches no function of the known stacks")
    return problems


def alarms_of(evaluation: cfn_template.Evaluation) -> dict[str, dict[str, Any]]:
    """Evaluated properties of every metric alarm the evaluation creates."""
    return {
        logical: evaluation.properties(logical)
        for logical, resource in evaluation.resources().items()
        if resource.get("Type") == "AWS::CloudWatch::Alarm"
    }


def maximal_parameters(template: Mapping[str, Any]) -> dict[str, str]:
    """Every ``"true"/"false"`` switch turned on: the configuration that creates the most resources."""
    out: dict[str, str] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        allowed = [str(v) for v in spec.get("AllowedValues", [])]
        if sorted(allowed) == ["false", "true"]:
            out[name] = "true"
    return out


# -- which alarms page for one datapoint -----------------------------------------------------------


@dataclass(frozen=True)
class Datapoint:
    """One value of one metric in one evaluation period."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    value: float


def _compare(operator: str, value: float, threshold: float) -> bool:
    """An alarm's ComparisonOperator applied to one value."""
    results = {
        "GreaterThanThreshold": value > threshold,
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "LessThanThreshold": value < threshold,
        "LessThanOrEqualToThreshold": value <= threshold,
    }
    if operator not in results:
        raise cfn_template.TemplateError(f"comparison {operator!r} cannot be judged from one value")
    return results[operator]


def _reads(query: MetricQuery, point: Datapoint) -> bool:
    """True when ``query`` (exact dimensions, or a search/insights schema with filters) sees ``point``."""
    if (query.namespace, query.name) != (point.namespace, point.name):
        return False
    if set(query.dimensions) != set(point.dimensions):
        return False
    return all(value is None or point.dimensions[key] == value for key, value in query.dimensions.items())


def breaches(properties: Mapping[str, Any], point: Datapoint) -> bool:
    """Whether an evaluated metric alarm goes to ALARM when ``point`` is the only data it sees.

    A plain metric alarm and a one-query Metrics Insights alarm compare the value with the
    threshold (a single datapoint has the same SUM, AVG, MIN and MAX). A metric-math alarm that
    reads the point cannot be judged from one value and raises, so no alarm is silently skipped.
    """
    queries, problems = alarm_queries(properties, "alarm")
    if problems:
        raise cfn_template.TemplateError("; ".join(problems))
    if not any(_reads(query, point) for query in queries):
        return False
    metrics = properties.get("Metrics") or []
    if metrics and not (
        len(metrics) == 1 and str(metrics[0].get("Expression", "")).lstrip().startswith("SELECT")
    ):
        raise cfn_template.TemplateError(f"{properties.get('AlarmName')}: metric math over {point.name}")
    return _compare(str(properties["ComparisonOperator"]), point.value, float(properties["Threshold"]))


_RULE_TOKEN = re.compile(
    r'\s*(?:(?P<fn>ALARM|OK|INSUFFICIENT_DATA)\("(?P<name>[^"]+)"\)|(?P<op>AND|OR|NOT|TRUE|FALSE|\(|\)))'
)


def rule_holds(rule: str, in_alarm: set[str]) -> bool:
    """Evaluate a composite AlarmRule; an alarm not in ``in_alarm`` is OK."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(rule.rstrip()):
        match = _RULE_TOKEN.match(rule, position)
        if match is None:
            raise cfn_template.TemplateError(f"alarm rule not understood at {position}: {rule}")
        if match.group("fn"):
            state = match.group("name") in in_alarm
            tokens.append(
                (
                    "value",
                    str(
                        state
                        if match.group("fn") == "ALARM"
                        else not state
                        if match.group("fn") == "OK"
                        else False
                    ),
                )
            )
        else:
            tokens.append(("op", str(match.group("op"))))
        position = match.end()

    def expression(index: int) -> tuple[bool, int]:
        value, index = term(index)
        while index < len(tokens) and tokens[index] == ("op", "OR"):
            right, index = term(index + 1)
            value = value or right
        return value, index

    def term(index: int) -> tuple[bool, int]:
        value, index = factor(index)
        while index < len(tokens) and tokens[index] == ("op", "AND"):
            right, index = factor(index + 1)
            value = value and right
        return value, index

    def factor(index: int) -> tuple[bool, int]:
        kind, text = tokens[index]
        if (kind, text) == ("op", "NOT"):
            value, index = factor(index + 1)
            return not value, index
        if (kind, text) == ("op", "("):
            value, index = expression(index + 1)
            if tokens[index] != ("op", ")"):
                raise cfn_template.TemplateError(f"unbalanced alarm rule: {rule}")
            return value, index + 1
        if kind == "value" or text in {"TRUE", "FALSE"}:
            return text in {"True", "TRUE"}, index + 1
        raise cfn_template.TemplateError(f"alarm rule not understood: {rule}")

    value, end = expression(0)
    if end != len(tokens):
        raise cfn_template.TemplateError(f"alarm rule not understood: {rule}")
    return value


def paging_alarms(evaluations: Iterable[cfn_template.Evaluation], point: Datapoint) -> list[str]:
    """Names of the alarms, across stacks, that notify someone when ``point`` arrives.

    Metric alarms are judged with :func:`breaches`, composite alarms from their rules (repeated
    until no state changes, since a composite may read another). An alarm pages when it is in
    ALARM, its actions are enabled and it has an alarm action.
    """
    metric: dict[str, Mapping[str, Any]] = {}
    composite: dict[str, Mapping[str, Any]] = {}
    for evaluation in evaluations:
        for logical, resource in evaluation.resources().items():
            kind = resource.get("Type")
            if kind in {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"}:
                alarm = evaluation.properties(logical)
                name = str(alarm.get("AlarmName") or evaluation.physical_name(logical))
                (metric if kind == "AWS::CloudWatch::Alarm" else composite)[name] = alarm
    in_alarm = {name for name, props in metric.items() if breaches(props, point)}
    changed = True
    while changed:
        changed = False
        for name, props in composite.items():
            if name not in in_alarm and rule_holds(str(props["AlarmRule"]), in_alarm):
                in_alarm.add(name)
                changed = True
    every = metric | composite
    return sorted(
        name
        for name in in_alarm
        if every[name].get("ActionsEnabled", True) not in (False, "false") and every[name].get("AlarmActions")
    )
