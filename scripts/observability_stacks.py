"""Generate the two shared observability templates; they find use cases by metric search.

``shared/cfn/observability-dashboard.yaml`` and ``shared/cfn/alert-automation.yaml`` watch every use
case in an environment without naming one: each function emits its EMF metrics with the dimensions
``UseCase``, ``FunctionName`` and ``Environment``, so a dashboard ``SEARCH`` and a Metrics Insights
alarm query over that dimension set find every deployed function, including those of a use case added
later. Neither stack has a parameter per use case. The templates are still generated, because the
widgets of function-specific metrics (``stats().put_metric(...)``) come from the metrics registry,
which reads them from the code. The committed files must equal the generated ones (a test checks it):

    python -m scripts.observability_stacks          # rewrite both templates and dashboard.png
    python -m scripts.observability_stacks --check  # exit 1 when they are stale

Paging rule (one failed file pages once): the use-case stack that owns a function pages for it, with
its per-function alarms. The alert stack's metric alarms are signals without actions: they show on
the console and feed its one paging alarm, a composite that fires only when errors and slow
processing coincide across the environment, which no use-case alarm watches.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable
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
# Metrics Insights alarms evaluate only the latest three hours of data (CloudWatch alarm limits).
INSIGHTS_WINDOW_SECONDS = 3 * 3600
SLACK_LOG_ARN = (
    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    "/aws/lambda/${AWS::StackName}-slack-notifier:*"
)
_REDRIVE = {"deadLetterTargetArn": {"Fn::GetAtt": ["AlertDeliveryDeadLetterQueue", "Arn"]}}
LOG_ARNS = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*"
ALARM_ARNS = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
ENVIRONMENT_HELP = "The Environment parameter the use-case stacks were deployed with (a metric dimension)."
EMF_SCHEMA = '{"' + NAMESPACE + '",UseCase,FunctionName,Environment}'
TIME_UNITS = {"Milliseconds": "ms", "Seconds": "s", "Microseconds": "µs"}

Widget = dict[str, Any]


def _environment_parameter() -> dict[str, Any]:
    return {"Type": "String", "Default": "prod", "Description": ENVIRONMENT_HELP}


def _not_empty(parameter: str) -> dict[str, Any]:
    """A condition: ``parameter`` was given a value."""
    return {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}


# -- the dashboard ---------------------------------------------------------------------------------


def search(metric: str, stat: str, period: int = PERIOD) -> str:
    """A SEARCH over the exact EMF dimension set of every function, in the dashboard's environment."""
    query = f'{EMF_SCHEMA} MetricName="{metric}" Environment="${{Environment}}"'
    return f"SEARCH('{query}', '{stat}', {period})"


def _graph(title: str, metrics: list[dict[str, Any]], width: int, unit: str) -> Widget:
    return {
        "type": "metric",
        "width": width,
        "height": 6,
        "properties": {
            "title": title,
            "view": "timeSeries",
            "region": "${AWS::Region}",
            "period": PERIOD,
            "metrics": metrics,
            "yAxis": {"left": {"label": unit, "showUnits": False, "min": 0}},
        },
    }


def _text(markdown: str, height: int = 2) -> Widget:
    return {"type": "text", "width": 24, "height": height, "properties": {"markdown": markdown}}


def _unit_label(unit: str) -> str:
    return TIME_UNITS.get(unit, unit.lower() if unit != "Count" else "count")


def _stat_for(unit: str) -> str:
    """Times are read as a percentile, everything else as a sum."""
    return "p90" if unit in TIME_UNITS else "Sum"


def totals_widgets() -> list[Widget]:
    """Environment totals: one hidden SEARCH per metric, reduced to one line."""

    def total(metric: str, label: str, stat: str = "Sum", reduce: str = "SUM") -> Widget:
        lines: list[dict[str, Any]] = [
            {"expression": f"{reduce}(s1)", "label": label, "id": "t1"},
            {"expression": search(metric, stat), "id": "s1", "visible": False},
        ]
        return _graph(f"{label} (all use cases)", lines, 6, _unit_label(HANDLER_METRICS[metric]))

    return [
        total("FilesProcessed", "Files processed"),
        total("BytesProcessed", "Bytes processed"),
        total("ProcessingErrors", "Processing errors"),
        total("ProcessingDuration", "Slowest function p99", "p99", "MAX"),
    ]


