"""The prompt's byte budget: facts fit, lists are halved and summarised, every step is noted."""

from __future__ import annotations

import json
import math

import pytest

from shared.report.budget import OMITTED, fit_facts, json_bytes, sanitize
from shared.report.errors import PromptBudgetError


def rows(n: int) -> list[dict[str, object]]:
    return [
        {"share": f"share-{i:03d}", "owner": f"CORP\\user{i}", "findings": i + 1, "bytes": 10.5}
        for i in range(n)
    ]


def test_small_facts_are_sent_unchanged() -> None:
    facts = {"totals": {"files": 12, "findings": 3}, "by_rule": rows(2)}
    fitted = fit_facts(facts, 10_000)
    assert fitted.facts == facts
    assert not fitted.trimmed and fitted.notes == ()
    assert fitted.sent_bytes == fitted.original_bytes == json_bytes(facts)


def test_a_long_list_is_cut_to_fit_and_its_dropped_items_are_summed() -> None:
    facts = {"totals": {"files": 500}, "by_share": rows(500)}
    fitted = fit_facts(facts, 2_000)
    assert fitted.sent_bytes <= 2_000 < fitted.original_bytes
    kept = fitted.facts["by_share"]
    summary = kept[-1][OMITTED]
    real = kept[:-1]
    assert len(real) + summary["items"] == 500
    # the totals of what was cut plus what was kept are the true totals
    assert summary["totals"]["findings"] + sum(r["findings"] for r in real) == sum(range(1, 501))
    assert real == rows(500)[: len(real)]  # the head is kept in order
    assert fitted.facts["totals"] == {"files": 500}
    assert any("of 500 items" in note and "facts.by_share" in note for note in fitted.notes)


def test_the_largest_list_is_cut_first() -> None:
    facts = {"small": rows(6), "large": rows(300)}
    fitted = fit_facts(facts, json_bytes(facts) - 500)
    assert fitted.facts["small"] == rows(6)
    assert OMITTED in fitted.facts["large"][-1]


def test_nested_lists_and_long_texts_shrink_when_lists_cannot() -> None:
    facts = {"note": "x" * 5_000, "items": [1, 2]}
    fitted = fit_facts(facts, 1_000)
    assert fitted.sent_bytes <= 1_000
    assert fitted.facts["note"].endswith("…")
    assert any("text cut to" in note for note in fitted.notes)


def test_a_budget_too_small_for_the_skeleton_is_a_typed_error() -> None:
    facts = {f"key_{i}": i for i in range(100)}
    with pytest.raises(PromptBudgetError) as caught:
        fit_facts(facts, 50)
    assert caught.value.details["budget_bytes"] == 50
    assert caught.value.details["needed_bytes"] > 50


def test_nan_and_infinity_are_sent_as_null_with_a_note() -> None:
    notes: list[str] = []
    clean = sanitize({"mean": math.nan, "rows": [{"x": math.inf}], "ok": 1.5}, notes)
    assert clean == {"mean": None, "rows": [{"x": None}], "ok": 1.5}
    json.dumps(clean, allow_nan=False)
    assert len(notes) == 2 and "facts.mean" in notes[0]
    fitted = fit_facts({"mean": math.nan}, 100)
    assert fitted.facts == {"mean": None} and fitted.notes


def test_unknown_types_become_strings() -> None:
    from datetime import date

    assert sanitize({"day": date(2026, 1, 2), "tags": {"b", "a"}, "t": (1, 2)}) == {
        "day": "2026-01-02",
        "tags": ["a", "b"],
        "t": [1, 2],
    }


@pytest.mark.parametrize("budget", [400, 900, 3_000, 20_000])
def test_any_budget_that_can_hold_the_skeleton_is_met(budget: int) -> None:
    facts = {"a": rows(200), "b": {"c": rows(120), "d": [rows(5), rows(40)]}, "n": 3}
    fitted = fit_facts(facts, budget)
    assert fitted.sent_bytes <= budget
    assert fitted.facts["n"] == 3
