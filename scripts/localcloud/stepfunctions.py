"""Step Functions: run CloudFormation-created state machines on moto's ASL interpreter.

With ``{"stepfunctions": {"execute_state_machine": True}}`` moto answers the Step Functions API
from a second backend that really interprets ASL (Task, Choice, Map, Parallel, Retry/Catch,
``lambda:invoke`` and ``.waitForTaskToken``). CloudFormation writes its state machines into the
first backend, so :func:`sync_state_machines` copies each one across under the same ARN.

Executions are always started with a name: moto's interpreter keys executions by name, and an
unnamed execution collides with the next one. :meth:`StepFunctions.run` starts an execution and
waits for it to finish, pumping background work (transform jobs that complete and put their
state-change events) while it waits, and returns status, output and the per-state history.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scripts.localcloud.runtime import Patches

logger = logging.getLogger(__name__)

RUNNING = "RUNNING"


def _for_moto_parser(definition: str) -> str:
    """The definition with an integer ``ToleratedFailurePercentage`` written as a decimal.

    AWS takes any number there; moto 5.2.5's ASL grammar accepts only its decimal token, so
    ``"ToleratedFailurePercentage": 5`` (as a template parameter renders it) fails to parse.
    """

    changed = False

    def fix(node: Any) -> Any:
        nonlocal changed
        if isinstance(node, dict):
            fixed = {}
            for key, value in node.items():
                if key == "ToleratedFailurePercentage" and type(value) is int:
                    fixed[key], changed = float(value), True
                else:
                    fixed[key] = fix(value)
            return fixed
        if isinstance(node, list):
            return [fix(value) for value in node]
        return node

    try:
        document = fix(json.loads(definition))
    except json.JSONDecodeError:
        return definition  # let moto report what is wrong with it
    return json.dumps(document) if changed else definition


def sync_state_machines(account_id: str, region: str) -> list[str]:
    """Copy state machines from the CloudFormation-facing backend to the executing one; return ARNs copied."""
    from moto.stepfunctions.models import stepfunctions_backends
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    source: Any = stepfunctions_backends[account_id][region]
    target: Any = stepfunctions_parser_backends[account_id][region]
    known = {sm.arn: sm for sm in target.state_machines}
    copied = []
    for machine in source.state_machines:
        existing = known.get(machine.arn)
        definition = _for_moto_parser(machine.definition)
        if existing is not None and existing.definition == definition:
            continue
        if existing is not None:
            target.update_state_machine(machine.arn, definition=definition)
        else:
            target.create_state_machine(
                name=machine.name,
                definition=definition,
                roleArn=machine.roleArn,
                loggingConfiguration=machine.loggingConfiguration,
                tracingConfiguration=machine.tracingConfiguration,
                sm_type=getattr(machine, "sm_type", None),
            )
        copied.append(machine.arn)
    return copied


@dataclass
class ExecutionResult:
    """What an execution ended with, plus its history for per-state counts."""

    arn: str
    name: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def states_entered(self) -> Counter[str]:
        """How many times each state was entered (Map iterations count once per item)."""
        counts: Counter[str] = Counter()
        for event in self.history:
            if event.get("type", "").endswith("StateEntered"):
                counts[event["stateEnteredEventDetails"]["name"]] += 1
        return counts

    def states_failed(self) -> Counter[str]:
        """Task failures by the state that was running, from the history."""
        counts: Counter[str] = Counter()
        current: str | None = None
        for event in self.history:
            kind = event.get("type", "")
            if kind.endswith("StateEntered"):
                current = event["stateEnteredEventDetails"]["name"]
            elif kind in {"TaskFailed", "LambdaFunctionFailed", "TaskTimedOut"} and current:
                counts[current] += 1
        return counts


class ExecutionTimeoutError(TimeoutError):
    """An execution was still running when the local wait gave up."""


class StepFunctions:
    """Start executions by name and wait for them, pumping background work meanwhile."""

    def __init__(self, client: Any, pump: Callable[[], bool] | None = None) -> None:
        self.client = client
        self.pump = pump or (lambda: False)
        self.results: list[ExecutionResult] = []

    def resolve_arn(self, name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        for page in self.client.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                if machine["name"] == name_or_arn:
                    return str(machine["stateMachineArn"])
        raise LookupError(f"no state machine named {name_or_arn!r}")

    def start(self, name_or_arn: str, payload: Any = None, name: str | None = None) -> str:
        """StartExecution with an explicit name (required by moto's interpreter)."""
        arn = self.resolve_arn(name_or_arn)
        text = payload if isinstance(payload, str) else json.dumps(payload if payload is not None else {})
        execution_name = name or f"local-{uuid.uuid4().hex[:24]}"
        response = self.client.start_execution(stateMachineArn=arn, name=execution_name, input=text)
        return str(response["executionArn"])

    def wait(self, execution_arn: str, timeout_seconds: float = 120.0) -> ExecutionResult:
        """Poll until the execution leaves RUNNING, running pending background work in between."""
        deadline = time.monotonic() + timeout_seconds
        delay = 0.005
        while True:
            described = self.client.describe_execution(executionArn=execution_arn)
            if described["status"] != RUNNING:
                break
            if self.pump():
                continue
            if time.monotonic() > deadline:
                raise ExecutionTimeoutError(f"{execution_arn} still RUNNING after {timeout_seconds:.0f} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        history: list[dict[str, Any]] = []
        for page in self.client.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            history.extend(page["events"])
        output = described.get("output")
        result = ExecutionResult(
            arn=execution_arn,
            name=described["name"],
            status=described["status"],
            output=json.loads(output) if output else None,
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
        )
        self.results.append(result)
        return result

    def run(
        self, name_or_arn: str, payload: Any = None, *, timeout_seconds: float = 120.0
    ) -> ExecutionResult:
        """Start an execution and wait for its end."""
        return self.wait(self.start(name_or_arn, payload), timeout_seconds)


class EarlyCallbackFix:
    """Let a task token answered before the wait begins end the task, as on AWS.

    With ``HeartbeatSeconds`` set, moto's interpreter creates the heartbeat endpoint only after the
    invoked Lambda returns. A ``SendTaskSuccess`` sent from inside that Lambda (allowed on AWS, and
    what a synchronous or mock path does) is stored but does not wake the waiter, which then sleeps
    until the heartbeat times out. This adapter returns an outcome that is already there first.
    """

    def __init__(self) -> None:
        self._patches = Patches()

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_callback as callback,
        )

        owner = callback.StateTaskServiceCallback
        original = Patches.original(owner, "_wait_for_task_token_heartbeat")

        def wait(self: Any, env: Any, callback_endpoint: Any, heartbeat_endpoint: Any) -> Any:
            early = callback_endpoint.get_outcome()
            if early is not None:
                return early
            return original(self, env, callback_endpoint, heartbeat_endpoint)

        self._patches.patch(owner, "_wait_for_task_token_heartbeat", wait)

    def uninstall(self) -> None:
        self._patches.undo()


MAP_THRESHOLD_ERROR = "States.ExceedToleratedFailureThreshold"


def exceeds_tolerance(failed: int, total: int, count: int, percentage: float) -> bool:
    """Whether a Map Run with ``failed`` of ``total`` items failed fails, as on AWS.

    Neither threshold set (both 0, the defaults) tolerates no failure; with one or both set, the
    run fails once the failures go above either. An explicit 0 reads as unset: moto fills the
    defaults in before the run, so the two cannot be told apart here.
    """
    if failed == 0:
        return False
    if count <= 0 and percentage <= 0:
        return True
    over_count = count > 0 and failed > count
    over_percentage = percentage > 0 and failed * 100 > percentage * max(total, 1)
    return over_count or over_percentage


class MapFailureThresholdFix:
    """Fail a Distributed Map Run whose failed items pass its tolerance, as AWS does.

    moto 5.2.5 counts a failed child execution but still reports the Map Run (and so the
    execution) as SUCCEEDED. AWS fails the Map Run once the failures pass
    ``ToleratedFailureCount``/``ToleratedFailurePercentage`` (0 by default), and the Map state
    raises ``States.ExceedToleratedFailureThreshold``, which a Catch on the Map may handle.
    """

    def __init__(self) -> None:
        self._patches = Patches()

    def install(self) -> None:
        from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
            FailureEvent,
            FailureEventException,
        )
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
            StatesErrorName,
        )
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
            StatesErrorNameType,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
            distributed_iteration_component as distributed,
        )

        owner = distributed.DistributedIterationComponent
        original = Patches.original(owner, "_map_run")

        def map_run(self: Any, env: Any, eval_input: Any) -> None:
            original(self, env, eval_input)
            items = eval_input.map_run_record.item_counter
            failed, total = items.failed.get(), items.total.get()
            count = int(eval_input.tolerated_failure_count or 0)
            percentage = float(eval_input.tolerated_failure_percentage or 0)
            if not exceeds_tolerance(failed, total, count, percentage):
                return
            env.stack.pop()  # the outputs the original pushed: the Map state has no result
            cause = (
                f"{failed} of {total} items failed, above the tolerated "
                f"{count} item(s) / {percentage:g}% of the Map Run"
            )
            details: Any = {
                "executionFailedEventDetails": ExecutionFailedEventDetails(
                    error=MAP_THRESHOLD_ERROR, cause=cause
                )
            }
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold),
                    event_type=HistoryEventType.MapRunFailed,
                    # moto declares EventDetails as a total TypedDict but fills one key at a time.
                    event_details=details,
                )
            )

        self._patches.patch(owner, "_map_run", map_run)

    def uninstall(self) -> None:
        self._patches.undo()
