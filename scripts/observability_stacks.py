"""Generate the two shared observability templates from the use-case templates that exist.

``shared/cfn/observability-dashboard.yaml`` and ``shared/cfn/alert-automation.yaml`` name functions,
state machines and streams of use-case stacks. Written by hand, those names drift from the use-case
templates and the widgets go blank without anyone noticing. So they are generated: for every use
case that has a template, this module reads the names the template gives its resources
(``!Sub "${AWS::StackName}-<suffix>"``) and the conditions that create them, and mirrors both into
the shared template behind a ``<UseCase>StackName`` parameter. A use case without a template gets no
section and no parameter. The committed files must equal the generated ones (a test checks it):

    python -m scripts.observability_stacks          # rewrite both templates and dashboard.png
    python -m scripts.observability_stacks --check  # exit 1 when they are stale
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts import catalog, cfn_template, metrics_registry
from shared.observability import HANDLER_METRICS, NAMESPACE

logger = logging.getLogger(__name__)

CFN_DIR = catalog.ROOT / "shared" / "cfn"
DASHBOARD_PATH = CFN_DIR / "observability-dashboard.yaml"
ALERTS_PATH = CFN_DIR / "alert-automation.yaml"
SLACK_HANDLER_PATH = CFN_DIR / "functions" / "slack_notifier" / "handler.py"
PERIOD = 300
PERCENTILES = ("p50", "p90", "p99")
ZIPFILE_LIMIT = 4096
ITERATOR_AGE = "GetRecords.IteratorAgeMilliseconds"
SLACK_LOG_ARN = (
    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    "/aws/lambda/${AWS::StackName}-slack-notifier:*"
)
_REDRIVE = {"deadLetterTargetArn": {"Fn::GetAtt": ["AlertDeliveryDeadLetterQueue", "Arn"]}}
LOG_ARNS = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*"
ALARM_ARNS = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
ENVIRONMENT_HELP = "The Environment parameter the use-case stacks were deployed with (a metric dimension)."

_STACK_SUFFIX = re.compile(r"^\$\{AWS::StackName\}-([A-Za-z0-9-]+)$")
_HANDLER = re.compile(r"^functions/(?P<fn>[A-Za-z0-9_]+)/handler\.handler$")


# -- what a use-case template creates --------------------------------------------------------------


@dataclass(frozen=True)
class Named:
    """A resource whose physical name is ``<stack name>-<suffix>``."""

    logical: str
    suffix: str
    condition: str | None
    folder: str = ""


@dataclass
class Inventory:
    """The observable resources of one use-case template."""

    uc: catalog.UseCase
    template: dict[str, Any]
    functions: list[Named] = field(default_factory=list)
    state_machines: list[Named] = field(default_factory=list)
    streams: list[Named] = field(default_factory=list)
    queues: list[Named] = field(default_factory=list)
    unnamed: list[str] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return pascal(self.uc.name)

    @property
    def stack_parameter(self) -> str:
        return f"{self.prefix}StackName"

    @property
    def show_condition(self) -> str:
        return f"Show{self.prefix}"


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name) if part)


def _suffix(node: Any) -> str | None:
    text = node.get("Fn::Sub") if isinstance(node, dict) else None
    match = _STACK_SUFFIX.match(text) if isinstance(text, str) else None
    return match.group(1) if match else None


def inventory(uc: catalog.UseCase) -> Inventory:
    """Read the names and conditions of ``uc``'s functions, state machines, streams and queues."""
    template = cfn_template.load(uc.template)
    inv = Inventory(uc, template)
    kinds = {
        "AWS::Lambda::Function": ("FunctionName", inv.functions),
        "AWS::StepFunctions::StateMachine": ("StateMachineName", inv.state_machines),
        "AWS::Kinesis::Stream": ("Name", inv.streams),
        "AWS::SQS::Queue": ("QueueName", inv.queues),
    }
    for logical, resource in (template.get("Resources") or {}).items():
        kind = kinds.get(resource.get("Type", ""))
        if kind is None:
            continue
        name_property, bucket = kind
        props = resource.get("Properties") or {}
        suffix = _suffix(props.get(name_property))
        if suffix is None:
            inv.unnamed.append(logical)
            continue
        folder = ""
        handler = props.get("Handler")
        match = _HANDLER.match(handler) if isinstance(handler, str) else None
        if match:
            folder = match.group("fn")
        bucket.append(Named(logical, suffix, resource.get("Condition"), folder))
    return inv


def inventories() -> list[Inventory]:
    """One inventory per use case that has a template, in catalog order."""
    return [inventory(uc) for uc in catalog.USE_CASES if uc.exists]


# -- mirroring conditions --------------------------------------------------------------------------