def per_function_widget(metric: str, stat: str, unit: str, title: str | None = None) -> Widget:
    """One line per function that emits ``metric`` in the environment, whatever its use case."""
    line = {"expression": search(metric, stat), "id": "s1", "label": ""}
    return _graph(title or f"{metric} {stat}, per function", [line], 8, _unit_label(unit))


def custom_metrics(use_cases: Iterable[catalog.UseCase]) -> dict[str, str]:
    """Name -> unit of the function-specific EMF metrics the code of ``use_cases`` and shared emits."""
    out: dict[str, str] = {}
    for spec in metrics_registry.emf_metrics(use_cases):
        if spec.name not in HANDLER_METRICS:
            out.setdefault(spec.name, spec.unit)
    return dict(sorted(out.items()))


def dashboard_widgets(use_cases: Iterable[catalog.UseCase]) -> list[Widget]:
    """Header, totals, then per-function graphs of every handler and function-specific metric."""
    widgets = [
        _text(
            "# FSxN S3AP patterns, environment `${Environment}`\n"
            "Every function of every use case that emits the project's metrics in this environment, "
            "found by metric search. Each per-function graph has one line per function."
        )
    ]
    widgets += totals_widgets()
    widgets += [
        per_function_widget("FilesProcessed", "Sum", "Count", "Files processed, per function"),
        per_function_widget("BytesProcessed", "Sum", "Bytes", "Bytes processed, per function"),
        per_function_widget("ProcessingErrors", "Sum", "Count", "Processing errors, per function"),
    ]
    widgets += [
        per_function_widget(
            "ProcessingDuration", stat, "Milliseconds", f"ProcessingDuration {stat}, per function"
        )
        for stat in PERCENTILES
    ]
    widgets.append(per_function_widget("ColdStart", "Sum", "Count", "Cold starts, per function"))
    for name, unit in custom_metrics(use_cases).items():
        widgets.append(per_function_widget(name, _stat_for(unit), unit))
    return widgets


def dashboard_template(use_cases: Iterable[catalog.UseCase] = catalog.USE_CASES) -> dict[str, Any]:
    """The dashboard template: no parameter names a use case or a stack."""
    body = json.dumps({"widgets": dashboard_widgets(use_cases)}, separators=(",", ":"), ensure_ascii=False)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "One CloudWatch dashboard over every FSxN S3AP use case in an environment: totals and one "
            "line per function for each EMF metric, found by metric search (no per-use-case parameter)."
        ),
        "Parameters": {
            "DashboardName": {
                "Type": "String",
                "Default": "FSxN-S3AP-Patterns",
                "AllowedPattern": "^[A-Za-z0-9_-]{1,255}$",
                "Description": "Name of the CloudWatch dashboard.",
            },
            "Environment": _environment_parameter(),
        },
        "Resources": {
            "Dashboard": {
                "Type": "AWS::CloudWatch::Dashboard",
                "Properties": {"DashboardName": {"Ref": "DashboardName"}, "DashboardBody": {"Fn::Sub": body}},
            }
        },
        "Outputs": {
            "DashboardName": {"Value": {"Ref": "Dashboard"}},
            "DashboardUrl": {
                "Value": {
                    "Fn::Sub": "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home"
                    "?region=${AWS::Region}#dashboards:name=${Dashboard}"
                }
            },
        },
    }


# -- the alert stack -------------------------------------------------------------------------------


def _insights(function: str, metric: str) -> dict[str, Any]:
    query = (
        f'SELECT {function}({metric}) FROM SCHEMA("{NAMESPACE}", UseCase, FunctionName, Environment) '
        "WHERE Environment = '${Environment}'"
    )
    return {"Fn::Sub": query}


def _topic_actions() -> dict[str, Any]:
    return {"AlarmActions": [{"Ref": "AlertTopic"}], "OKActions": [{"Ref": "AlertTopic"}]}


