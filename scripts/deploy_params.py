"""Stack parameters for ``make deploy``: PARAMS overrides, per-use-case defaults, previous values.

``PARAMS`` uses the syntax of ``aws cloudformation deploy --parameter-overrides``: whitespace-separated
``Key=Value`` pairs, shell quoting for values with spaces (``Name="two words"``), and everything after
the first ``=`` is the value (``Filter=a=b``). A name the template does not declare is an error that
lists the valid names: a typo must never deploy a stack with a silently ignored setting.

Precedence, lowest first: the template's ``Default``, ``<uc-folder>/params.json``, the stack's current
value (on an update, like ``aws cloudformation deploy``), then ``PARAMS``. ``ArtifactBucket`` is always
set by the deploy itself.

Every value is checked against the template's own rules (``AllowedValues``, ``AllowedPattern``,
``MinLength``/``MaxLength``, ``MinValue``/``MaxValue`` and the ``Number`` types) before anything is
uploaded, as CloudFormation would check it, so a bad value fails in one line naming the rule.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ARTIFACT_BUCKET_PARAMETER = "ArtifactBucket"
_NAME = re.compile(r"^[A-Za-z0-9]+$")


class ParameterError(ValueError):
    """A parameter override or default is malformed or names no template parameter."""


def parse_overrides(text: str | None) -> dict[str, str]:
    """Parse ``Key=Value Key2="a b"`` into a dict (the last of repeated keys wins)."""
    if not text or not text.strip():
        return {}
    try:
        tokens = shlex.split(text)
    except ValueError as error:
        raise ParameterError(f"PARAMS cannot be parsed ({error}): {text!r}") from error
    result: dict[str, str] = {}
    for token in tokens:
        name, sep, value = token.partition("=")
        if not sep or not name:
            raise ParameterError(f"PARAMS: expected Key=Value, got {token!r}")
        if not _NAME.match(name):
            raise ParameterError(f"PARAMS: {name!r} is not a parameter name (letters and digits only)")
        result[name] = value
    return result


def load_defaults(path: Path) -> dict[str, str]:
    """``params.json``: a JSON object of parameter name to value (strings, numbers or booleans)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ParameterError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: expected a JSON object of parameter names to values")
    return {str(name): as_parameter_value(value) for name, value in data.items()}


def as_parameter_value(value: Any) -> str:
    """CloudFormation parameter values are strings; YAML/JSON booleans become ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(as_parameter_value(item) for item in value)
    return str(value)


@dataclass(frozen=True)
class ResolvedParameters:
    """What is sent to CloudFormation, and the plain values used to detect a no-op redeploy."""

    values: dict[str, str]
    keep_previous: frozenset[str]  # NoEcho values already in the stack: sent as UsePreviousValue

    def api(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = [
            {"ParameterKey": name, "ParameterValue": value} for name, value in self.values.items()
        ]
        entries += [{"ParameterKey": name, "UsePreviousValue": True} for name in sorted(self.keep_previous)]
        return entries


def check_names(declared: Mapping[str, Any], sources: Mapping[str, Mapping[str, str]]) -> None:
    """Refuse a name the template does not declare (listing the valid ones), or ArtifactBucket."""
    valid = ", ".join(sorted(declared)) or "(none)"
    for source, given in sources.items():
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise ParameterError(
                f"{source}: unknown parameter(s) {', '.join(unknown)}; the template declares: {valid}"
            )
        if ARTIFACT_BUCKET_PARAMETER in given:
            raise ParameterError(f"{source}: {ARTIFACT_BUCKET_PARAMETER} is set by the deploy itself")


def _number(text: str) -> float | None:
    """The value of a CloudFormation Number (an integer or a float), or None."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and text.strip() else None


def _item_problem(spec: Mapping[str, Any], item: str, numeric: bool) -> str | None:
    """What is wrong with one value (or one list item) under the parameter's rules, or None."""
    if numeric:
        number = _number(item)
        if number is None:
            return f"is not a number (Type {spec.get('Type')})"
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return f"is below the MinValue {spec['MinValue']}"
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return f"is above the MaxValue {spec['MaxValue']}"
    allowed = spec.get("AllowedValues")
    if allowed is not None and item not in [as_parameter_value(v) for v in allowed]:
        return f"is not one of the AllowedValues {[as_parameter_value(v) for v in allowed]}"
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), item) is None:
        return f"does not match the AllowedPattern {str(pattern)!r}"
    return None