@dataclass
class Mirror:
    """Copies use-case conditions (and the parameters they read) into a shared template."""

    parameters: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)

    def condition(self, inv: Inventory, name: str) -> str:
        mirrored = f"{inv.prefix}{name}"
        if mirrored not in self.conditions:
            spec = (inv.template.get("Conditions") or {})[name]
            self.conditions[mirrored] = self._rewrite(inv, copy.deepcopy(spec))
        return mirrored

    def _rewrite(self, inv: Inventory, node: Any) -> Any:
        if isinstance(node, list):
            return [self._rewrite(inv, item) for item in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"} and not str(node["Ref"]).startswith("AWS::"):
            return {"Ref": self._parameter(inv, node["Ref"])}
        if set(node) == {"Condition"}:
            return {"Condition": self.condition(inv, node["Condition"])}
        return {key: self._rewrite(inv, value) for key, value in node.items()}

    def _parameter(self, inv: Inventory, name: str) -> str:
        spec = (inv.template.get("Parameters") or {}).get(name)
        if spec is None:
            raise cfn_template.TemplateError(f"{inv.uc.name}: condition reads {name}, not a parameter")
        mirrored = f"{inv.prefix}{name}"
        copied = {k: spec[k] for k in ("Type", "Default", "AllowedValues") if k in spec}
        copied["Description"] = (
            f"The value of {name} in the {inv.uc.name} stack (decides which of its widgets and alarms exist)."
        )
        self.parameters[mirrored] = copied
        return mirrored


def _not_empty(parameter: str) -> dict[str, Any]:
    """A condition: ``parameter`` was given a value."""
    return {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}


def _add_stack_switch(inv: Inventory, parameters: dict[str, Any], conditions: dict[str, Any]) -> None:
    """The ``<UseCase>StackName`` parameter and the condition that shows the use case when it is set."""
    parameters[inv.stack_parameter] = {
        "Type": "String",
        "Default": "",
        "AllowedPattern": "^$|^[A-Za-z][-A-Za-z0-9]{0,127}$",
        "Description": (f"Name of the deployed {inv.uc.name} ({inv.uc.code}) stack; empty leaves it out."),
    }
    conditions[inv.show_condition] = _not_empty(inv.stack_parameter)


def _environment_parameter() -> dict[str, Any]:
    return {"Type": "String", "Default": "prod", "Description": ENVIRONMENT_HELP}


# -- the dashboard ---------------------------------------------------------------------------------

Widget = dict[str, Any]


def _metric(namespace: str, name: str, dims: Iterable[tuple[str, str]], **options: Any) -> list[Any]:
    line: list[Any] = [namespace, name]
    for key, value in dims:
        line += [key, value]
    if options:
        line.append(options)
    return line


def _graph(title: str, metrics: Sequence[list[Any] | dict[str, Any]], width: int, **extra: Any) -> Widget:
    properties: dict[str, Any] = {
        "title": title,
        "view": "timeSeries",
        "region": "${AWS::Region}",
        "period": PERIOD,
        "metrics": list(metrics),
    }
    properties.update(extra)
    return {"type": "metric", "width": width, "height": 6, "properties": properties}


def _text(markdown: str) -> Widget:
    return {"type": "text", "width": 24, "height": 2, "properties": {"markdown": markdown}}


def _physical(inv: Inventory, named: Named) -> str:
    """The resource's name in the use-case stack, as a ``Fn::Sub`` text of the shared template."""
    return f"${{{inv.stack_parameter}}}-{named.suffix}"


def _lambda_dims(inv: Inventory, fn: Named) -> list[tuple[str, str]]:
    return [("FunctionName", _physical(inv, fn))]


def _emf_dims(inv: Inventory, fn: Named) -> list[tuple[str, str]]:
    return [("UseCase", inv.uc.name), ("FunctionName", _physical(inv, fn)), ("Environment", "${Environment}")]


def _own_metric(inv: Inventory, fn: Named, name: str, unit: str | None = None) -> list[Any]:
    """A line for one of the function's own EMF metrics: p90 of a time, else the sum."""
    stat = "p90" if unit in {"Milliseconds", "Seconds", "Microseconds"} else "Sum"
    return _metric(NAMESPACE, name, _emf_dims(inv, fn), stat=stat, label=f"{fn.suffix} {name}")


def _per_function(
    title: str,
    inv: Inventory,
    fns: list[Named],
    metric: tuple[str, str, str],
    dims: Callable[[Inventory, Named], list[tuple[str, str]]],
    width: int = 8,
) -> Widget:
    """One graph with a line per function: ``metric`` is (namespace, metric name, statistic)."""
    namespace, name, stat = metric
    return _graph(
        title, [_metric(namespace, name, dims(inv, f), stat=stat, label=f.suffix) for f in fns], width
    )


def _state_machine_arn(inv: Inventory, sm: Named) -> str:
    return "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:" + _physical(inv, sm)


def _search(metric: str, stat: str) -> str:
    schema = '{"' + NAMESPACE + '",UseCase,FunctionName,Environment}'
    return f"SEARCH('{schema} MetricName=\"{metric}\" Environment=\"${{Environment}}\"', '{stat}', {PERIOD})"


def totals_widgets() -> list[Widget]:
    """Cross-use-case totals: SEARCH over the exact EMF dimension set, one environment."""

    def total(metric: str, label: str, stat: str = "Sum", fn: str = "SUM") -> Widget:
        return _graph(
            f"{label} (all use cases)",
            [
                {"expression": f"{fn}(s1)", "label": label, "id": "t1"},
                {"expression": _search(metric, stat), "id": "s1", "visible": False},
            ],
            6,
        )

    return [
        _text(
            "# FSxN S3AP patterns, environment `${Environment}`\n"
            "Totals add up every function that emits the project's metrics in this environment."
        ),
        total("FilesProcessed", "Files processed"),
        total("BytesProcessed", "Bytes processed"),
        total("ProcessingErrors", "Processing errors"),
        total("ProcessingDuration", "Slowest function p99 (ms)", "p99", "MAX"),
    ]


def _condition_label(condition: str | None) -> str:
    return "" if condition is None else f" [{condition}]"


def _rows_for(inv: Inventory, condition: str | None) -> list[Widget]:
    fns = [f for f in inv.functions if f.condition == condition]
    sms = [s for s in inv.state_machines if s.condition == condition]
    streams = [s for s in inv.streams if s.condition == condition]
    tag = _condition_label(condition)
    widgets: list[Widget] = []
    if sms:
        lines = [
            _metric(
                "AWS/States",
                metric,
                [("StateMachineArn", _state_machine_arn(inv, sm))],
                stat="Sum",
                label=f"{sm.suffix} {metric[10:].lower()}",
            )
            for sm in sms
            for metric in ("ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut")
        ]
        widgets.append(_graph(f"Step Functions executions{tag}", lines, 8 if fns else 24))
    if fns:
        width = 8 if sms else 12
        for name in ("Errors", "Throttles"):
            metric = ("AWS/Lambda", name, "Sum")
            widgets.append(
                _per_function(f"Lambda {name.lower()}{tag}", inv, fns, metric, _lambda_dims, width)
            )
        for stat in PERCENTILES:
            metric = ("AWS/Lambda", "Duration", stat)
            widgets.append(_per_function(f"Lambda duration {stat} (ms){tag}", inv, fns, metric, _lambda_dims))
        for name in ("FilesProcessed", "BytesProcessed", "ProcessingErrors"):
            widgets.append(_per_function(f"{name}{tag}", inv, fns, (NAMESPACE, name, "Sum"), _emf_dims))
        for stat in PERCENTILES:
            metric = (NAMESPACE, "ProcessingDuration", stat)
            widgets.append(_per_function(f"ProcessingDuration {stat} (ms){tag}", inv, fns, metric, _emf_dims))
        custom = [
            _own_metric(inv, f, name, unit)
            for f in fns
            for name, unit in sorted(metrics_registry.metrics_of_function(inv.uc, f.folder).items())
            if name not in HANDLER_METRICS and not _is_transform_metric(name)
        ]
        if custom:
            widgets.append(_graph(f"Function-specific metrics{tag}", custom, 24))
    for stream in streams:
        dims = [("StreamName", _physical(inv, stream))]
        for title, series in (
            ("Kinesis iterator age (ms)", [(ITERATOR_AGE, "Maximum", "max age")]),
            ("Kinesis incoming records", [("IncomingRecords", "Sum", "records")]),
            (
                "Kinesis throttles",
                [("WriteProvisionedThroughputExceeded", "Sum", "write"),
                 ("ReadProvisionedThroughputExceeded", "Sum", "read")],
            ),
        ):  # fmt: skip
            metrics = [
                _metric("AWS/Kinesis", name, dims, stat=stat, label=label) for name, stat, label in series
            ]
            widgets.append(_graph(f"{title}, {stream.suffix}", metrics, 6))
        widgets.append(_dlq_widget(inv, stream))
    return widgets


def _is_transform_metric(name: str) -> bool:
    return name.startswith("TransformJob")


def sagemaker_condition(inv: Inventory) -> str | None:
    """The use case's condition ``EnableSageMakerTransform == "true"``, if it has one."""
    wanted = {"Fn::Equals": [{"Ref": "EnableSageMakerTransform"}, "true"]}
    for name, spec in (inv.template.get("Conditions") or {}).items():
        if spec == wanted:
            return str(name)
    return None


def _transform_widget(inv: Inventory) -> Widget | None:
    """Transform-job outcomes: SageMaker publishes none, so these are the functions' own EMF counts."""
    lines: list[list[Any] | dict[str, Any]] = []
    for f in inv.functions:
        for name, unit in sorted(metrics_registry.metrics_of_function(inv.uc, f.folder).items()):
            if _is_transform_metric(name):
                lines.append(_own_metric(inv, f, name, unit))
    return _graph("SageMaker transform jobs", lines, 24) if lines else None


def _dlq_widget(inv: Inventory, stream: Named) -> Widget:
    """Dead-lettered records: a consumer's own EMF count if it emits one, else the on-failure queue."""
    lines: list[list[Any] | dict[str, Any]] = []
    for f in inv.functions:
        for name in metrics_registry.metrics_of_function(inv.uc, f.folder):
            if "deadletter" in name.lower() or "dlq" in name.lower():
                lines.append(_own_metric(inv, f, name))
    for queue in inv.queues:
        if queue.condition == stream.condition:
            dims = [("QueueName", _physical(inv, queue))]
            lines.append(
                _metric(
                    "AWS/SQS", "ApproximateNumberOfMessagesVisible", dims, stat="Maximum", label=queue.suffix
                )
            )
    if not lines:
        return _text(
            f"**Dead-letter count unavailable**: no function of {inv.uc.name} emits a dead-letter "
            "metric and no named on-failure queue exists."
        ) | {"width": 6, "height": 6}
    return _graph(f"Dead-lettered records, {stream.suffix}", lines, 6)


def _section(inv: Inventory, mirror: Mirror) -> list[tuple[str | None, Widget]]:
    """The widgets of one use case, each with the mirrored condition it needs (None: always)."""
    conditions: list[str | None] = [None]
    for named in inv.functions + inv.state_machines + inv.streams:
        if named.condition is not None and named.condition not in conditions:
            conditions.append(named.condition)
    header = _text(f"## {inv.uc.code} {inv.uc.name}: stack `${{{inv.stack_parameter}}}`\n{inv.uc.summary}")
    out: list[tuple[str | None, Widget]] = [(None, header)]
    for condition in conditions:
        mirrored = None if condition is None else mirror.condition(inv, condition)
        out += [(mirrored, widget) for widget in _rows_for(inv, condition)]
    transform = _transform_widget(inv)
    if transform is not None:
        condition = sagemaker_condition(inv)
        out.append((None if condition is None else mirror.condition(inv, condition), transform))
    return out


def _json(widgets: list[Widget]) -> str:
    return ",".join(json.dumps(w, separators=(",", ":")) for w in widgets)


def _text_node(text: str) -> Any:
    return {"Fn::Sub": text} if "${" in text else text


def dashboard_template(invs: list[Inventory]) -> dict[str, Any]:
    """The dashboard template: totals always, one section per selected use case."""
    mirror = Mirror()
    parameters: dict[str, Any] = {
        "DashboardName": {
            "Type": "String",
            "Default": "FSxN-S3AP-Patterns",
            "AllowedPattern": "^[A-Za-z0-9_-]{1,255}$",
            "Description": "Name of the CloudWatch dashboard.",
        },
        "Environment": _environment_parameter(),
    }
    conditions: dict[str, Any] = {}
    totals = totals_widgets()
    body: list[Any] = ['{"widgets":[', _text_node(_json(totals[:1]))]
    body += [_text_node("," + _json([widget])) for widget in totals[1:]]
    for inv in invs:
        _add_stack_switch(inv, parameters, conditions)
        pieces: list[Any] = []
        for mirrored, widget in _section(inv, mirror):
            text = "," + _json([widget])
            if mirrored is None:
                pieces.append(_text_node(text))
            else:
                pieces.append({"Fn::If": [mirrored, _text_node(text), ""]})
        body.append({"Fn::If": [inv.show_condition, {"Fn::Join": ["", pieces]}, ""]})
    body.append("]}")
    parameters.update(mirror.parameters)
    conditions.update(mirror.conditions)
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "One CloudWatch dashboard across the chosen FSxN S3AP use cases: cross-use-case totals, and "
            "per use case its executions, Lambda health, EMF processing metrics and streaming widgets."
        ),
        "Parameters": parameters,
    }
    if conditions:
        template["Conditions"] = conditions
    template["Resources"] = {
        "Dashboard": {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": {"Ref": "DashboardName"},
                "DashboardBody": {"Fn::Join": ["", body]},
            },
        }
    }
    template["Outputs"] = {
        "DashboardName": {"Value": {"Ref": "Dashboard"}},
        "DashboardUrl": {
            "Value": {
                "Fn::Sub": "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home"
                "?region=${AWS::Region}#dashboards:name=${Dashboard}"
            }
        },
    }
    return template


