"""Runs of one polling state machine never overlap: the later one finds the earlier and stops.

Discovery receives its own state machine ARN, execution ARN and start time (``$$.StateMachine.Id``,
``$$.Execution.Id``, ``$$.Execution.StartTime``) and lists the executions of that state machine
still RUNNING. The earliest-started run wins, ties broken by execution name, so of two runs that
start together exactly one goes on, whichever of them looks first. The loser processes nothing and
says so; the execution timeout (below the schedule interval) bounds how long a winner can block.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.polling.contract import ContractError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunIdentity:
    """Which execution this is, as Step Functions names it in the context object."""

    state_machine_arn: str
    execution_arn: str
    started_at: datetime

    @property
    def name(self) -> str:
        return self.execution_arn.rsplit(":", 1)[-1]

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> RunIdentity | None:
        """The identity in a discovery event, or ``None`` when it was started outside Step Functions."""
        fields = ("state_machine_arn", "execution_arn", "started_at")
        present = [name for name in fields if event.get(name)]
        if not present:
            return None
        if len(present) != len(fields):
            missing = sorted(set(fields) - set(present))
            raise ContractError(f"Discover input has {present} but lacks {missing}", missing=missing)
        try:
            started = datetime.fromisoformat(str(event["started_at"]))
        except ValueError as error:
            raise ContractError(f"started_at {event['started_at']!r} is not an ISO 8601 time") from error
        if started.tzinfo is None:
            raise ContractError(f"started_at {event['started_at']!r} has no time zone")
        return cls(str(event["state_machine_arn"]), str(event["execution_arn"]), started)


def earlier_run_in_flight(sfn: Any, run: RunIdentity) -> str:
    """The ARN of a RUNNING execution of the same state machine that wins over ``run`` ("" if none)."""
    mine = (run.started_at, run.name)
    winner: tuple[datetime, str, str] | None = None
    paginator = sfn.get_paginator("list_executions")
    for page in paginator.paginate(stateMachineArn=run.state_machine_arn, statusFilter="RUNNING"):
        for execution in page.get("executions", ()):
            arn = str(execution["executionArn"])
            if arn == run.execution_arn:
                continue
            theirs = (execution["startDate"], str(execution["name"]))
            if theirs < mine and (winner is None or theirs < winner[:2]):
                winner = (theirs[0], theirs[1], arn)
    if winner is not None:
        logger.warning("execution %s is still running since %s", winner[2], winner[0].isoformat())
        return winner[2]
    return ""
