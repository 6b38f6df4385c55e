"""ValidateTemplate as CloudFormation does it: structure, not lint.

moto answers ValidateTemplate by running the whole cfn-lint rule set and failing on the first
finding, warnings included. CloudFormation itself only checks that the template parses and is
well formed, so a template with a lint warning deploys on AWS but not on moto, and the lint run
costs 5-25 seconds per deploy. The project lints every template in ``make lint`` already; locally
this adapter checks what CloudFormation checks (the body parses, top-level sections are known,
``Resources`` is a non-empty mapping of typed resources, parameters have a type, every Ref and
DependsOn names something declared) and reports a finding in the shape moto's response expects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from scripts.cfn_template import TemplateError, loads
from scripts.localcloud.runtime import Patches

logger = logging.getLogger(__name__)

SECTIONS = frozenset(
    {
        "AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings",
        "Conditions", "Transform", "Resources", "Outputs",
    }
)  # fmt: skip
PSEUDO = frozenset(
    {
        "AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region",
        "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """One problem; ``message`` is what moto puts in the ValidationError."""

    message: str


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if set(node) == {"Ref"} and isinstance(node["Ref"], str):
            found.add(node["Ref"])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def check(body: str) -> list[Finding]:
    """CloudFormation's own checks of a template body; an empty list means valid."""
    try:
        template = loads(body)
    except TemplateError as error:
        return [Finding(f"Template format error: {error}")]
    unknown = sorted(set(template) - SECTIONS)
    if unknown:
        return [Finding(f"Template format error: Invalid template property or properties {unknown}")]
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        return [Finding("Template format error: At least one Resources member must be defined.")]
    parameters = template.get("Parameters") or {}
    for name, spec in parameters.items():
        if not isinstance(spec, dict) or "Type" not in spec:
            return [
                Finding(f"Template format error: Every Parameters object must contain a Type member ({name})")
            ]
    for name, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            return [
                Finding(
                    f"Template format error: [/Resources/{name}] Every Resources object needs a Type member"
                )
            ]
    declared = set(resources) | set(parameters) | PSEUDO
    missing = sorted((_refs(resources) | _refs(template.get("Outputs") or {})) - declared)
    if missing:
        return [Finding(f"Template format error: Unresolved resource dependencies {missing} in the template")]
    for name, resource in resources.items():
        depends = resource.get("DependsOn", [])
        for target in [depends] if isinstance(depends, str) else depends:
            if target not in resources:
                return [
                    Finding(f"Template format error: Unresolved resource dependencies [{target}] in {name}")
                ]
    return []


class ValidationAdapter:
    """Replaces moto's lint-based ValidateTemplate with :func:`check`."""

    def __init__(self) -> None:
        self._patches = Patches()

    def install(self) -> None:
        from moto.cloudformation.models import CloudFormationBackend

        def validate_template(self: Any, template: str) -> list[Any]:
            return check(template)

        self._patches.patch(CloudFormationBackend, "validate_template", validate_template)

    def uninstall(self) -> None:
        self._patches.undo()