# -- the alert stack -------------------------------------------------------------------------------


def _insights(function: str, metric: str) -> dict[str, Any]:
    query = (
        f'SELECT {function}({metric}) FROM SCHEMA("{NAMESPACE}", UseCase, FunctionName, Environment) '
        "WHERE Environment = '${Environment}'"
    )
    return {"Fn::Sub": query}


def _topic_actions() -> dict[str, Any]:
    return {"AlarmActions": [{"Ref": "AlertTopic"}], "OKActions": [{"Ref": "AlertTopic"}]}


def _insights_alarm(
    suffix: str, description: str, query: tuple[str, str, str], test: tuple[str, str], periods: int = 1
) -> dict[str, Any]:
    """An alarm on a Metrics Insights query over every function's EMF metric in the environment.

    ``query`` is (metric id, aggregate function, metric); ``test`` is (comparison, threshold
    parameter). With several periods every one of them must breach.
    """
    metric_id, function, metric = query
    comparison, threshold = test
    properties: dict[str, Any] = {
        "AlarmName": {"Fn::Sub": f"${{AWS::StackName}}-{suffix}"},
        "AlarmDescription": description,
        "Metrics": [
            {"Id": metric_id, "Expression": _insights(function, metric), "Period": PERIOD, "ReturnData": True}
        ],
        "EvaluationPeriods": periods,
    }
    if periods > 1:
        properties["DatapointsToAlarm"] = periods
    properties.update(
        {
            "Threshold": {"Ref": threshold},
            "ComparisonOperator": comparison,
            "TreatMissingData": "notBreaching",
            **_topic_actions(),
        }
    )
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}


