"""One failed file pages once, across a use-case stack and the shared alert stack together.

The rule: the use-case stack that owns a function pages for it (its per-function ProcessingErrors
alarm); its composite is a roll-up without actions; the alert stack's metric alarms are signals
without actions, and its only page is the correlated-failures composite, which also needs slow
processing. For one ProcessingErrors datapoint of any function, small (one file) or large (enough to
cross every threshold), exactly one alarm that has an action goes to ALARM.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scripts import catalog, cfn_template, observability_check, observability_stacks
from scripts.observability_check import Datapoint, paging_alarms, rule_holds
from shared.observability import NAMESPACE

FIXTURE_UC = catalog.UseCase(
    9, "obs-uc", "Test", str(catalog.ROOT / "tests" / "fixtures" / "obs-uc"), "Fixture."
)
EXISTING = [uc for uc in catalog.USE_CASES if uc.number and uc.exists]
SHARED_TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts-alerts"
VALUES = (1.0, 1_000_000.0)


def _alert_stack(template: dict[str, Any] | None = None) -> cfn_template.Evaluation:
    return cfn_template.evaluate(template or observability_stacks.alert_template(), "alerts", {})


def _use_case_stack(uc: catalog.UseCase, template: dict[str, Any] | None = None) -> cfn_template.Evaluation:
    template = template or cfn_template.load(uc.template)
    params = observability_check.maximal_parameters(template) | {
        "EnableCloudWatchAlarms": "true",
        "AlertTopicArn": SHARED_TOPIC,
    }
    return cfn_template.evaluate(template, f"{uc.name}-stk", params)


def _pages_per_function(
    uc: catalog.UseCase, stack: cfn_template.Evaluation, alerts: cfn_template.Evaluation
) -> dict[str, list[str]]:
    """Paging alarms for one ProcessingErrors datapoint of each function, at each value."""
    out: dict[str, list[str]] = {}
    for logical, resource in stack.resources().items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        function = str(stack.value({"Ref": logical}))
        for value in VALUES:
            point = Datapoint(
                NAMESPACE,
                "ProcessingErrors",
                {"UseCase": uc.name, "FunctionName": function, "Environment": "prod"},
                value,
            )
            out[f"{function}={value:g}"] = paging_alarms([stack, alerts], point)
    assert out, f"{uc.name} has no function"
    return out


def _wrong(pages: dict[str, list[str]]) -> dict[str, list[str]]:
    return {key: names for key, names in pages.items() if len(names) != 1}


def test_fixture_use_case_and_alert_stack_page_once_per_failed_file() -> None:
    pages = _pages_per_function(FIXTURE_UC, _use_case_stack(FIXTURE_UC), _alert_stack())
    # The fixture's process function has a ProcessingErrors alarm; the others' errors must be paged too.
    assert _wrong({k: v for k, v in pages.items() if "-process=" in k}) == {}


@pytest.mark.parametrize("uc", EXISTING, ids=lambda uc: uc.name)
def test_catalog_use_case_and_alert_stack_page_once_per_failed_file(uc: catalog.UseCase) -> None:
    assert _wrong(_pages_per_function(uc, _use_case_stack(uc), _alert_stack())) == {}


def test_the_alert_stack_alone_never_pages_for_errors() -> None:
    point = Datapoint(
        NAMESPACE, "ProcessingErrors", {"UseCase": "x", "FunctionName": "f", "Environment": "prod"}, 1e9
    )
    assert paging_alarms([_alert_stack()], point) == []
    slow = Datapoint(NAMESPACE, "ProcessingDuration", dict(point.dimensions), 1e9)
    assert paging_alarms([_alert_stack()], slow) == []


def test_a_paging_shared_aggregate_is_caught() -> None:
    """The double page this rule removed: the shared SUM(ProcessingErrors) alarm with actions."""
    template = observability_stacks.alert_template()
    props = template["Resources"]["ProcessingErrorsAlarm"]["Properties"]
    props["ActionsEnabled"] = True
    props["AlarmActions"] = [{"Ref": "AlertTopic"}]
    pages = _pages_per_function(FIXTURE_UC, _use_case_stack(FIXTURE_UC), _alert_stack(template))
    process = {k: v for k, v in pages.items() if "-process=" in k}
    assert process["obs-uc-stk-process=1"] == ["<generated:ProcessingErrorsAlarm>"]
    assert sorted(process["obs-uc-stk-process=1e+06"]) == [
        "<generated:ProcessingErrorsAlarm>",
        "alerts-processing-errors",
    ]


def test_a_paging_use_case_composite_is_caught() -> None:
    template = copy.deepcopy(cfn_template.load(FIXTURE_UC.template))
    template["Resources"]["PipelineHealthAlarm"]["Properties"]["AlarmActions"] = [{"Ref": "AlertTopicArn"}]
    pages = _pages_per_function(FIXTURE_UC, _use_case_stack(FIXTURE_UC, template), _alert_stack())
    assert len(pages["obs-uc-stk-process=1"]) == 2


@pytest.mark.parametrize(
    ("rule", "in_alarm", "expected"),
    [
        ('ALARM("a") AND ALARM("b")', {"a"}, False),
        ('ALARM("a") AND (ALARM("b") OR ALARM("c"))', {"a", "c"}, True),
        ('NOT ALARM("a") OR OK("b")', {"a"}, True),
        ('ALARM("a") AND NOT (ALARM("b"))', {"a", "b"}, False),
    ],
)
def test_composite_rules_are_evaluated(rule: str, in_alarm: set[str], expected: bool) -> None:
    assert rule_holds(rule, in_alarm) is expected


def test_unreadable_rule_raises() -> None:
    with pytest.raises(cfn_template.TemplateError):
        rule_holds('ALARM("a") XOR ALARM("b")', set())
