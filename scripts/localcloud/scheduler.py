"""EventBridge Scheduler schedules and scheduled rules, fired by explicit ticks.

moto stores schedules and ``rate()``/``cron()`` rules but never fires them. Locally, time is
driven by the caller: :meth:`Scheduler.tick` fires one schedule or rule now, and
:meth:`Scheduler.run_minutes` advances a virtual clock minute by minute and fires whatever is due.

What a firing delivers, as on AWS:

* a Scheduler schedule sends its target's ``Input`` (or ``{}``) to the Lambda function
  (asynchronous invoke) or as the input of a new Step Functions execution;
* a scheduled rule sends the ``Scheduled Event`` (``source: aws.events``, ``resources: [rule ARN]``)
  to each target, shaped by the target's Input/InputPath/InputTransformer, through the
  EventBridge adapter.

Disabled schedules and rules do not fire. ``rate()`` fires every N units of the virtual clock;
``cron()`` is matched field by field (minutes, hours, day of month, month, day of week with
``*``, ``?``, lists, ranges and steps; ``L`` and ``W`` are not supported and raise).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_AT = re.compile(r"^at\((.+)\)$")
_UNITS = {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}


class UnsupportedScheduleError(ValueError):
    """A schedule expression the local clock cannot evaluate."""


@dataclass
class Firing:
    """One schedule or rule firing and what its target returned."""

    source: str  # "schedule" or "rule"
    name: str
    target_arn: str
    at: dt.datetime
    ok: bool
    error: str | None = None


def _field_matches(spec: str, value: int, names: dict[str, int] | None = None) -> bool:
    if spec in ("*", "?"):
        return True
    for part in spec.split(","):
        for name, number in (names or {}).items():
            part = part.replace(name, str(number))
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            low, high = 0, 10**6
        elif "-" in part:
            low_text, high_text = part.split("-", 1)
            low, high = int(low_text), int(high_text)
        else:
            low = int(part)
            high = low if step == 1 else 10**6
        if low <= value <= high and (value - low) % step == 0:
            return True
    return False


def is_due(expression: str, at: dt.datetime, minute_index: int) -> bool:
    """Whether ``expression`` fires in the minute starting at ``at`` (``minute_index`` counts from 1)."""
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        period = int(rate.group(1)) * _UNITS[rate.group(2)]
        return minute_index % period == 0
    cron = _CRON.match(text)
    if cron:
        fields = cron.group(1).split()
        if len(fields) != 6:
            raise UnsupportedScheduleError(f"{expression!r}: cron needs six fields")
        minute, hour, day, month, weekday, year = fields
        for spec in (minute, hour, day, month, year):
            if any(mark in spec for mark in ("L", "W", "#")):
                raise UnsupportedScheduleError(f"{expression!r}: L, W and # are not supported locally")
        if "L" in weekday or "#" in weekday:
            raise UnsupportedScheduleError(f"{expression!r}: L and # are not supported locally")
        aws_weekday = (at.isoweekday() % 7) + 1  # AWS: 1 = Sunday
        return (
            _field_matches(minute, at.minute)
            and _field_matches(hour, at.hour)
            and _field_matches(day, at.day)
            and _field_matches(month, at.month, _MONTHS)
            and _field_matches(weekday, aws_weekday, _DAYS)
            and _field_matches(year, at.year)
        )
    once = _AT.match(text)
    if once:
        when = dt.datetime.fromisoformat(once.group(1)).replace(tzinfo=dt.UTC)
        return at <= when < at + dt.timedelta(minutes=1)
    raise UnsupportedScheduleError(f"unsupported schedule expression {expression!r}")


class Scheduler:
    """Fires schedules and scheduled rules on demand."""

    def __init__(
        self,
        session: Any,
        region: str,
        account_id: str,
        invoke_async: Callable[[str, Any], str | None],
        start_execution: Callable[[str, Any], str],
        deliver_rule_target: Callable[[str, dict[str, Any], dict[str, Any]], Any],
    ) -> None:
        self.scheduler = session.client("scheduler", region_name=region)
        self.events = session.client("events", region_name=region)
        self.region = region
        self.account_id = account_id
        self.invoke_async = invoke_async
        self.start_execution = start_execution
        self.deliver_rule_target = deliver_rule_target
        self.firings: list[Firing] = []
        self.clock = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        self._minute = 0

    def schedules(self) -> list[dict[str, Any]]:
        found = []
        for page in self.scheduler.get_paginator("list_schedules").paginate():
            for item in page["Schedules"]:
                found.append(self.scheduler.get_schedule(Name=item["Name"], GroupName=item["GroupName"]))
        return found

    def scheduled_rules(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        for page in self.events.get_paginator("list_rules").paginate():
            rules.extend(rule for rule in page["Rules"] if rule.get("ScheduleExpression"))
        return rules

    def tick(self, name: str) -> list[Firing]:
        """Fire the schedule or scheduled rule called ``name`` once, now."""
        for schedule in self.schedules():
            if schedule["Name"] == name:
                return [self._fire_schedule(schedule)]
        for rule in self.scheduled_rules():
            if rule["Name"] == name:
                return self._fire_rule(rule)
        raise LookupError(f"no schedule or scheduled rule named {name!r}")

    def run_minutes(self, minutes: int) -> list[Firing]:
        """Advance the virtual clock ``minutes`` minutes, firing everything due in each minute."""
        fired: list[Firing] = []
        for _ in range(minutes):
            self._minute += 1
            self.clock += dt.timedelta(minutes=1)
            for schedule in self.schedules():
                if schedule.get("State", "ENABLED") == "ENABLED" and is_due(
                    schedule["ScheduleExpression"], self.clock, self._minute
                ):
                    fired.append(self._fire_schedule(schedule))
            for rule in self.scheduled_rules():
                if rule.get("State") == "ENABLED" and is_due(
                    rule["ScheduleExpression"], self.clock, self._minute
                ):
                    fired.extend(self._fire_rule(rule))
        return fired

    def _fire_schedule(self, schedule: dict[str, Any]) -> Firing:
        target = schedule["Target"]
        arn = target["Arn"]
        payload = json.loads(target["Input"]) if target.get("Input") else {}
        service = arn.split(":")[2]
        error: str | None = None
        if service == "lambda":
            error = self.invoke_async(arn, payload)
        elif service == "states":
            try:
                self.start_execution(arn, payload)
            except Exception as failure:  # noqa: BLE001 - a failed firing is recorded, as Scheduler would
                error = f"{type(failure).__name__}: {failure}"
        else:
            raise UnsupportedScheduleError(
                f"schedule {schedule['Name']}: target {arn} is not supported locally"
            )
        firing = Firing("schedule", schedule["Name"], arn, self.clock, error is None, error)
        self.firings.append(firing)
        return firing

    def _fire_rule(self, rule: dict[str, Any]) -> list[Firing]:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account_id,
            "time": self.clock.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [rule["Arn"]],
            "detail": {},
        }
        fired = []
        targets = self.events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        for target in targets:
            delivery = self.deliver_rule_target(rule["Name"], target, event)
            firing = Firing("rule", rule["Name"], target["Arn"], self.clock, delivery.ok, delivery.error)
            self.firings.append(firing)
            fired.append(firing)
        return fired