def alert_template(invs: list[Inventory]) -> dict[str, Any]:
    """The alert stack: CMK, encrypted topic, subscriptions, Slack, cross-use-case alarms."""
    mirror = Mirror()
    slack_code = SLACK_HANDLER_PATH.read_text(encoding="utf-8")
    if len(slack_code) > ZIPFILE_LIMIT:
        raise cfn_template.TemplateError(
            f"{SLACK_HANDLER_PATH} exceeds the {ZIPFILE_LIMIT}-byte ZipFile limit"
        )
    parameters: dict[str, Any] = {
        "Environment": _environment_parameter(),
        "NotificationEmail": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^$|^[^@\\s]+@[^@\\s]+$",
            "Description": "Address for alarm e-mails (confirm the subscription mail). Empty: none.",
        },
        "HttpsEndpoint": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^$|^https://.+$",
            "Description": "HTTPS endpoint for alarms, for example a PagerDuty CloudWatch integration URL.",
        },
        "SlackWebhookSecretArn": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^$|^arn:[-a-z]+:secretsmanager:[-a-z0-9]+:[0-9]{12}:secret:.+$",
            "Description": (
                "ARN of a Secrets Manager secret whose value is a Slack incoming-webhook URL. "
                "Empty: no Slack notifier."
            ),
        },
        "ProcessingErrorThreshold": {
            "Type": "Number",
            "Default": 5,
            "MinValue": 1,
            "Description": "ProcessingErrors summed over all functions in 5 minutes that raise the alarm.",
        },
        "DurationBaselineMs": {
            "Type": "Number",
            "Default": 30000,
            "MinValue": 1,
            "Description": (
                "Baseline in milliseconds: the average handler ProcessingDuration across all functions "
                "above it for 15 minutes raises the alarm."
            ),
        },
    }
    sm_parameters: dict[str, Any] = {
        "ExecutionTimeBaselineMs": {
            "Type": "Number",
            "Default": 900000,
            "MinValue": 1,
            "Description": "Baseline in milliseconds for the p90 execution time of each state machine.",
        },
        "FailureRatePercent": {
            "Type": "Number",
            "Default": 10,
            "MinValue": 1,
            "MaxValue": 100,
            "Description": "Percent of a state machine's started executions that fail, in 15 minutes.",
        },
    }
    if any(inv.state_machines for inv in invs):
        parameters.update(sm_parameters)
    conditions: dict[str, Any] = {
        "HasEmail": _not_empty("NotificationEmail"),
        "HasHttps": _not_empty("HttpsEndpoint"),
        "HasSlack": _not_empty("SlackWebhookSecretArn"),
    }
    resources: dict[str, Any] = _alert_core(slack_code)
    resources["ProcessingErrorsAlarm"] = _insights_alarm(
        "processing-errors",
        "Handled or raised processing errors, summed over every function of every use case in "
        "this environment (EMF ProcessingErrors), reached the threshold in 5 minutes.",
        ("errors", "SUM", "ProcessingErrors"),
        ("GreaterThanOrEqualToThreshold", "ProcessingErrorThreshold"),
    )
    resources["ProcessingDurationAlarm"] = _insights_alarm(
        "processing-duration",
        "The average handler duration across all functions (EMF ProcessingDuration, milliseconds) "
        "stayed above DurationBaselineMs for three 5-minute periods.",
        ("duration", "AVG", "ProcessingDuration"),
        ("GreaterThanThreshold", "DurationBaselineMs"),
        periods=3,
    )
    correlated: list[Any] = []
    for inv in invs:
        if not inv.state_machines:
            continue
        _add_stack_switch(inv, parameters, conditions)
        for sm in inv.state_machines:
            condition = inv.show_condition
            if sm.condition is not None:
                condition = f"{inv.show_condition}{pascal(sm.suffix)}"
                conditions[condition] = {
                    "Fn::And": [
                        {"Condition": inv.show_condition},
                        {"Condition": mirror.condition(inv, sm.condition)},
                    ]
                }
            arn = {"Fn::Sub": _state_machine_arn(inv, sm)}
            base = f"{inv.prefix}{pascal(sm.suffix)}"
            dims = [{"Name": "StateMachineArn", "Value": arn}]

            def stat(metric_id: str, metric: str, dims: list[dict[str, Any]] = dims) -> dict[str, Any]:
                return {
                    "Id": metric_id,
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/States", "MetricName": metric, "Dimensions": dims},
                        "Period": 900,
                        "Stat": "Sum",
                    },
                    "ReturnData": False,
                }

            resources[f"{base}FailureRateAlarm"] = {
                "Type": "AWS::CloudWatch::Alarm",
                "Condition": condition,
                "Properties": {
                    "AlarmName": {"Fn::Sub": f"${{AWS::StackName}}-{inv.uc.name}-{sm.suffix}-failure-rate"},
                    "AlarmDescription": (
                        f"More than FailureRatePercent of the started executions of the {inv.uc.name} "
                        f"state machine {sm.suffix} failed in 15 minutes."
                    ),
                    "Metrics": [
                        stat("failed", "ExecutionsFailed"),
                        stat("started", "ExecutionsStarted"),
                        {
                            "Id": "rate",
                            "Expression": "IF(started > 0, 100 * failed / started, 0)",
                            "Label": "failure rate (%)",
                            "ReturnData": True,
                        },
                    ],
                    "EvaluationPeriods": 1,
                    "Threshold": {"Ref": "FailureRatePercent"},
                    "ComparisonOperator": "GreaterThanThreshold",
                    "TreatMissingData": "notBreaching",
                    **_topic_actions(),
                },
            }
            resources[f"{base}ExecutionTimeAlarm"] = {
                "Type": "AWS::CloudWatch::Alarm",
                "Condition": condition,
                "Properties": {
                    "AlarmName": {"Fn::Sub": f"${{AWS::StackName}}-{inv.uc.name}-{sm.suffix}-execution-time"},
                    "AlarmDescription": (
                        f"The p90 execution time of the {inv.uc.name} state machine {sm.suffix} "
                        "exceeded ExecutionTimeBaselineMs (milliseconds) for two 15-minute periods."
                    ),
                    "Namespace": "AWS/States",
                    "MetricName": "ExecutionTime",
                    "Dimensions": dims,
                    "ExtendedStatistic": "p90",
                    "Period": 900,
                    "EvaluationPeriods": 2,
                    "Threshold": {"Ref": "ExecutionTimeBaselineMs"},
                    "ComparisonOperator": "GreaterThanThreshold",
                    "TreatMissingData": "notBreaching",
                    **_topic_actions(),
                },
            }
            correlated.append(
                {"Fn::If": [condition, {"Fn::Sub": f' OR ALARM("${{{base}FailureRateAlarm}}")'}, ""]}
            )
    rule = [
        {"Fn::Sub": 'ALARM("${ProcessingErrorsAlarm}") AND (ALARM("${ProcessingDurationAlarm}")'},
        *correlated,
        ")",
    ]
    resources["CorrelatedFailuresAlarm"] = {
        "Type": "AWS::CloudWatch::CompositeAlarm",
        "Properties": {
            "AlarmName": {"Fn::Sub": "${AWS::StackName}-correlated-failures"},
            "AlarmDescription": (
                "Processing errors coincide with slow processing or a failing state machine: the "
                "failures are systemic (storage, permissions, a dependency), not one bad file."
            ),
            "AlarmRule": {"Fn::Join": ["", rule]},
            "ActionsEnabled": True,
            **_topic_actions(),
        },
    }
    parameters.update(mirror.parameters)
    conditions.update(mirror.conditions)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "Alert automation for the FSxN S3AP patterns: a KMS-encrypted SNS topic CloudWatch can publish "
            "to, e-mail, HTTPS and Slack subscriptions, cross-use-case alarms and a composite alarm."
        ),
        "Parameters": parameters,
        "Conditions": conditions,
        "Resources": resources,
        "Outputs": {
            "AlertTopicArn": {
                "Description": "Pass this as AlertTopicArn to the use-case stacks.",
                "Value": {"Ref": "AlertTopic"},
                "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-AlertTopicArn"}},
            },
            "AlertKeyArn": {"Value": {"Fn::GetAtt": ["AlertKey", "Arn"]}},
        },
    }


