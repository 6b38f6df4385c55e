"""What every function resource of every use case's template must be, and that each check can fail.

Packaged from its own folder, python3.12 on arm64 with the use case's layer, traced by switch,
JSON logs at ``LogLevel`` into its own encrypted log group with the stack's retention, its own
role, the standard environment (``USE_CASE``, ``ENVIRONMENT``, ``ENABLE_XRAY``), a sample event;
and every checkov suppression in the template carries its reason.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from scripts import catalog, cfn_template
from tests.contract import checks

logger = logging.getLogger(__name__)

USE_CASES = [uc for uc in catalog.USE_CASES if uc.exists]


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_every_function_follows_the_packaging_and_runtime_conventions(uc: catalog.UseCase) -> None:
    assert checks.function_problems(uc, cfn_template.load(uc.template)) == []


def suppression_problems(text: str) -> list[str]:
    """Every checkov skip names a check and a reason of some length; every cfn-lint ignore a comment."""
    problems = [
        f"{m.group(1)}: reason too short"
        for m in re.finditer(r"- id: (CKV_AWS_\d+)\n\s+comment: (.+)", text)
        if len(m.group(2)) <= 20
    ]
    if text.count("- id: CKV_") != len(re.findall(r"- id: CKV_AWS_\d+\n\s+comment: ", text)):
        problems.append("a checkov skip without a comment")
    for match in re.finditer(r"ignore_checks:\n((?:\s+(?:#.*|- \w+)\n)+)", text):
        if match.group(1).count("#") < match.group(1).count("- "):
            problems.append(f"a cfn-lint ignore without a reason: {match.group(1).strip()}")
    return problems


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_every_suppression_carries_a_reason(uc: catalog.UseCase) -> None:
    assert suppression_problems(uc.template.read_text()) == []


# -- deliberate breakages of a conforming template ----------------------------------------------------

REFERENCE = catalog.find("retail-catalog")


def _first_function(template: dict[str, Any]) -> dict[str, Any]:
    resources = template["Resources"]
    name = next(n for n, r in resources.items() if r["Type"] == "AWS::Lambda::Function" and "Discovery" in n)
    props: dict[str, Any] = resources[name]["Properties"]
    return props


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(template: dict[str, Any]) -> None:
        target = _first_function(template)
        *parents, last = path.split(".")
        for part in parents:
            target = target[part]
        target[last] = value

    return change


def _share_roles(template: dict[str, Any]) -> None:
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    functions[1]["Properties"]["Role"] = copy.deepcopy(functions[0]["Properties"]["Role"])


def _log_group(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(template: dict[str, Any]) -> None:
        group = template["Resources"][_first_function(template)["LoggingConfig"]["LogGroup"]["Ref"]]
        change(group["Properties"])

    return apply


FUNCTION_BREAKAGES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "handler path": (_set("Handler", "handler.handler"), "Handler"),
    "missing folder": (_set("Handler", "functions/nowhere/handler.handler"), "handler.py"),
    "code key": (_set("Code", {"ZipFile": "x"}), "Code"),
    "runtime": (_set("Runtime", "python3.9"), "Runtime"),
    "x86": (_set("Architectures", ["x86_64"]), "Architectures"),
    "no layer": (_set("Layers", []), "Layers"),
    "tracing always on": (_set("TracingConfig", {"Mode": "Active"}), "TracingConfig"),
    "wrong use case": (_set("Environment.Variables.USE_CASE", "other"), "USE_CASE"),
    "no environment": (_set("Environment.Variables.ENVIRONMENT", "prod"), "ENVIRONMENT"),
    "xray switch": (_set("Environment.Variables.ENABLE_XRAY", "true"), "ENABLE_XRAY"),
    "text logs": (_set("LoggingConfig.LogFormat", "Text"), "LogFormat"),
    "fixed level": (_set("LoggingConfig.ApplicationLogLevel", "DEBUG"), "ApplicationLogLevel"),
    "log group name": (_log_group(lambda p: p.update(LogGroupName="/custom")), "LogGroupName"),
    "retention": (_log_group(lambda p: p.update(RetentionInDays=7)), "RetentionInDays"),
    "unencrypted logs": (_log_group(lambda p: p.pop("KmsKeyId")), "KmsKeyId"),
    "shared role": (_share_roles, "shares its role"),
}


def test_the_reference_template_passes() -> None:
    assert checks.function_problems(REFERENCE, cfn_template.load(REFERENCE.template)) == []


@pytest.mark.parametrize("breakage", list(FUNCTION_BREAKAGES))
def test_each_function_check_catches_its_breakage(breakage: str) -> None:
    change, words = FUNCTION_BREAKAGES[breakage]
    template = copy.deepcopy(cfn_template.load(REFERENCE.template))
    change(template)
    problems = checks.function_problems(REFERENCE, template)
    assert problems and any(words in p for p in problems), problems


def test_a_function_without_a_sample_event_is_caught(tmp_path: Any) -> None:
    use_case = catalog.UseCase(99, "no-events", "Test", str(tmp_path), "a use case without events")
    (tmp_path / "functions" / "discovery").mkdir(parents=True)
    (tmp_path / "functions" / "discovery" / "handler.py").write_text('"""x."""\n')
    template = copy.deepcopy(cfn_template.load(REFERENCE.template))
    problems = checks.function_problems(use_case, template)
    assert any("sample event" in p for p in problems), problems


@pytest.mark.parametrize(
    "text",
    [
        "- id: CKV_AWS_116\n  comment: short\n",
        "- id: CKV_AWS_116\n- id: CKV_AWS_117\n  comment: a long enough reason for the skip\n",
        "ignore_checks:\n  - W3005\n",
    ],
)
def test_a_suppression_without_its_reason_is_caught(text: str) -> None:
    assert suppression_problems(text) != []
