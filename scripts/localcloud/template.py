"""Read CloudFormation templates and resolve the intrinsic functions the skipped resources use.

moto resolves templates itself for the resources it creates. For the ones it skips (schedules,
alarms, composite alarms) the local cloud reads the packaged template again and resolves their
properties against the deployed stack. The resolver covers what those properties use in this
project (Ref, Fn::Sub, Fn::GetAtt of created resources, Fn::If, Fn::Join, Fn::Select, Fn::Equals,
Fn::And/Or/Not, Condition, AWS::NoValue and the pseudo parameters) and raises on anything else,
so an unsupported template fails loudly instead of creating a wrong resource.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

logger = logging.getLogger(__name__)

NO_VALUE = object()


class UnsupportedTemplateError(ValueError):
    """The template uses an intrinsic function or reference the local resolver cannot evaluate."""


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns ``!Ref x`` into ``{"Ref": "x"}`` and ``!Sub`` into ``Fn::Sub``."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(text: str) -> dict[str, Any]:
    """Parse a template in YAML (with short-form tags) or JSON."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return dict(json.loads(text))
    document = yaml.load(text, Loader=_CfnLoader)
    if not isinstance(document, dict):
        raise UnsupportedTemplateError("a template must be a mapping")
    return document


_SUB_VAR = re.compile(r"\$\{([^}!]+)\}")


class Resolver:
    """Evaluates intrinsic functions against parameters, conditions and the stack's resources.

    ``physical_ids`` maps logical ids to the physical id CloudFormation reported (what ``Ref`` of a
    created resource returns). ``get_att(logical_id, attribute)`` answers ``Fn::GetAtt``. Skipped
    resources referenced by ``Ref`` resolve through ``skipped_ref`` (for example an alarm's name).
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        pseudo: Mapping[str, str],
        physical_ids: Mapping[str, str],
        get_att: Callable[[str, str], Any],
        skipped_ref: Callable[[str], Any] | None = None,
    ) -> None:
        self.template = template
        self.parameters = dict(parameters)
        self.pseudo = dict(pseudo)
        self.physical_ids = dict(physical_ids)
        self.get_att = get_att
        self.skipped_ref = skipped_ref
        self._conditions: dict[str, bool] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            if name not in self.parameters and "Default" in spec:
                self.parameters[name] = str(spec["Default"])

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            spec = (self.template.get("Conditions") or {}).get(name)
            if spec is None:
                raise UnsupportedTemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(spec))
        return self._conditions[name]

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        if self.skipped_ref is not None:
            value = self.skipped_ref(name)
            if value is not None:
                return value
        raise UnsupportedTemplateError(f"cannot resolve Ref {name!r}")

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key[4:], arg)
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _function(self, name: str, arg: Any) -> Any:
        if name == "If":
            condition, when_true, when_false = arg
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Equals":
            left, right = (self.resolve(v) for v in arg)
            return str(left) == str(right)
        if name == "And":
            return all(self.resolve(v) for v in arg)
        if name == "Or":
            return any(self.resolve(v) for v in arg)
        if name == "Not":
            return not self.resolve(arg[0])
        if name == "GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical_id, attribute)
        if name == "Join":
            separator, values = arg
            return str(separator).join(str(v) for v in self.resolve(values))
        if name == "Select":
            index, values = arg
            return self.resolve(values)[int(self.resolve(index))]
        if name == "Split":
            separator, value = arg
            return str(self.resolve(value)).split(separator)
        if name == "Sub":
            return self._sub(arg)
        raise UnsupportedTemplateError(f"Fn::{name} is not supported by the local resolver")

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in local:
                return str(local[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return _SUB_VAR.sub(replace, text).replace("${!", "${")
