"""The defaults in code agree with the template parameters that feed the same variables.

A function reads each setting through one frozen config class (``shared.config``). When the
template passes a parameter into that variable, the parameter's default is what a deployed stack
runs with, and the code default is what tests and the local tools run with: they must be equal.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import pytest

from retail_catalog import settings as retail_settings
from scripts import cfn_template
from shared import config
from tests.handlers import ROOT, load_handler

USE_CASES = ("retail-catalog", "autonomous-driving")
FUNCTION_TYPES = {"AWS::Lambda::Function", "AWS::Serverless::Function"}


def _template_defaults(use_case: str) -> dict[str, dict[str, Any]]:
    """Environment variable -> {function resource: default of the parameter it is set from}."""
    template = cfn_template.load(ROOT / use_case / "template.yaml")
    parameters = template.get("Parameters", {})
    found: dict[str, dict[str, Any]] = {}
    for name, resource in template["Resources"].items():
        if resource.get("Type") not in FUNCTION_TYPES:
            continue
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        for variable, value in variables.items():
            if (
                isinstance(value, dict)
                and set(value) == {"Ref"}
                and "Default" in parameters.get(value["Ref"], {})
            ):
                found.setdefault(variable, {})[name] = parameters[value["Ref"]]["Default"]
    return found


def _config_classes(use_case: str) -> list[type[Any]]:
    modules: list[Any] = [
        load_handler(p) for p in sorted((ROOT / use_case / "functions").glob("*/handler.py"))
    ]
    if use_case == "retail-catalog":
        modules.append(retail_settings)
    classes: list[type[Any]] = []
    for module in modules:
        for _, cls in inspect.getmembers(module, dataclasses.is_dataclass):
            if isinstance(cls, type) and cls not in classes:
                classes.append(cls)
    return classes


@pytest.mark.parametrize("use_case", USE_CASES)
def test_code_defaults_equal_template_parameter_defaults(use_case: str) -> None:
    wanted = _template_defaults(use_case)
    compared = 0
    mismatches: list[str] = []
    for cls in _config_classes(use_case):
        for field in dataclasses.fields(cls):
            variable = field.metadata.get("env")
            if variable not in wanted or field.default is dataclasses.MISSING:
                continue
            parse = config.field_parser(cls, field)
            for function, raw in wanted[variable].items():
                if str(raw) == "":
                    continue  # an empty variable means "unset": the code default applies (shared.config)
                compared += 1
                if parse(str(raw)) != field.default:
                    mismatches.append(
                        f"{cls.__qualname__}.{field.name}: code {field.default!r}, "
                        f"template {function} {variable} default {raw!r}"
                    )
    assert mismatches == []
    assert compared > 0, "no variable is both a template parameter and a config field with a default"


def test_confidence_threshold_has_one_default() -> None:
    consumer = load_handler(Path("retail-catalog/functions/stream_consumer"))
    assert consumer.ConsumerConfig.confidence_threshold == retail_settings.DEFAULT_CONFIDENCE_THRESHOLD
    assert retail_settings.TaggingConfig.confidence_threshold == retail_settings.DEFAULT_CONFIDENCE_THRESHOLD
