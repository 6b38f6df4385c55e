"""Every use case's state machines: each path a state reads was produced by the state before it.

The walk reads each ``AWS::StepFunctions::StateMachine`` definition from the use case's template,
as Step Functions receives it, and follows every edge (Next, Choice branches, Default, Catch, Map
and Parallel branches). It tracks which keys the state input holds, from the step contracts the
handlers enforce at runtime (``STEPS`` in ``<use case package>.contract``, skeleton steps
included): a Task's output holds only what its contract ``produces`` (not what it produces on
success), so a later state that reads a key a failed file lacks is caught here, not in production.

It checks reads in Parameters, ItemSelector, ItemReader, ItemsPath, InputPath, ``...Path`` fields
and Choice rules, context-object paths against the fields Step Functions provides, and Map item
fields against what the items carry. The deliberate breakages at the end prove that each check
can fail.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from scripts import catalog, cfn_template
from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.discovery import Chunk

# What the state input may hold: key -> its own shape, or None when its content is not known.
Shape = dict[str, Any]

CONTEXT_PATHS = re.compile(
    r"^\$\$\.(Execution\.(Id|Name|StartTime|Input|RoleArn|RedriveCount)|StateMachine\.(Id|Name)"
    r"|State\.(Name|EnteredTime|RetryCount)|Map\.Item\.(Value|Index)(\..+)?|Task\.Token)$"
)
PATH_IN_TEXT = re.compile(r"\$\$?(?:\.[A-Za-z0-9_]+)+|\$(?=[,)])")
CHUNK_FIELDS = tuple(field.name for field in dataclasses.fields(Chunk))
# Lists a Task returns whose items a Map iterates, by key: the skeleton's chunk of files. A use
# case whose loaded files carry more declares its own ``ITEM_FIELDS`` next to its ``STEPS``.
ITEM_FIELDS: dict[str, tuple[str, ...]] = {"files": FILE_ITEM}
LAMBDA_INVOKE = re.compile(r"^arn:[a-z-]+:states:::lambda:invoke(\.waitForTaskToken)?$")


class DataFlowError(AssertionError):
    """A state reads something the state before it may not have produced."""


def _shape(keys: Any) -> Shape:
    return dict.fromkeys(keys)


def state_machines(uc: catalog.UseCase) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, definition) of every state machine in the use case's template."""
    template = cfn_template.load(uc.template)
    for logical_id, resource in template.get("Resources", {}).items():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::StepFunctions::StateMachine":
            yield logical_id, cfn_template.definition_document(template, logical_id)


def _contract_module(uc: catalog.UseCase) -> Any:
    try:
        return importlib.import_module(f"{uc.package}.contract")
    except ModuleNotFoundError:
        return None


def step_contracts(uc: catalog.UseCase) -> Mapping[str, StepContract] | None:
    """``STEPS`` of ``<package>.contract``, or None when the use case declares none."""
    steps = getattr(_contract_module(uc), "STEPS", None)
    return steps if isinstance(steps, Mapping) else None


def item_fields(uc: catalog.UseCase) -> Mapping[str, tuple[str, ...]]:
    """The fields of the items a Map iterates, by list key: the skeleton's, or the use case's own."""
    fields = getattr(_contract_module(uc), "ITEM_FIELDS", None)
    return {**ITEM_FIELDS, **fields} if isinstance(fields, Mapping) else ITEM_FIELDS