def _subscription(condition: str, protocol: str, endpoint: Any) -> dict[str, Any]:
    """A subscription to the alert topic whose failed deliveries go to the dead-letter queue."""
    return {
        "Type": "AWS::SNS::Subscription",
        "Condition": condition,
        "Properties": {
            "TopicArn": {"Ref": "AlertTopic"},
            "Protocol": protocol,
            "Endpoint": endpoint,
            "RedrivePolicy": _REDRIVE,
        },
    }


def _alert_core(slack_code: str) -> dict[str, Any]:
    """KMS key, topic, topic policy, subscriptions and the optional Slack notifier."""
    account_condition = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    return {
        "AlertKey": {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "Description": "Encrypts the alert topic and the Slack notifier's logs.",
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AccountAdministers",
                            "Effect": "Allow",
                            "Principal": {
                                "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
                            },
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            "Sid": "CloudWatchAlarmsPublish",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                            "Condition": account_condition,
                        },
                        {
                            "Sid": "SnsDelivers",
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                            "Condition": account_condition,
                        },
                        {
                            "Sid": "LogsEncrypt",
                            "Effect": "Allow",
                            "Principal": {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}},
                            "Action": [
                                "kms:Encrypt*",
                                "kms:Decrypt*",
                                "kms:ReEncrypt*",
                                "kms:GenerateDataKey*",
                                "kms:Describe*",
                            ],
                            "Resource": "*",
                            "Condition": {
                                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": {"Fn::Sub": LOG_ARNS}}
                            },
                        },
                    ],
                },
            },
        },
        "AlertKeyAlias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {
                "AliasName": {"Fn::Sub": "alias/${AWS::StackName}-alerts"},
                "TargetKeyId": {"Ref": "AlertKey"},
            },
        },
        "AlertTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": {"Fn::Sub": "${AWS::StackName}-alerts"},
                "DisplayName": "FSxN S3AP alerts",
                "KmsMasterKeyId": {"Ref": "AlertKey"},
            },
        },
        "AlertTopicPolicy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {
                "Topics": [{"Ref": "AlertTopic"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "CloudWatchAlarmsOfThisAccount",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": {"Ref": "AlertTopic"},
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                                "ArnLike": {"aws:SourceArn": {"Fn::Sub": ALARM_ARNS}},
                            },
                        },
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "sns:Publish",
                            "Resource": {"Ref": "AlertTopic"},
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                    ],
                },
            },
        },
        "EmailSubscription": _subscription("HasEmail", "email", {"Ref": "NotificationEmail"}),
        "HttpsSubscription": _subscription("HasHttps", "https", {"Ref": "HttpsEndpoint"}),
        "AlertDeliveryDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": {"Fn::Sub": "${AWS::StackName}-alert-delivery-dlq"},
                "KmsMasterKeyId": {"Ref": "AlertKey"},
                "MessageRetentionPeriod": 1209600,
            },
            "Metadata": {
                "cfn-lint": {"config": {"ignore_checks": ["ES6000"]}},
                "SuppressionReasons": {
                    "ES6000": "This queue is the dead-letter queue; a queue behind it would never be read."
                },
            },
        },
        "AlertDeliveryDeadLetterQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "AlertDeliveryDeadLetterQueue"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "UndeliveredAlerts",
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": ["AlertDeliveryDeadLetterQueue", "Arn"]},
                            "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": "AlertTopic"}}},
                        }
                    ],
                },
            },
        },
        "SlackNotifierLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Condition": "HasSlack",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "LogGroupName": {"Fn::Sub": "/aws/lambda/${SlackNotifier}"},
                "RetentionInDays": 30,
                "KmsKeyId": {"Fn::GetAtt": ["AlertKey", "Arn"]},
            },
        },
        "SlackNotifierRole": {
            "Type": "AWS::IAM::Role",
            "Condition": "HasSlack",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "slack-notifier",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Sid": "ReadWebhook",
                                    "Effect": "Allow",
                                    "Action": "secretsmanager:GetSecretValue",
                                    "Resource": {"Ref": "SlackWebhookSecretArn"},
                                },
                                {
                                    "Sid": "Logs",
                                    "Effect": "Allow",
                                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                    "Resource": {"Fn::Sub": SLACK_LOG_ARN},
                                },
                                {
                                    "Sid": "FailedDeliveries",
                                    "Effect": "Allow",
                                    "Action": "sqs:SendMessage",
                                    "Resource": {"Fn::GetAtt": ["AlertDeliveryDeadLetterQueue", "Arn"]},
                                },
                                {
                                    "Sid": "DeadLetterKey",
                                    "Effect": "Allow",
                                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                                    "Resource": {"Fn::GetAtt": ["AlertKey", "Arn"]},
                                },
                                {
                                    "Sid": "Tracing",
                                    "Effect": "Allow",
                                    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                                    "Resource": "*",
                                },
                            ],
                        },
                    }
                ],
            },
            "Metadata": {
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_111",
                            "comment": "X-Ray trace APIs have no resource-level permissions.",
                        }
                    ]
                }
            },
        },
        "SlackNotifier": {
            "Type": "AWS::Lambda::Function",
            "Condition": "HasSlack",
            "Properties": {
                "FunctionName": {"Fn::Sub": "${AWS::StackName}-slack-notifier"},
                "Description": "Forwards alarm notifications from the alert topic to Slack.",
                "Runtime": "python3.12",
                "Architectures": ["arm64"],
                "Handler": "index.handler",
                "MemorySize": 128,
                "Timeout": 15,
                "ReservedConcurrentExecutions": 2,
                "Role": {"Fn::GetAtt": ["SlackNotifierRole", "Arn"]},
                "TracingConfig": {"Mode": "Active"},
                "Environment": {"Variables": {"SLACK_WEBHOOK_SECRET_ARN": {"Ref": "SlackWebhookSecretArn"}}},
                "Code": {"ZipFile": slack_code},
            },
            "Metadata": {
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_116",
                            "comment": "SNS retries failed deliveries; a DLQ would hold "
                            "copies of alarms that e-mail already carries.",
                        },
                        {
                            "id": "CKV_AWS_117",
                            "comment": "Calls Slack on the internet and Secrets Manager; "
                            "no VPC resources are involved.",
                        },
                        {
                            "id": "CKV_AWS_173",
                            "comment": "The only variable is a secret ARN, not the secret.",
                        },
                    ]
                }
            },
        },
        "SlackNotifierPermission": {
            "Type": "AWS::Lambda::Permission",
            "Condition": "HasSlack",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Ref": "SlackNotifier"},
                "Principal": "sns.amazonaws.com",
                "SourceArn": {"Ref": "AlertTopic"},
                "SourceAccount": {"Ref": "AWS::AccountId"},
            },
        },
        "SlackSubscription": _subscription("HasSlack", "lambda", {"Fn::GetAtt": ["SlackNotifier", "Arn"]}),
        "SlackNotifierInvokeConfig": {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Condition": "HasSlack",
            "Properties": {
                "FunctionName": {"Ref": "SlackNotifier"},
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 2,
                "MaximumEventAgeInSeconds": 3600,
                "DestinationConfig": {
                    "OnFailure": {"Destination": {"Fn::GetAtt": ["AlertDeliveryDeadLetterQueue", "Arn"]}}
                },
            },
        },
    }


# -- writing ---------------------------------------------------------------------------------------


HEADER = (
    "# Generated by `python -m scripts.observability_stacks` from the use-case templates and the\n"
    "# metrics registry. Do not edit by hand: change the generator and regenerate.\n"
)


def render(template: dict[str, Any]) -> str:
    return HEADER + cfn_template.dump(template)


def generated() -> dict[Path, str]:
    invs = inventories()
    return {DASHBOARD_PATH: render(dashboard_template(invs)), ALERTS_PATH: render(alert_template(invs))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed template is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated().items():
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        if args.check:
            stale.append(path)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(catalog.ROOT)}")
    if not args.check:
        from scripts import render_dashboard

        picture = render_dashboard.render(
            render_dashboard.dashboard_body(DASHBOARD_PATH), render_dashboard.DEFAULT_OUT
        )
        print(f"wrote {picture.relative_to(catalog.ROOT)}")
    for inv in inventories():
        for logical in inv.unnamed:
            print(f"note: {inv.uc.name}: {logical} has no ${{AWS::StackName}}-<suffix> name; not shown",
                  file=sys.stderr)  # fmt: skip
    if stale:
        print("stale: " + ", ".join(str(p.relative_to(catalog.ROOT)) for p in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