def _signal_alarm(
    suffix: str, description: str, query: tuple[str, str, str], test: tuple[str, str], periods: int = 1
) -> dict[str, Any]:
    """A Metrics Insights alarm without actions: a signal the composite reads, never a page itself.

    ``query`` is (metric id, aggregate function, metric); ``test`` is (comparison, threshold
    parameter). With several periods every one of them must breach. The alarm holds exactly one
    query and evaluates at most three hours, as CloudWatch requires of Metrics Insights alarms.
    """
    metric_id, function, metric = query
    comparison, threshold = test
    if PERIOD * periods > INSIGHTS_WINDOW_SECONDS:
        raise cfn_template.TemplateError(f"{suffix}: a Metrics Insights alarm evaluates at most 3 hours")
    properties: dict[str, Any] = {
        "AlarmName": {"Fn::Sub": f"${{AWS::StackName}}-{suffix}"},
        "AlarmDescription": description,
        "ActionsEnabled": False,
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
        }
    )
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}


def alert_template() -> dict[str, Any]:
    """The alert stack: CMK, encrypted topic, subscriptions, Slack, two signals and one paging composite."""
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
            "Description": "ProcessingErrors summed over all functions in 5 minutes that count as many.",
        },
        "DurationBaselineMs": {
            "Type": "Number",
            "Default": 30000,
            "MinValue": 1,
            "Description": (
                "Baseline in milliseconds: the average handler ProcessingDuration across all functions "
                "above it for 15 minutes counts as slow."
            ),
        },
    }
    conditions: dict[str, Any] = {
        "HasEmail": _not_empty("NotificationEmail"),
        "HasHttps": _not_empty("HttpsEndpoint"),
        "HasSlack": _not_empty("SlackWebhookSecretArn"),
    }
    resources: dict[str, Any] = _alert_core(slack_code)
    resources["ProcessingErrorsAlarm"] = _signal_alarm(
        "processing-errors",
        "Signal, no page: processing errors summed over every function of every use case in this "
        "environment (EMF ProcessingErrors) reached the threshold in 5 minutes. Each failed file is "
        "paged by its use-case stack's own ProcessingErrors alarm.",
        ("errors", "SUM", "ProcessingErrors"),
        ("GreaterThanOrEqualToThreshold", "ProcessingErrorThreshold"),
    )
    resources["ProcessingDurationAlarm"] = _signal_alarm(
        "processing-duration",
        "Signal, no page: the average handler duration across all functions (EMF ProcessingDuration, "
        "milliseconds) stayed above DurationBaselineMs for three 5-minute periods.",
        ("duration", "AVG", "ProcessingDuration"),
        ("GreaterThanThreshold", "DurationBaselineMs"),
        periods=3,
    )
    resources["CorrelatedFailuresAlarm"] = {
        "Type": "AWS::CloudWatch::CompositeAlarm",
        "Properties": {
            "AlarmName": {"Fn::Sub": "${AWS::StackName}-correlated-failures"},
            "AlarmDescription": (
                "Page: widespread processing errors coincide with slow processing across the "
                "environment. The failures are systemic (storage, permissions, a dependency), not one "
                "bad file; the use-case stacks have paged for their own functions already."
            ),
            "AlarmRule": {
                "Fn::Sub": 'ALARM("${ProcessingErrorsAlarm}") AND ALARM("${ProcessingDurationAlarm}")'
            },
            "ActionsEnabled": True,
            **_topic_actions(),
        },
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "Alert automation for the FSxN S3AP patterns: a KMS-encrypted SNS topic CloudWatch can publish "
            "to, e-mail, HTTPS and Slack subscriptions, environment-wide signals and one paging composite."
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
    "# Generated by `python -m scripts.observability_stacks` from the metrics registry.\n"
    "# Do not edit by hand: change the generator and regenerate.\n"
)


def render(template: dict[str, Any]) -> str:
    return HEADER + cfn_template.dump(template)


def generated() -> dict[Path, str]:
    return {DASHBOARD_PATH: render(dashboard_template()), ALERTS_PATH: render(alert_template())}


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

        picture = render_dashboard.render_committed()
        print(f"wrote {picture.relative_to(catalog.ROOT)}")
    if stale:
        print("stale: " + ", ".join(str(p.relative_to(catalog.ROOT)) for p in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
