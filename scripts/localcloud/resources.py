"""Create the resources moto's CloudFormation skips, so they exist and can be listed after a deploy.

moto 5.2.5 silently skips ``AWS::Scheduler::Schedule`` (and schedule groups),
``AWS::Lambda::EventInvokeConfig``,
``AWS::CloudWatch::Alarm``, ``AWS::CloudWatch::CompositeAlarm``, ``AWS::S3::AccessPoint``,
``AWS::Glue::Database``, ``AWS::Glue::Table`` and ``AWS::Athena::WorkGroup`` (which the local
Athena, ``athena.py``, reads), and ``AWS::SNS::Subscription``. After
a deploy this module reads the stack's template back, keeps the skipped resources whose Condition
holds for the stack's parameters, resolves their properties against the deployed stack (physical
ids, GetAtt of created resources, parameters, conditions) and creates them through the service
APIs. Composite alarms go straight to moto's CloudWatch backend, because moto does not route the
PutCompositeAlarm API, but they are stored and described like any composite alarm.
"""

from __future__ import annotations

import logging
from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any

from scripts.cfn_template import DeployedStack, Evaluation, TemplateError, loads, pseudo_parameters

logger = logging.getLogger(__name__)

SKIPPED_TYPES = (
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Scheduler::ScheduleGroup",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::CompositeAlarm",
    "AWS::Scheduler::Schedule",
    "AWS::S3::AccessPoint",
    "AWS::Glue::Database",
    "AWS::Glue::Table",
    "AWS::Athena::WorkGroup",
    "AWS::SNS::Subscription",
)
_NAME_PROPERTY = {
    "AWS::Lambda::EventInvokeConfig": "FunctionName",
    "AWS::Scheduler::ScheduleGroup": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::CompositeAlarm": "AlarmName",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::S3::AccessPoint": "Name",
    "AWS::Glue::Database": "DatabaseInput.Name",
    "AWS::Glue::Table": "TableInput.Name",
    "AWS::Athena::WorkGroup": "Name",
    "AWS::SNS::Subscription": "Endpoint",
}
_ALARM_INTS = ("Period", "EvaluationPeriods", "DatapointsToAlarm")


@dataclass
class StackInfo:
    """A deployed stack as the local cloud sees it."""

    name: str
    stack_id: str
    status: str
    parameters: dict[str, str]
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    resource_types: dict[str, str]
    template: dict[str, Any]
    created: dict[str, str] = field(default_factory=dict)  # skipped resources created by the local cloud


def describe_stack(session: Any, region: str, stack_name: str) -> StackInfo:
    cfn = session.client("cloudformation", region_name=region)
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    resources = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    body = cfn.get_template(StackName=stack_name)["TemplateBody"]
    template = dict(body) if isinstance(body, dict) else loads(str(body))
    return StackInfo(
        name=stack_name,
        stack_id=stack["StackId"],
        status=stack["StackStatus"],
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        # moto also lists the resources it skipped, without ids; those are created later.
        physical_ids={
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for r in resources
            if "LogicalResourceId" in r
        },
        resource_types={
            r["LogicalResourceId"]: r["ResourceType"] for r in resources if "LogicalResourceId" in r
        },
        template=template,
    )


def _moto_get_att(account_id: str, region: str, stack_id: str) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    stack: Any = cloudformation_backends[account_id][region].stacks[stack_id]

    def get_att(logical_id: str, attribute: str) -> Any:
        resource = stack.resource_map[logical_id]
        if resource is None:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: the resource was not created")
        return resource.get_cfn_attribute(attribute)

    return get_att


def create_skipped(session: Any, region: str, account_id: str, info: StackInfo) -> dict[str, str]:
    """Create every skipped resource of the stack; return logical id -> name (or ARN) created."""
    resources: dict[str, Any] = info.template.get("Resources", {})
    names: dict[str, str] = {}  # skipped resources: filled below, then resolvable by Ref
    stack = DeployedStack(
        pseudo=pseudo_parameters(info.name, info.stack_id, region, account_id),
        physical_ids=ChainMap(info.physical_ids, names),
        attribute=_moto_get_att(account_id, region, info.stack_id),
    )
    evaluation = Evaluation(info.template, stack, info.parameters)
    chosen = [
        (logical_id, resource)
        for kind in SKIPPED_TYPES
        for logical_id, resource in resources.items()
        if resource.get("Type") == kind
        and (not resource.get("Condition") or evaluation.condition(resource["Condition"]))
    ]
    # Names first, so composite alarm rules and schedules can refer to any of them.
    for logical_id, resource in chosen:
        raw_name: Any = resource.get("Properties") or {}
        for step in _NAME_PROPERTY[resource["Type"]].split("."):
            raw_name = raw_name.get(step) if isinstance(raw_name, dict) else None
        names[logical_id] = str(evaluation.value(raw_name)) if raw_name else f"{info.name}-{logical_id}"
    created: dict[str, str] = {}
    for logical_id, resource in chosen:
        properties = evaluation.value(resource.get("Properties") or {})
        created[logical_id] = _create(
            session, region, account_id, resource["Type"], names[logical_id], properties
        )
    info.created.update(created)
    return created


