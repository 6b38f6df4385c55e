"""The state machine definition, walked statically: every path a state reads exists on every way in.

The walk models the state as a tree of keys that are certainly present. Lambda results are opaque:
a state may pass them on whole, but reading into one would depend on a function's output rather
than on the definition, so it counts as a violation, unless the step has a contract in the polling
skeleton (``shared.polling.contract``), whose ``produces`` keys are then present. A Catch adds
``{"Error": ...}`` only (a Cause is not promised). Where two paths meet, only keys present on both
survive. A Map's item processor is walked from its ItemSelector.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from scripts import cfn_template
from shared.polling.contract import DISCOVERY, LOAD_CHUNK

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "autonomous-driving" / "template.yaml"

OPAQUE = "<lambda result>"
LEAF = "<value>"
CONTEXT_PATHS = {
    "$$.Execution.Name",
    "$$.Execution.Id",
    "$$.Execution.StartTime",
    "$$.StateMachine.Id",
    "$$.Task.Token",
    "$$.Map.Item.Value",
}
# Steps whose Lambda result has a contract: their ``produces`` keys may be read.
CONTRACTS = {"Discover": DISCOVERY.produces, "LoadChunk": LOAD_CHUNK.produces}
Shape = Any


def template() -> dict[str, Any]:
    """The effective template: the definition file inline with its DefinitionSubstitutions."""
    return cfn_template.load(TEMPLATE_PATH)


def raw_definition() -> str:
    return (TEMPLATE_PATH.parent / "statemachine" / "pipeline.asl.json").read_text()


def definition(**overrides: str) -> dict[str, Any]:
    """The definition as Step Functions receives it: parameters at their defaults unless overridden."""
    return cfn_template.definition_document(template(), "StateMachine", parameters=overrides)


# -- the walk -------------------------------------------------------------------------------------


class FlowViolationError(AssertionError):
    pass


def read(shape: Shape, path: str, where: str) -> Shape:
    if path.startswith("$$."):
        if path not in CONTEXT_PATHS and not path.startswith("$$.Map.Item.Value."):
            raise FlowViolationError(f"{where}: unknown context path {path}")
        return LEAF
    if path == "$":
        return shape
    parts = re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path[1:])
    current = shape
    for name, index in parts:
        key: Any = name or int(index)
        if current == OPAQUE:
            raise FlowViolationError(f"{where}: {path} reads into a Lambda result")
        in_list = isinstance(current, list) and isinstance(key, int) and key < len(current)
        if in_list or (isinstance(current, dict) and key in current):
            current = current[key]
        else:
            raise FlowViolationError(f"{where}: {path} is not produced on every path into this state")
    return current


def build(template_value: Any, shape: Shape, where: str) -> Shape:
    """The shape a Parameters / ResultSelector block produces, checking every path it reads."""
    if isinstance(template_value, dict):
        out = {}
        for key, value in template_value.items():
            if key.endswith(".$"):
                out[key[:-2]] = read(shape, value, where)
            else:
                out[key] = build(value, shape, where)
        return out
    return LEAF


def literal(value: Any) -> Shape:
    if isinstance(value, dict):
        return {k: literal(v) for k, v in value.items()}
    return LEAF


def place(shape: Shape, result: Shape, result_path: str | None, where: str) -> Shape:
    if result_path is None:
        return shape  # ResultPath null keeps the input
    if result_path == "$":
        return result
    if not isinstance(shape, dict):
        raise FlowViolationError(f"{where}: ResultPath {result_path} into a non-object")
    keys = result_path[2:].split(".")
    out = copy.deepcopy(shape)
    target = out
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = result
    return out


def meet(a: Shape, b: Shape) -> Shape:
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: meet(a[k], b[k]) for k in a.keys() & b.keys()}
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [meet(x, y) for x, y in zip(a, b, strict=True)]
    return a if a == b else LEAF


def run_state(name: str, state: dict[str, Any], shape: Shape) -> tuple[Shape, list[tuple[str, Shape]]]:
    """(normal output, [(catch target, catch output)]) of one state."""
    kind = state["Type"]
    if "InputPath" in state:
        shape = read(shape, state["InputPath"], name)
    catches: list[tuple[str, Shape]] = []
    if kind == "Pass":
        if "Parameters" in state:
            result = build(state["Parameters"], shape, name)
        elif "Result" in state:
            result = literal(state["Result"])
        else:
            result = shape
        out = place(shape, result, state.get("ResultPath", "$"), name)
    elif kind == "Task":
        build(state.get("Parameters", {}), shape, name)
        result: Shape = dict.fromkeys(CONTRACTS[name], LEAF) if name in CONTRACTS else OPAQUE
        if "ResultSelector" in state:
            result = build(state["ResultSelector"], result, name)
        out = place(shape, result, state.get("ResultPath", "$"), name)
    elif kind == "Map":
        if "ItemsPath" in state:
            read(shape, state["ItemsPath"], name)
        build(state.get("ItemReader", {}).get("Parameters", {}), shape, name)
        item = build(state["ItemSelector"], shape, name) if "ItemSelector" in state else LEAF
        walk(state["ItemProcessor"], item)
        out = place(shape, OPAQUE, state.get("ResultPath", "$"), name)
    elif kind == "Parallel":
        outputs = [walk(branch, shape) for branch in state["Branches"]]
        result = build(state["ResultSelector"], outputs, name) if "ResultSelector" in state else outputs
        out = place(shape, result, state.get("ResultPath", "$"), name)
    elif kind == "Choice":
        for rule in state["Choices"]:
            read(shape, rule["Variable"], name)
        out = shape
    else:
        out = shape
    for catch in state.get("Catch", []):
        catches.append((catch["Next"], place(shape, {"Error": LEAF}, catch.get("ResultPath", "$"), name)))
    if "OutputPath" in state:
        out = read(out, state["OutputPath"], name)
    return out, catches


def successors(state: dict[str, Any]) -> list[str]:
    nexts = [state["Next"]] if "Next" in state else []
    if state["Type"] == "Choice":
        nexts += [rule["Next"] for rule in state["Choices"]] + [state["Default"]]
    return nexts


def walk(machine: dict[str, Any], start: Shape) -> Shape:
    """Propagate shapes through a (loop-free) machine; returns the meet of its terminal outputs."""
    states = machine["States"]
    incoming: dict[str, list[Shape]] = {name: [] for name in states}
    incoming[machine["StartAt"]].append(start)
    order = _topological(machine)
    ends: list[Shape] = []
    for name in order:
        if not incoming[name]:
            raise FlowViolationError(f"{name} is unreachable")
        shape = incoming[name][0]
        for other in incoming[name][1:]:
            shape = meet(shape, other)
        out, catches = run_state(name, states[name], shape)
        for target in successors(states[name]):
            incoming[target].append(out)
        for target, caught in catches:
            incoming[target].append(caught)
        if states[name].get("End") or states[name]["Type"] in {"Succeed", "Fail"}:
            ends.append(out)
    result = ends[0]
    for other in ends[1:]:
        result = meet(result, other)
    return result


def _topological(machine: dict[str, Any]) -> list[str]:
    states = machine["States"]
    edges = {
        name: successors(state) + [c["Next"] for c in state.get("Catch", [])]
        for name, state in states.items()
    }
    seen: set[str] = set()
    order: list[str] = []

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in stack:
            raise FlowViolationError(f"loop through {name}")
        if name in seen:
            return
        for target in edges[name]:
            visit(target, (*stack, name))
        seen.add(name)
        order.append(name)

    for name in states:
        visit(name, ())
    return order[::-1]


# -- tests ----------------------------------------------------------------------------------------


def test_no_state_reads_a_path_that_some_way_in_does_not_produce() -> None:
    for enabled in ("true", "false"):
        walk(definition(EnableSageMakerTransform=enabled), {"anything": LEAF})


def test_the_schedule_input_cannot_change_the_flow() -> None:
    """Whatever the schedule sends (here: nothing at all), the walk holds."""
    walk(definition(), {})


def test_the_walk_catches_a_state_that_reads_a_path_only_one_branch_wrote() -> None:
    machine = definition()
    machine["States"]["Annotate"]["Parameters"]["error.$"] = "$.segmentation_error"
    with pytest.raises(FlowViolationError, match="segmentation_error is not produced on every path"):
        walk(machine, {})


def test_the_walk_catches_a_read_into_a_lambda_result() -> None:
    machine = definition()
    machine["States"]["Segment"]["Next"] = "Peek"
    peek = {
        "Type": "Pass",
        "Parameters": {"s.$": "$.segmentation.status"},
        "ResultPath": "$.peek",
        "Next": "Annotate",
    }
    machine["States"]["Peek"] = peek
    with pytest.raises(FlowViolationError, match="reads into a Lambda result"):
        walk(machine, {})


def test_the_walk_catches_a_per_file_state_that_reads_what_the_item_selector_left_out() -> None:
    machine = definition()
    files = machine["States"]["ProcessFiles"]["ItemProcessor"]["States"]["Files"]
    del files["ItemSelector"]["etag.$"]
    with pytest.raises(FlowViolationError, match=r"RecordFailure: \$\.etag is not produced"):
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


# Which top-level fields each function's handler reads from its event.
HANDLER_EVENT_KEYS = {
    "Discover": {"run_id", "state_machine_arn", "execution_arn", "started_at"},
    "RecordFailure": {"action", "key", "etag", "run_id", "caught"},
    "Segment": {"task_token", "run_id", "execution_id"},
    "Annotate": {"run_id", "execution_id", "chunks_key", "segmentation"},
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
    # The per-file steps take the file item whole: the file fields, its kind and the run id.
    selector = states["Files"]["ItemSelector"]
    assert {k.removesuffix(".$") for k in selector} == {
        "key",
        "etag",
        "size",
        "last_modified",
        "kind",
        "run_id",
    }


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
