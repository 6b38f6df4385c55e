"""UC9's state machine: the segmentation switch, the token wait, the per-file catch, each task's input.

The data flow itself (every path a state reads was produced on every way in) is walked for every
use case by ``tests/contract/test_state_machine_dataflow.py``, from the step contracts in
``autonomous_driving.contract``; the walks here run that walker on UC9-specific cases.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from autonomous_driving.contract import ITEM_FIELDS, STEPS
from scripts import cfn_template
from tests.contract.test_state_machine_dataflow import DataFlowError, Walker

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "autonomous-driving" / "template.yaml"


def template() -> dict[str, Any]:
    """The effective template: the definition file inline with its DefinitionSubstitutions."""
    return cfn_template.load(TEMPLATE_PATH)


def raw_definition() -> str:
    return (TEMPLATE_PATH.parent / "statemachine" / "pipeline.asl.json").read_text()


def definition(**overrides: str) -> dict[str, Any]:
    """The definition as Step Functions receives it: parameters at their defaults unless overridden."""
    return cfn_template.definition_document(template(), "StateMachine", parameters=overrides)


# -- the data-flow walk on UC9's cases -----------------------------------------------------------


def walk(machine: dict[str, Any], start: dict[str, Any]) -> None:
    Walker(STEPS, {**ITEM_FIELDS}).walk(machine["States"], machine["StartAt"], dict.fromkeys(start), None)


@pytest.mark.parametrize("enabled", ["true", "false"])
def test_whatever_the_schedule_sends_the_walk_holds_with_segmentation_on_or_off(enabled: str) -> None:
    for schedule_input in ({}, {"anything": 1}):
        walk(definition(EnableSageMakerTransform=enabled), schedule_input)


def test_the_walk_catches_a_state_that_reads_a_path_only_one_branch_wrote() -> None:
    machine = definition()
    machine["States"]["Annotate"]["Parameters"]["error.$"] = "$.segmentation_error"
    with pytest.raises(DataFlowError, match=r"Annotate reads \$\.segmentation_error"):
        walk(machine, {})


def test_the_walk_catches_a_per_file_state_that_reads_what_the_item_selector_left_out() -> None:
    machine = definition()
    files = machine["States"]["ProcessFiles"]["ItemProcessor"]["States"]["Files"]
    del files["ItemSelector"]["etag.$"]
    with pytest.raises(DataFlowError, match=r"RecordFailure reads \$\.etag"):
        walk(machine, {})


def test_the_choice_variable_is_injected_from_the_stack_parameter() -> None:
    assert '"segmentation_enabled": "${EnableSageMakerTransform}"' in raw_definition()
    machine = definition(EnableSageMakerTransform="sentinel-from-parameter")
    configure = machine["States"][machine["StartAt"]]
    assert configure["Type"] == "Pass"
    assert configure["Parameters"]["config"]["segmentation_enabled"] == "sentinel-from-parameter"
    reads = re.findall(r'\.\$": "([^"]+)"', json.dumps(configure))
    assert reads and all(path.startswith("$$.") for path in reads), "Configure must not read the input"
    choice = machine["States"]["SegmentationEnabled"]
    assert choice["Type"] == "Choice"
    assert [rule["Variable"] for rule in choice["Choices"]] == ["$.config.segmentation_enabled"]
    assert choice["Default"] == "SkipSegmentation"


@pytest.mark.parametrize(("enabled", "expected"), [("true", "Segment"), ("false", "SkipSegmentation")])
def test_the_choice_follows_the_parameter(enabled: str, expected: str) -> None:
    machine = definition(EnableSageMakerTransform=enabled)
    value = machine["States"]["Configure"]["Parameters"]["config"]["segmentation_enabled"]
    choice = machine["States"]["SegmentationEnabled"]
    taken = next((r["Next"] for r in choice["Choices"] if r["StringEquals"] == value), choice["Default"])
    assert taken == expected


def test_the_segmentation_task_waits_for_its_token_with_bounds_and_a_catch() -> None:
    machine = definition()
    task = machine["States"]["Segment"]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert task["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert 0 < task["HeartbeatSeconds"] < task["TimeoutSeconds"]
    catch = task["Catch"]
    assert [c["ErrorEquals"] for c in catch] == [["States.ALL"]]
    assert catch[0]["Next"] == "RecordSegmentationFailure"
    assert machine["States"]["RecordSegmentationFailure"]["Next"] == "Annotate"
    assert machine["States"]["SkipSegmentation"]["Next"] == "Annotate"
    assert task["Next"] == "Annotate"


def test_every_outcome_of_segmentation_writes_the_same_field() -> None:
    states = definition()["States"]
    for name in ("Segment", "RecordSegmentationFailure", "SkipSegmentation"):
        assert states[name]["ResultPath"] == "$.segmentation", name
    assert states["SkipSegmentation"]["Result"]["status"] == "SKIPPED"
    assert states["RecordSegmentationFailure"]["Parameters"]["status"] == "FAILED"


def test_a_run_ends_in_annotations_or_exits_early_and_nothing_fails_it_on_purpose() -> None:
    states = definition()["States"]
    assert [n for n, s in states.items() if s.get("End")] == ["Annotate"]
    assert [n for n, s in states.items() if s["Type"] == "Succeed"] == ["AnotherRunInFlight", "NothingToDo"]
    assert not [n for n, s in _all_states(definition()).items() if s["Type"] == "Fail"]


def test_every_per_file_step_is_caught_into_a_failed_result_and_the_map_tolerance_is_a_parameter() -> None:
    machine = definition(ToleratedFailurePercentage="7")
    process = machine["States"]["ProcessFiles"]
    assert process["ToleratedFailurePercentage"] == 7
    per_file = process["ItemProcessor"]["States"]["Files"]["ItemProcessor"]["States"]
    for name in ("VideoMetadata", "PointCloudQc"):
        assert per_file[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "RecordFailure"}
        ]
    assert per_file["RecordFailure"]["Parameters"]["action"] == "record_failure"
    choice = per_file["ByKind"]
    assert [(r["Variable"], r["StringEquals"], r["Next"]) for r in choice["Choices"]] == [
        ("$.kind", "video", "VideoMetadata")
    ]
    assert choice["Default"] == "PointCloudQc"


# Which top-level fields each function's handler reads from its event: its contract's, and for
# Discover also the execution fields it checks for a run in flight.
HANDLER_EVENT_KEYS = {
    "Discover": {"run_id", "state_machine_arn", "execution_arn", "started_at"},
    **{name: set(STEPS[name].requires) for name in ("RecordFailure", "Segment", "Annotate")},
}


def _all_states(machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = dict(machine["States"])
    for state in machine["States"].values():
        for branch in [
            *state.get("Branches", []),
            *([state["ItemProcessor"]] if "ItemProcessor" in state else []),
        ]:
            found.update(_all_states(branch))
    return found


def test_each_task_passes_exactly_what_its_handler_reads() -> None:
    states = _all_states(definition())
    for name, keys in HANDLER_EVENT_KEYS.items():
        params = states[name]["Parameters"]
        payload = params.get("Payload", params)
        assert {k.removesuffix(".$") for k in payload} == keys, name
    # The per-file steps take the file item whole: its fields (with the kind) and the run id.
    selector = states["Files"]["ItemSelector"]
    assert {k.removesuffix(".$") for k in selector} == {*ITEM_FIELDS["files"], "run_id"}
    for name in ("VideoMetadata", "PointCloudQc"):
        assert set(STEPS[name].requires) <= {k.removesuffix(".$") for k in selector}, name


def test_task_resources_are_this_stacks_functions() -> None:
    effective = template()
    evaluation = cfn_template.evaluate(effective, "stack")
    functions = {
        evaluation.stack.get_att(evaluation, name, "Arn")
        for name, resource in effective["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    for name, state in _all_states(definition()).items():
        if state["Type"] != "Task":
            continue
        arn = (
            state["Parameters"]["FunctionName"]
            if "FunctionName" in state.get("Parameters", {})
            else state["Resource"]
        )
        assert arn in functions, name