def check_values(
    declared: Mapping[str, Mapping[str, Any]], values: Mapping[str, str], *, source: str
) -> None:
    """Refuse a value that breaks its parameter's rules in the template; the error names all three.

    ``String`` and ``Number`` values are checked whole; ``CommaDelimitedList`` and ``List<Number>``
    item by item (lengths apply to the whole value). AWS-specific types are left to CloudFormation.
    """
    for name, value in values.items():
        spec = declared.get(name)
        if spec is None:
            continue
        kind = str(spec.get("Type", "String"))
        if kind not in {"String", "Number", "CommaDelimitedList", "List<Number>"}:
            continue
        shown = f"{source}: {name}={value!r}"
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            raise ParameterError(f"{shown} is shorter than the MinLength {spec['MinLength']}")
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            raise ParameterError(f"{shown} is longer than the MaxLength {spec['MaxLength']}")
        numeric = kind in {"Number", "List<Number>"}
        if kind in {"String", "Number"}:
            problem = _item_problem(spec, value, numeric)
            if problem:
                raise ParameterError(f"{shown} {problem}")
            continue
        for item in value.split(","):
            problem = _item_problem(spec, item.strip() if numeric else item, numeric)
            if problem:
                raise ParameterError(f"{shown}: item {item!r} {problem}")


def resolve(
    declared: Mapping[str, Mapping[str, Any]],
    *,
    artifact_bucket: str,
    defaults: Mapping[str, str] | None = None,
    defaults_source: str = "params.json",
    overrides: Mapping[str, str] | None = None,
    previous: Mapping[str, str] | None = None,
) -> ResolvedParameters:
    """Merge the sources for the template's ``declared`` parameters; fail on unknown or missing names."""
    check_names(declared, {defaults_source: defaults or {}, "PARAMS": overrides or {}})
    values: dict[str, str] = {}
    keep: set[str] = set()
    missing: list[str] = []
    for name, spec in declared.items():
        no_echo = str(spec.get("NoEcho", "false")).lower() == "true"
        if name == ARTIFACT_BUCKET_PARAMETER:
            values[name] = artifact_bucket
        elif overrides and name in overrides:
            values[name] = overrides[name]
        elif previous is not None and name in previous:
            if no_echo:
                keep.add(name)
            else:
                values[name] = previous[name]
        elif defaults and name in defaults:
            values[name] = defaults[name]
        elif "Default" in spec:
            values[name] = as_parameter_value(spec["Default"])
        else:
            missing.append(name)
    if missing:
        pairs = " ".join(f"{name}=…" for name in missing)
        raise ParameterError(f'missing required parameter(s) {", ".join(missing)}; pass PARAMS="{pairs}"')
    check_run_timeouts(values)
    return ResolvedParameters(values, frozenset(keep))


# A scheduled state machine's executions must end before the next one starts, so that runs never
# overlap: each (schedule, execution timeout) parameter pair a template declares is checked together.
SCHEDULED_RUN_TIMEOUTS = (("PollingScheduleExpression", "PollingTimeoutSeconds"),)
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_interval_seconds(expression: str) -> int | None:
    """The interval of a ``rate(...)`` schedule in seconds; ``None`` for cron and at expressions."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def check_run_timeouts(values: Mapping[str, str]) -> None:
    """Refuse an execution timeout that is not below its schedule's interval (rate expressions)."""
    for schedule_name, timeout_name in SCHEDULED_RUN_TIMEOUTS:
        if schedule_name not in values or timeout_name not in values:
            continue
        interval = schedule_interval_seconds(values[schedule_name])
        timeout = _number(values[timeout_name])
        if interval is None or timeout is None:
            continue  # cron schedules are left to the operator; the number rule reports a bad timeout
        if timeout >= interval:
            raise ParameterError(
                f"{timeout_name}={values[timeout_name]} must be below the {interval} s between runs of "
                f"{schedule_name}={values[schedule_name]!r}, or two runs could overlap"
            )
