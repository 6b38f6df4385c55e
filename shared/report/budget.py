"""Fit a run's aggregates into a byte budget before they go into a prompt.

The report step sends aggregates (counts per rule, per share, top offenders), never every row, and
the prompt has a hard byte budget so a large run cannot make the call slow, expensive or refused.
:func:`fit_facts` takes the facts as a JSON-like mapping and returns them unchanged when their
compact JSON fits. Otherwise it shortens them step by step until they do, and records a note for
every step, so the report says what the model did not see:

1. The list with the largest JSON is cut to half its length (never below ``min_items``); the items
   cut off are replaced by ONE summary item, ``{"_omitted": {"items": n, "totals": {...}}}``, whose
   totals add up every numeric field of the dropped items (a count per rule stays a true total).
2. When no list can be cut further, the longest string over 120 characters is cut in half
   (ending in ``…``).
3. Then lists go below ``min_items``, down to their summary item alone.
4. When nothing is left to shorten, :class:`PromptBudgetError` is raised: the budget is too small for
   even the skeleton of the facts.

Floats that are NaN or infinite become ``null`` (with a note), and values JSON does not know
(dates, decimals, sets) become strings, so the text sent is always valid JSON. Sizes are UTF-8
bytes of ``json.dumps(..., separators=(",", ":"), ensure_ascii=False)``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Mapping
from typing import Any

from shared.report.errors import PromptBudgetError

logger = logging.getLogger(__name__)

OMITTED = "_omitted"
MIN_STRING_CUT = 120
_Path = tuple[str | int, ...]


def json_bytes(value: Any) -> int:
    """UTF-8 size of ``value`` as compact JSON."""
    return len(compact_json(value).encode("utf-8"))


def compact_json(value: Any) -> str:
    """``value`` as compact JSON (no NaN: :func:`sanitize` first)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sanitize(value: Any, notes: list[str] | None = None, path: str = "facts") -> Any:
    """A JSON-safe deep copy: NaN/inf -> None (noted), unknown types -> str, tuple/set -> list."""
    if isinstance(value, Mapping):
        return {str(k): sanitize(v, notes, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [sanitize(v, notes, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, set | frozenset):
        return [sanitize(v, notes, f"{path}[{i}]") for i, v in enumerate(sorted(value, key=str))]
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        if notes is not None:
            notes.append(f"{path}: {value!r} is not a JSON number and was sent as null")
        return None
    return str(value)


@dataclasses.dataclass(frozen=True)
class FittedFacts:
    """The facts as sent, their sizes before and after, and one note per shortening step."""

    facts: dict[str, Any]
    budget_bytes: int
    original_bytes: int
    sent_bytes: int
    notes: tuple[str, ...]

    @property
    def trimmed(self) -> bool:
        return self.sent_bytes < self.original_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget_bytes": self.budget_bytes,
            "original_bytes": self.original_bytes,
            "sent_bytes": self.sent_bytes,
            "trimmed": self.trimmed,
            "notes": list(self.notes),
        }


def _label(path: _Path) -> str:
    text = "facts"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _omitted_summary(items: list[Any]) -> dict[str, Any]:
    totals: dict[str, float | int] = {}
    for item in items:
        if isinstance(item, dict):
            for key, value in item.items():
                if _is_number(value) and key != OMITTED:
                    totals[key] = totals.get(key, 0) + value
            inner = item.get(OMITTED)
            if isinstance(inner, dict):  # an item that summarises an earlier cut
                for key, value in (inner.get("totals") or {}).items():
                    if _is_number(value):
                        totals[key] = totals.get(key, 0) + value
    summary: dict[str, Any] = {"items": len(items)}
    if totals:
        summary["totals"] = {k: round(v, 6) if isinstance(v, float) else v for k, v in sorted(totals.items())}
    return {OMITTED: summary}


class _Fitter:
    def __init__(self, facts: dict[str, Any], min_items: int) -> None:
        self.original = facts
        self.min_items = min_items
        self.kept: dict[_Path, int] = {}
        self.cut: dict[_Path, int] = {}

    def render(self, node: Any = None, path: _Path = ()) -> Any:
        node = self.original if path == () else node
        if isinstance(node, dict):
            return {k: self.render(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            n = self.kept.get(path, len(node))
            items = [self.render(v, (*path, i)) for i, v in enumerate(node[:n])]
            if n < len(node):
                items.append(_omitted_summary(node[n:]))
            return items
        if isinstance(node, str) and path in self.cut:
            return node[: self.cut[path]] + "…"
        return node

    def candidates(
        self,
        node: Any,
        path: _Path,
        lists: list[tuple[int, _Path, int]],
        strings: list[tuple[int, _Path]],
        floor: int,
    ) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k != OMITTED:
                    self.candidates(v, (*path, k), lists, strings, floor)
        elif isinstance(node, list):
            n = self.kept.get(path, len(node))
            if n > floor:
                lists.append((json_bytes(node[:n]), path, n))
            for i, v in enumerate(node[:n]):
                self.candidates(v, (*path, i), lists, strings, floor)
        elif isinstance(node, str):
            current = self.cut.get(path, len(node))
            if current > MIN_STRING_CUT:
                strings.append((current, path))

    def shrink(self) -> bool:
        lists: list[tuple[int, _Path, int]] = []
        strings: list[tuple[int, _Path]] = []
        self.candidates(self.original, (), lists, strings, self.min_items)
        if lists:
            _, path, n = max(lists, key=lambda c: (c[0], c[2]))
            self.kept[path] = max(self.min_items, n // 2)
            return True
        if strings:
            length, path = max(strings)
            self.cut[path] = max(MIN_STRING_CUT, length // 2)
            return True
        self.candidates(self.original, (), lists, strings, 0)
        if lists:
            _, path, n = max(lists, key=lambda c: (c[0], c[2]))
            self.kept[path] = n // 2
            return True
        return False

    def notes(self) -> list[str]:
        notes = []
        for path, n in sorted(self.kept.items(), key=lambda kv: _label(kv[0])):
            total = len(self._at(path))
            notes.append(
                f"{_label(path)}: kept the first {n} of {total} items; the other {total - n} are "
                f"summarised in one {OMITTED} item (count and numeric totals)"
            )
        for path, n in sorted(self.cut.items(), key=lambda kv: _label(kv[0])):
            notes.append(f"{_label(path)}: text cut to {n} of {len(self._at(path))} characters")
        return notes

    def _at(self, path: _Path) -> Any:
        node: Any = self.original
        for part in path:
            node = node[part]
        return node


def fit_facts(facts: Mapping[str, Any], budget_bytes: int, *, min_items: int = 3) -> FittedFacts:
    """``facts`` shortened until their compact JSON is at most ``budget_bytes`` (module docstring)."""
    if budget_bytes <= 2:
        raise PromptBudgetError(
            f"a facts budget of {budget_bytes} bytes cannot hold any facts", budget_bytes=budget_bytes
        )
    notes: list[str] = []
    clean = sanitize(facts, notes)
    original_bytes = json_bytes(clean)
    fitter = _Fitter(clean, max(0, min_items))
    current = clean
    size = original_bytes
    steps = 0
    while size > budget_bytes:
        if not fitter.shrink():
            raise PromptBudgetError(
                f"the facts need {size} bytes after every list and text was shortened; the budget is "
                f"{budget_bytes} bytes: raise the budget or send fewer aggregates",
                budget_bytes=budget_bytes,
                needed_bytes=size,
            )
        current = fitter.render()
        size = json_bytes(current)
        steps += 1
    if steps:
        logger.info("facts shortened from %d to %d bytes in %d steps", original_bytes, size, steps)
    return FittedFacts(
        facts=current,
        budget_bytes=budget_bytes,
        original_bytes=original_bytes,
        sent_bytes=size,
        notes=tuple(notes + fitter.notes()),
    )