def _create(session: Any, region: str, account_id: str, kind: str, name: str, props: dict[str, Any]) -> str:
    if kind == "AWS::Lambda::EventInvokeConfig":
        kwargs = {
            k: v
            for k, v in props.items()
            if k in {"MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"}
        }
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in kwargs:
                kwargs[key] = int(kwargs[key])
        session.client("lambda", region_name=region).put_function_event_invoke_config(
            FunctionName=props["FunctionName"], **kwargs
        )
        return str(props["FunctionName"])
    if kind == "AWS::Scheduler::ScheduleGroup":
        scheduler = session.client("scheduler", region_name=region)
        try:
            scheduler.create_schedule_group(Name=name)
        except scheduler.exceptions.ConflictException:
            logger.info("schedule group %s exists already (a redeploy)", name)
        return name
    if kind == "AWS::Scheduler::Schedule":
        scheduler = session.client("scheduler", region_name=region)
        kwargs = {k: v for k, v in props.items() if k != "Name"}
        try:
            scheduler.create_schedule(Name=name, **kwargs)
        except scheduler.exceptions.ConflictException:
            # A redeploy: CloudFormation would update the schedule in place.
            scheduler.update_schedule(Name=name, **kwargs)
        return name
    if kind == "AWS::CloudWatch::Alarm":
        kwargs = {k: v for k, v in props.items() if k != "AlarmName"}
        for key in _ALARM_INTS:
            if key in kwargs:
                kwargs[key] = int(kwargs[key])
        if "Threshold" in kwargs:
            kwargs["Threshold"] = float(kwargs["Threshold"])
        if "ActionsEnabled" in kwargs:
            kwargs["ActionsEnabled"] = str(kwargs["ActionsEnabled"]).lower() == "true"
        session.client("cloudwatch", region_name=region).put_metric_alarm(AlarmName=name, **kwargs)
        return name
    if kind == "AWS::CloudWatch::CompositeAlarm":
        from moto.cloudwatch.models import cloudwatch_backends

        backend: Any = cloudwatch_backends[account_id][region]
        backend.put_metric_alarm(
            name=name,
            namespace=None,
            metric_name=None,
            comparison_operator=None,
            evaluation_periods=None,
            period=None,
            threshold=None,
            statistic=None,
            description=props.get("AlarmDescription"),
            dimensions=[],
            alarm_actions=props.get("AlarmActions", []),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            actions_enabled=str(props.get("ActionsEnabled", True)).lower() == "true",
            rule=props["AlarmRule"],
            tags=props.get("Tags"),
        )
        return name
    if kind == "AWS::S3::AccessPoint":
        session.client("s3control", region_name=region).create_access_point(
            AccountId=account_id, Name=name, Bucket=props["Bucket"]
        )
        return f"arn:aws:s3:{region}:{account_id}:accesspoint/{name}"
    if kind in ("AWS::Glue::Database", "AWS::Glue::Table", "AWS::Athena::WorkGroup"):
        return _create_analytics(
            session.client(kind.split("::")[1].lower(), region_name=region), kind, name, props
        )
    if kind == "AWS::SNS::Subscription":
        # moto's CloudFormation has no standalone subscription (only a topic's Subscription list).
        answer = session.client("sns", region_name=region).subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
        )
        return str(answer["SubscriptionArn"])
    raise TemplateError(f"{kind} is not created locally")


def _create_analytics(client: Any, kind: str, name: str, props: dict[str, Any]) -> str:
    """The Glue catalog and Athena workgroup of a use case's queries (created, or updated on a redeploy)."""
    if kind == "AWS::Glue::Database":
        database = {**props["DatabaseInput"], "Name": name}
        try:
            client.create_database(DatabaseInput=database)
        except client.exceptions.AlreadyExistsException:
            client.update_database(Name=name, DatabaseInput=database)
        return name
    if kind == "AWS::Glue::Table":
        table = {**props["TableInput"], "Name": name}
        try:
            client.create_table(DatabaseName=props["DatabaseName"], TableInput=table)
        except client.exceptions.AlreadyExistsException:
            client.update_table(DatabaseName=props["DatabaseName"], TableInput=table)
        return name
    configuration = dict(props.get("WorkGroupConfiguration") or {})
    if "BytesScannedCutoffPerQuery" in configuration:
        configuration["BytesScannedCutoffPerQuery"] = int(configuration["BytesScannedCutoffPerQuery"])
    for flag in ("EnforceWorkGroupConfiguration", "PublishCloudWatchMetricsEnabled", "RequesterPaysEnabled"):
        if flag in configuration:
            configuration[flag] = str(configuration[flag]).lower() == "true"
    if client.get_work_group(WorkGroup=name).get("WorkGroup"):  # moto answers {} for an unknown one
        logger.info("workgroup %s exists already (a redeploy)", name)
    else:
        client.create_work_group(
            Name=name,
            Configuration=configuration,
            **({"Description": props["Description"]} if "Description" in props else {}),
            **({"Tags": props["Tags"]} if props.get("Tags") else {}),
        )
    return name
