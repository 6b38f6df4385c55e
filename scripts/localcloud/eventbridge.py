"""EventBridge: deliver matching events to Lambda and Step Functions targets.

moto matches rule patterns (its ``EventPattern`` implements the content filters: prefix,
anything-but, numeric, exists, ...) but raises NotImplementedError for Lambda and Step Functions
targets, and sends to targets of a disabled rule. This adapter wraps ``Rule.send_to_targets``:

* a rule that is not ENABLED delivers nothing;
* the event must match the rule's pattern (moto's matcher, unchanged);
* for a Lambda target the function is invoked asynchronously, as EventBridge does; retries and
  destinations of function errors then belong to Lambda (see ``async_invoke.py``); for a Step
  Functions target an execution is started, with a name;
* a target that cannot be reached at all (no such function or state machine) is a failed delivery,
  and the event goes to the target's ``DeadLetterConfig`` queue if it has one;
* the target's ``Input`` (constant JSON), ``InputPath`` or ``InputTransformer`` shapes the payload;
* every other target type goes to moto's own delivery.

The event time is an ISO-8601 string, as EventBridge delivers it. Each delivery is recorded so
summaries and tests can see what was delivered where and whether it failed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scripts.localcloud.runtime import Patches

logger = logging.getLogger(__name__)


@dataclass
class Delivery:
    """One event delivered (or not) to one target."""

    rule: str
    target_arn: str
    detail_type: str
    ok: bool
    error: str | None = None


def _iso(value: Any) -> str:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _json_path(event: Any, path: str) -> Any:
    """The small JSONPath subset EventBridge accepts in InputPath: ``$`` and ``$.a.b``."""
    if path in ("", "$"):
        return event
    value = event
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return value


class EventBridgeAdapter:
    """Patches moto's rule delivery; :attr:`deliveries` records every Lambda/Step Functions target."""

    def __init__(
        self,
        invoke_async: Callable[[str, Any], str | None],
        start_execution: Callable[[str, Any], str],
        send_to_queue: Callable[[str, str], None],
    ) -> None:
        self.invoke_async = invoke_async
        self.start_execution = start_execution
        self.send_to_queue = send_to_queue
        self.deliveries: list[Delivery] = []
        self._patches = Patches()
        self._lock = threading.Lock()

    def install(self) -> None:
        from moto.events.models import Rule
        from moto.events.utils import EventTemplateParser

        check_seams()
        adapter = self
        original = Patches.original(Rule, "send_to_targets")

        def send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
            if self.state != "ENABLED" or not self.event_pattern.matches_event(original_event):
                return
            ours = [t for t in self.targets if t["Arn"].split(":")[2] in {"lambda", "states"}]
            others = [t for t in self.targets if t not in ours]
            event = {**original_event, "time": _iso(original_event.get("time"))}
            event.pop("ingestion-time", None)
            for target in ours:
                adapter.deliver(self.name, target, event, EventTemplateParser)
            if others:
                with adapter._lock:
                    saved_targets = self.targets
                    self.targets = others
                    try:
                        original(self, original_event, transform_input)
                    finally:
                        self.targets = saved_targets

        self._patches.patch(Rule, "send_to_targets", send_to_targets)

    def uninstall(self) -> None:
        self._patches.undo()

    def payload_for(self, target: dict[str, Any], event: dict[str, Any], parser: Any) -> Any:
        if "Input" in target:
            return json.loads(target["Input"])
        if "InputPath" in target:
            return _json_path(event, target["InputPath"])
        if "InputTransformer" in target:
            transformer = target["InputTransformer"]
            rendered = parser.parse(
                input_template=transformer.get("InputTemplate"),
                input_paths_map=transformer.get("InputPathsMap", {}),
                event=event,
            )
            if isinstance(rendered, str):
                try:
                    return json.loads(rendered)
                except json.JSONDecodeError:
                    return rendered
            return rendered
        return event

    def deliver(self, rule: str, target: dict[str, Any], event: dict[str, Any], parser: Any) -> Delivery:
        arn = target["Arn"]
        payload = self.payload_for(target, event, parser)
        detail_type = str(event.get("detail-type", ""))
        error: str | None = None
        try:
            if arn.split(":")[2] == "lambda":
                error = self.invoke_async(arn, payload)
            else:
                self.start_execution(arn, payload)
        except Exception as failure:  # noqa: BLE001 - an undeliverable event is recorded, as EventBridge does
            error = f"{type(failure).__name__}: {failure}"
            dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
            if dead_letter:
                self.send_to_queue(dead_letter, json.dumps(event, default=str))
        delivery = Delivery(rule, arn, detail_type, error is None, error)
        self.deliveries.append(delivery)
        if error is not None:
            logger.warning("event %s to %s failed: %s", detail_type, arn, error)
        return delivery


def check_seams() -> None:
    """Fail loudly if moto's rule delivery or pattern matching moved."""
    from moto.events.models import EventPattern, Rule
    from moto.events.utils import EventTemplateParser

    from scripts.localcloud.runtime import SeamMovedError

    missing = [
        name
        for owner, name in (
            (Rule, "send_to_targets"),
            (EventPattern, "matches_event"),
            (EventTemplateParser, "parse"),
        )
        if not hasattr(owner, name)
    ]
    if missing:
        raise SeamMovedError(f"moto events seams moved: {missing}")
