"""Sample events: every function of every use case has one under ``events/``, and each one is usable.

Each sample parses as a JSON object; Kinesis records carry base64 JSON; and when the handler
declares input contracts (objects with ``requires`` and ``check_input``, such as the polling steps'
``StepContract``), the sample meets one of them. No sample is left without its function.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from typing import Any

import pytest

from scripts import catalog
from tests.contract import checks
from tests.handlers import load_handler

logger = logging.getLogger(__name__)

USE_CASES = [uc for uc in catalog.USE_CASES if uc.exists]
FUNCTIONS = [
    pytest.param(uc, folder.name, id=f"{uc.name}-{folder.name}")
    for uc in USE_CASES
    for folder in checks.function_folders(uc)
]


@pytest.mark.parametrize(("uc", "function"), FUNCTIONS)
def test_every_sample_event_parses_and_meets_its_contract(uc: catalog.UseCase, function: str) -> None:
    samples = checks.event_files(uc, function)
    assert samples, f"{uc.name}/{function} has no events/{function}.json"
    contracts = checks.declared_contracts(load_handler(uc.functions_dir / function))
    for sample in samples:
        where = str(sample.relative_to(catalog.ROOT))
        assert checks.event_problems(where, sample.read_text(), contracts) == []


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_every_sample_event_belongs_to_a_function(uc: catalog.UseCase) -> None:
    functions = [folder.name for folder in checks.function_folders(uc)]
    owned = {path for function in functions for path in checks.event_files(uc, function)}
    assert sorted(p.name for p in (uc.path / "events").glob("*.json") if p not in owned) == []


@dataclass(frozen=True)
class _Contract:
    name: str
    requires: tuple[str, ...]

    def check_input(self, event: Any) -> Any:
        missing = [key for key in self.requires if key not in event]
        if missing:
            raise ValueError(f"lacks {missing}")
        return event


def _kinesis(data: str) -> str:
    return json.dumps({"Records": [{"kinesis": {"data": data}}]})


GOOD = json.dumps({"key": "a.jpg", "run_id": "r"})
CONTRACTS = [_Contract("Step", ("key", "run_id")), _Contract("Other", ("action",))]
EVENT_BREAKAGES = {
    "not json": ("{'key': 1}", "not JSON"),
    "not an object": ("[1, 2]", "JSON object"),
    "a required key missing": (json.dumps({"key": "a.jpg"}), "meets none"),
    "kinesis data not base64": (_kinesis("%%%"), "base64"),
    "kinesis data not json": (_kinesis(base64.b64encode(b"not json").decode()), "base64 JSON"),
}


def test_a_conforming_sample_passes() -> None:
    assert checks.event_problems("e.json", GOOD, CONTRACTS) == []
    assert checks.event_problems("e.json", json.dumps({"action": "load"}), CONTRACTS) == []
    assert checks.event_problems("e.json", _kinesis(base64.b64encode(b'{"a": 1}').decode())) == []


@pytest.mark.parametrize("breakage", list(EVENT_BREAKAGES))
def test_each_event_check_catches_its_breakage(breakage: str) -> None:
    text, words = EVENT_BREAKAGES[breakage]
    problems = checks.event_problems("e.json", text, CONTRACTS)
    assert problems and any(words in p for p in problems), problems


def test_the_retail_handlers_declare_their_contracts() -> None:
    """The contract lookup finds the polling steps' contracts, so the check above is not vacuous."""
    uc = catalog.find("retail-catalog")
    found = checks.declared_contracts(load_handler(uc.functions_dir / "image_tagging"))
    assert [c.name for c in found] == ["ImageTagging"]