def reads(node: Any) -> Iterator[str]:
    """Every JSONPath a Parameters-like block reads (``"key.$"`` values, intrinsic arguments too)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith(".$") and isinstance(value, str):
                if value.startswith("$"):
                    yield value
                else:  # an intrinsic function: States.Format('{}', $.a), States.Array($.b, $$.c)
                    yield from PATH_IN_TEXT.findall(value)
            else:
                yield from reads(value)
    elif isinstance(node, list):
        for value in node:
            yield from reads(value)


def _selector_output(block: Mapping[str, Any]) -> Shape:
    return _shape(key.removesuffix(".$") for key in block)


@dataclasses.dataclass
class Walker:
    """Walks one definition; raises :class:`DataFlowError` at the first unproven read."""

    contracts: Mapping[str, StepContract]
    items: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=lambda: ITEM_FIELDS)
    seen: list[str] = dataclasses.field(default_factory=list)
    _visited: set[tuple[str, str]] = dataclasses.field(default_factory=set)

    def check_path(self, state: str, path: str, available: Shape, item: tuple[str, ...] | None) -> None:
        if path == "$":
            return
        if path.startswith("$$."):
            if not CONTEXT_PATHS.match(path):
                raise DataFlowError(f"{state} reads {path}, which the context object does not hold")
            if path.startswith("$$.Map.Item"):
                if item is None and path.startswith("$$.Map.Item.Value."):
                    raise DataFlowError(f"{state} reads the map item outside a Map")
                field = path.removeprefix("$$.Map.Item.Value").lstrip(".").split(".")[0]
                if path.startswith("$$.Map.Item.Value.") and item and field not in item:
                    raise DataFlowError(f"{state} reads item field {field!r}, items carry {sorted(item)}")
            return
        node: Any = available
        for part in path.removeprefix("$.").split("."):
            if node is None:
                return  # below a key whose content is not known
            if part not in node:
                raise DataFlowError(f"{state} reads {path} but the state before produced only {sorted(node)}")
            node = node[part]

    def check_block(self, state: str, block: Any, available: Shape, item: tuple[str, ...] | None) -> None:
        for path in reads(block):
            self.check_path(state, path, available, item)

    def _choice_rules(self, rule: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        yield rule
        for key in ("And", "Or"):
            for sub in rule.get(key, ()):
                yield from self._choice_rules(sub)
        if "Not" in rule:
            yield from self._choice_rules(rule["Not"])

    def _after_result(self, state: Mapping[str, Any], available: Shape, result: Shape) -> Shape:
        if "ResultSelector" in state:
            result = _selector_output(state["ResultSelector"])
        target = state.get("ResultPath", "$")
        if target is None:
            out = available
        elif target == "$":
            out = result
        else:
            out = copy.deepcopy(available)
            node = out
            parts = target.removeprefix("$.").split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {}) or {}
            node[parts[-1]] = result
        output_path = state.get("OutputPath", "$")
        if output_path not in ("$", "$.Payload"):
            key = output_path.removeprefix("$.")
            inner = out.get(key)
            out = inner if isinstance(inner, dict) else {}
        return out

    def task(
        self, name: str, state: Mapping[str, Any], available: Shape, item: tuple[str, ...] | None
    ) -> Shape:
        params = state.get("Parameters")
        if params is not None:
            self.check_block(name, params, available, item)
        contract = self.contracts.get(name)
        if contract is None:
            raise DataFlowError(f"{name} has no step contract (STEPS) saying what it needs and produces")
        resource = LAMBDA_INVOKE.match(str(state.get("Resource", "")))
        invoke = resource is not None
        # A task-token wait's result is the token's answer, not Lambda's invoke envelope.
        waits = resource is not None and resource.group(1) is not None
        payload: Any = params.get("Payload") if invoke and params else params
        if invoke and params and params.get("Payload.$") == "$":
            received = set(available)
        elif isinstance(payload, dict):
            received = set(_selector_output(payload))
        else:
            received = set(available)
        missing = set(contract.requires) - received
        if missing:
            raise DataFlowError(f"{name} requires {sorted(missing)} which its input lacks")
        if waits and "$$.Task.Token" not in set(reads(payload)):
            raise DataFlowError(f"{name} waits for a task token but does not pass $$.Task.Token")
        if invoke and not waits and state.get("OutputPath") != "$.Payload" and "ResultSelector" not in state:
            raise DataFlowError(
                f"{name} keeps Lambda's invoke envelope: set OutputPath $.Payload or a ResultSelector"
            )
        # Later states may rely only on keys present in every output.
        return self._after_result(state, available, _shape(contract.produces))

    def walk(
        self, states: Mapping[str, Any], start: str, available: Shape, item: tuple[str, ...] | None
    ) -> None:
        name: str | None = start
        while name is not None:
            visit = (name, repr(sorted(available)))
            if visit in self._visited:
                return  # a loop back with the same input: nothing new to prove
            self._visited.add(visit)
            state = states[name]
            self.seen.append(name)
            kind = state["Type"]
            if "InputPath" in state and state["InputPath"] not in (None, "$"):
                self.check_path(name, state["InputPath"], available, item)
            structural = {"InputPath", "OutputPath", "ResultPath", "ItemsPath"}
            for key, value in state.items():
                if key.endswith("Path") and key not in structural and isinstance(value, str):
                    self.check_path(name, value, available, item)
            for catch in state.get("Catch", ()):
                target = catch.get("ResultPath", "$")
                caught = _shape(("Error", "Cause"))
                if target is None:
                    after = available
                elif target == "$":
                    after = caught
                else:
                    after = {**available, target.removeprefix("$."): caught}
                self.walk(states, catch["Next"], after, item)
            if kind == "Task":
                available = self.task(name, state, available, item)
            elif kind == "Pass":
                if "Parameters" in state:
                    self.check_block(name, state["Parameters"], available, item)
                    result = _selector_output(state["Parameters"])
                    for key, value in state["Parameters"].items():
                        if isinstance(value, dict) and not key.endswith(".$"):
                            result[key] = _selector_output(value)
                    available = self._after_result(state, available, result)
                elif "Result" in state:
                    result = state["Result"]
                    available = self._after_result(
                        state, available, _shape(result) if isinstance(result, dict) else {}
                    )
            elif kind == "Choice":
                for choice in state["Choices"]:
                    guarded = any("IsPresent" in rule for rule in self._choice_rules(choice))
                    for rule in self._choice_rules(choice):
                        if "Variable" in rule and not guarded:
                            self.check_path(name, rule["Variable"], available, item)
                        for key, value in rule.items():
                            if key.endswith("Path") and isinstance(value, str):
                                self.check_path(name, value, available, item)
                    self.walk(states, choice["Next"], available, item)
                name = state.get("Default")
                continue
            elif kind == "Map":
                available = self.map(name, state, available, item)
            elif kind == "Parallel":
                for branch in state["Branches"]:
                    self.walk(branch["States"], branch["StartAt"], available, item)
                available = self._after_result(state, available, {})
            name = None if state.get("End") or kind in {"Succeed", "Fail"} else state.get("Next")

    def map(
        self, name: str, state: Mapping[str, Any], available: Shape, item: tuple[str, ...] | None
    ) -> Shape:
        if "ItemReader" in state:
            self.check_block(name, state["ItemReader"].get("Parameters", {}), available, item)
            map_item: tuple[str, ...] | None = CHUNK_FIELDS
        else:
            items_path = state.get("ItemsPath", "$")
            self.check_path(name, items_path, available, item)
            map_item = self.items.get(items_path.removeprefix("$."))
        selector = state.get("ItemSelector") or state.get("Parameters")
        if selector is not None:
            self.check_block(name, selector, available, map_item)
            start = _selector_output(selector)
        else:
            start = _shape(map_item) if map_item else {}
        processor = state.get("ItemProcessor") or state["Iterator"]
        self.walk(processor["States"], processor["StartAt"], start, map_item)
        if (
            processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
            and state.get("ResultPath", "$") is not None
        ):
            raise DataFlowError(
                f"{name} must not pull every result of a Distributed Map into the state payload"
            )
        return self._after_result(state, available, {})


def _machines() -> list[Any]:
    return [
        pytest.param(uc, logical_id, definition, id=f"{uc.name}:{logical_id}")
        for uc in catalog.USE_CASES
        if uc.number and uc.exists
        for logical_id, definition in state_machines(uc)
    ]


@pytest.mark.parametrize(("uc", "logical_id", "definition"), _machines())
def test_every_state_reads_only_what_the_state_before_produced(
    uc: catalog.UseCase, logical_id: str, definition: dict[str, Any]
) -> None:
    contracts = step_contracts(uc)
    if contracts is None:
        pytest.skip(f"{uc.name} declares no step contracts yet ({uc.package}.contract.STEPS)")
    walker = Walker(contracts, item_fields(uc))
    walker.walk(definition["States"], definition["StartAt"], {}, None)
    unreached = set(contracts) - set(walker.seen)
    assert not unreached, f"contracts of states the walk never reached: {sorted(unreached)}"


# -- deliberate breakages: each check can fail ----------------------------------------------------


def _retail() -> tuple[dict[str, Any], Mapping[str, StepContract]]:
    uc = catalog.find("retail-catalog")
    contracts = step_contracts(uc)
    assert contracts is not None
    return dict(state_machines(uc))["StateMachine"], contracts


def _per_file(definition: dict[str, Any]) -> dict[str, Any]:
    files: dict[str, Any] = definition["States"]["ProcessChunks"]["ItemProcessor"]["States"]["ProcessFiles"]
    return files


BREAKAGES = {
    "an item selector reads a key nobody produced": (
        lambda d: _per_file(d)["ItemSelector"].__setitem__("thumbnail.$", "$.thumbnail"),
        "thumbnail",
    ),
    "a map item field the items do not carry": (
        lambda d: _per_file(d)["ItemSelector"].__setitem__("colour.$", "$$.Map.Item.Value.colour"),
        "item field 'colour'",
    ),
    "a choice tests a key that is not always there": (
        lambda d: d["States"]["AnyFiles"]["Choices"][1].__setitem__("Variable", "$.tagging"),
        "reads $.tagging",
    ),
    "the failure record reads a catch result under another name": (
        lambda d: _per_file(d)["ItemProcessor"]["States"]["ImageTagging"]["Catch"][0].__setitem__(
            "ResultPath", "$.oops"
        ),
        "reads $.caught",
    ),
    "a task's payload lacks what its contract requires": (
        lambda d: d["States"]["Discover"]["Parameters"]["Payload"].pop("run_id.$"),
        "Discover requires ['run_id']",
    ),
    "a context path Step Functions does not provide": (
        lambda d: d["States"]["Discover"]["Parameters"]["Payload"].__setitem__(
            "when.$", "$$.Execution.EndTime"
        ),
        "context object",
    ),
    "a distributed map that collects every result": (
        lambda d: d["States"]["ProcessChunks"].pop("ResultPath"),
        "Distributed Map",
    ),
}


@pytest.mark.parametrize("case", list(BREAKAGES), ids=list(BREAKAGES))
def test_the_walk_catches_each_deliberate_breakage(case: str) -> None:
    definition, contracts = _retail()
    Walker(contracts).walk(definition["States"], definition["StartAt"], {}, None)  # intact: passes
    breakage, message = BREAKAGES[case]
    broken = copy.deepcopy(definition)
    breakage(broken)
    with pytest.raises(DataFlowError, match=re.escape(message)):
        Walker(contracts).walk(broken["States"], broken["StartAt"], {}, None)


def _uc9() -> tuple[dict[str, Any], Mapping[str, StepContract], Mapping[str, tuple[str, ...]]]:
    uc = catalog.find("autonomous-driving")
    contracts = step_contracts(uc)
    assert contracts is not None
    return dict(state_machines(uc))["StateMachine"], contracts, item_fields(uc)


Items = Mapping[str, tuple[str, ...]]


def _token_not_passed(definition: dict[str, Any], items: Items) -> Items:
    definition["States"]["Segment"]["Parameters"]["Payload"]["task_token.$"] = "$.discovery.run_id"
    return items


def _annotate_without_chunks(definition: dict[str, Any], items: Items) -> Items:
    definition["States"]["Annotate"]["Parameters"].pop("chunks_key.$")
    return items


def _items_without_kind(definition: dict[str, Any], items: Items) -> Items:
    return ITEM_FIELDS


UC9_BREAKAGES = {
    "a task-token wait that does not pass its token": (_token_not_passed, "does not pass $$.Task.Token"),
    "the annotation step without the run's chunks": (
        _annotate_without_chunks,
        "Annotate requires ['chunks_key']",
    ),
    "items without the kind the per-file choice routes on": (_items_without_kind, "item field 'kind'"),
}


@pytest.mark.parametrize("case", list(UC9_BREAKAGES), ids=list(UC9_BREAKAGES))
def test_the_walk_catches_each_deliberate_breakage_of_uc9(case: str) -> None:
    definition, contracts, items = _uc9()
    Walker(contracts, items).walk(definition["States"], definition["StartAt"], {}, None)  # intact
    breakage, message = UC9_BREAKAGES[case]
    broken = copy.deepcopy(definition)
    broken_items = breakage(broken, items)
    with pytest.raises(DataFlowError, match=re.escape(message)):
        Walker(contracts, broken_items).walk(broken["States"], broken["StartAt"], {}, None)
