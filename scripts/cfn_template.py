"""Read CloudFormation YAML and evaluate it for one set of parameters, without AWS.

The observability checks need to know which resources, alarms and dashboard widgets a template
really creates for given parameters, and with which names. This module loads the short-form tags
(``!Sub``, ``!If`` ...) into their long form and evaluates the intrinsic functions the project's
templates use. It is deliberately small: it covers Ref, Fn::Sub, Fn::Join, Fn::If, Fn::Select,
Fn::Split, Fn::GetAtt, Fn::Equals/And/Or/Not and Condition, which is all the templates use.
Anything else raises, so an unsupported construct is noticed rather than guessed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

REGION = "us-east-1"
ACCOUNT = "123456789012"
PARTITION = "aws"


class TemplateError(ValueError):
    """The template uses a construct this evaluator does not understand, or is inconsistent."""


class _NoValue:
    """``AWS::NoValue``: the property or list item disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class _Loader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short-form tags into long-form mappings."""


def _construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Condition":
        return {"Condition": value}
    return {name: value}


_Loader.add_multi_constructor("!", _construct)


def load(path: str | Path) -> dict[str, Any]:
    """Load a template file into plain dicts and lists (long-form intrinsics)."""
    return loads(Path(path).read_text(encoding="utf-8"))


def loads(text: str) -> dict[str, Any]:
    # A SafeLoader subclass: only the CloudFormation tags are added.
    data = yaml.load(text, Loader=_Loader)
    if not isinstance(data, dict):
        raise TemplateError("a template is a mapping")
    return data


_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


@dataclass
class Evaluation:
    """A template evaluated for a stack name and parameter values."""

    template: Mapping[str, Any]
    stack_name: str
    parameters: dict[str, str] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters", {}) or {}
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if name in self.parameters:
                values[name] = str(self.parameters[name])
            elif "Default" in spec:
                values[name] = str(spec["Default"])
            else:
                values[name] = f"<{name}>"
        unknown = set(self.parameters) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameter(s) {sorted(unknown)}")
        self.parameters = values
        for name in self.template.get("Conditions", {}) or {}:
            self.condition(name)

    # -- conditions ------------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            spec = (self.template.get("Conditions") or {}).get(name)
            if spec is None:
                raise TemplateError(f"undeclared condition {name}")
            self.conditions[name] = bool(self._condition_value(spec))
        return self.conditions[name]

    def _condition_value(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                left, right = (self.value(a) for a in arg)
                return str(left) == str(right)
            if key == "Fn::And":
                return all(self._condition_value(a) for a in arg)
            if key == "Fn::Or":
                return any(self._condition_value(a) for a in arg)
            if key == "Fn::Not":
                return not self._condition_value(arg[0])
        raise TemplateError(f"unsupported condition {node!r}")

    # -- resources -------------------------------------------------------------------------------

    def resources(self) -> dict[str, dict[str, Any]]:
        """Resources this evaluation creates: logical id -> the raw resource (type, properties)."""
        out: dict[str, dict[str, Any]] = {}
        for logical, resource in (self.template.get("Resources") or {}).items():
            cond = resource.get("Condition")
            if cond is None or self.condition(cond):
                out[logical] = resource
        return out

    def properties(self, logical: str) -> dict[str, Any]:
        resource = self.template["Resources"][logical]
        props = self.value(resource.get("Properties") or {})
        if not isinstance(props, dict):
            raise TemplateError(f"{logical}: properties are not a mapping")
        return props

    def physical_name(self, logical: str) -> str:
        """The name a resource gets: its explicit name property, else a marker for a generated name."""
        resource = self.template["Resources"][logical]
        key = _NAME_PROPERTY.get(resource.get("Type", ""))
        raw = (resource.get("Properties") or {}).get(key) if key else None
        if raw is None:
            return f"<generated:{logical}>"
        return str(self.value(raw))

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::StackName": self.stack_name,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack_name}/id",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resources = self.template.get("Resources") or {}
        if name in resources:
            rtype = resources[name].get("Type", "")
            physical = self.physical_name(name)
            if rtype == "AWS::StepFunctions::StateMachine":
                return f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{physical}"
            if rtype == "AWS::SNS::Topic":
                return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{physical}"
            if rtype == "AWS::SQS::Queue":
                return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}"
            if rtype in _NAME_PROPERTY:
                return physical
            return f"<ref:{name}>"
        raise TemplateError(f"Ref to undeclared {name}")

    def _getatt(self, logical: str, attribute: str) -> str:
        resources = self.template.get("Resources") or {}
        if logical not in resources:
            raise TemplateError(f"GetAtt of undeclared {logical}")
        rtype = resources[logical].get("Type", "")
        physical = self.physical_name(logical)
        if rtype == "AWS::SQS::Queue" and attribute == "QueueName":
            return physical
        if rtype == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{physical}"
        if rtype == "AWS::StepFunctions::StateMachine" and attribute in {"Arn", "Name"}:
            return str(self._ref(logical)) if attribute == "Arn" else physical
        if rtype == "AWS::Kinesis::Stream" and attribute == "Arn":
            return f"arn:{PARTITION}:kinesis:{REGION}:{ACCOUNT}:stream/{physical}"
        if rtype == "AWS::SNS::Topic" and attribute == "TopicName":
            return physical
        return f"<getatt:{logical}.{attribute}>"

    # -- values ----------------------------------------------------------------------------------

    def value(self, node: Any) -> Any:
        """Evaluate every intrinsic function in ``node``."""
        if isinstance(node, list):
            items = [self.value(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key.startswith("Fn::"):
                return self._function(key, arg)
        out = {}
        for key, item in node.items():
            evaluated = self.value(item)
            if evaluated is not NO_VALUE:
                out[key] = evaluated
        return out

    def _function(self, key: str, arg: Any) -> Any:
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.value(when_true if self.condition(name) else when_false)
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::Join":
            separator, items = arg
            return str(separator).join(str(v) for v in self.value(items))
        if key == "Fn::Select":
            index, items = arg
            return self.value(items)[int(self.value(index))]
        if key == "Fn::Split":
            separator, text = arg
            return str(self.value(text)).split(separator)
        if key == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return self._getatt(logical, attribute)
        if key in {"Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"}:
            return self._condition_value({key: arg})
        raise TemplateError(f"unsupported intrinsic {key}")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.value(v) for k, v in arg[1].items()}
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return self._getatt(logical, attribute)
            return str(self._ref(name))

        return _SUB_VAR.sub(replace, str(text))


# The property that names each resource type, for resolving Ref to a physical name.
_NAME_PROPERTY: dict[str, str] = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::CompositeAlarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
}


def evaluate(
    template: Mapping[str, Any], stack_name: str, parameters: Mapping[str, str] | None = None
) -> Evaluation:
    """Evaluate ``template`` as stack ``stack_name`` with ``parameters`` (defaults elsewhere)."""
    return Evaluation(template, stack_name, dict(parameters or {}))
