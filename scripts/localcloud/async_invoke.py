"""Lambda asynchronous invocation: retries and destinations, as EventBridge and Scheduler targets get them.

EventBridge rules and Scheduler schedules invoke Lambda functions asynchronously. Lambda then owns
the error handling, configured by the function's event invoke config (``AWS::Lambda::EventInvokeConfig``):

* a function error is retried ``MaximumRetryAttempts`` times (default 2, at most 2);
* after the last attempt the invocation record goes to ``DestinationConfig.OnFailure`` (SQS queue,
  SNS topic, Lambda function or event bus); a success goes to ``OnSuccess`` if one is set.

The record has Lambda's shape: ``version``, ``timestamp``, ``requestContext`` (requestId,
functionArn, condition ``RetriesExhausted``, approximateInvokeCount), ``requestPayload``,
``responseContext`` (statusCode, executedVersion, functionError) and ``responsePayload``.
Retries run at once; the back-off between them (one and two minutes on AWS) is not simulated.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scripts.localcloud import delivery

logger = logging.getLogger(__name__)

DEFAULT_RETRIES = 2


@dataclass
class AsyncOutcome:
    """How one asynchronous invocation ended."""

    function: str
    attempts: int
    error: str | None
    destination: str | None = None


class AsyncInvoker:
    """Invokes a function the way Lambda's asynchronous queue does."""

    def __init__(self, session: Any, region: str, invoke: Callable[[str, Any], Any]) -> None:
        self.session = session
        self.region = region
        self.invoke = invoke
        self.lambda_ = session.client("lambda", region_name=region)
        self.outcomes: list[AsyncOutcome] = []

    def _config(self, function: str) -> dict[str, Any]:
        try:
            return dict(self.lambda_.get_function_event_invoke_config(FunctionName=function))
        except self.lambda_.exceptions.ResourceNotFoundException:
            return {}

    def __call__(self, function: str, payload: Any) -> str | None:
        """Invoke ``function`` with retries; return the error type if every attempt failed."""
        config = self._config(function)
        retries = int(config.get("MaximumRetryAttempts", DEFAULT_RETRIES))
        attempts = 0
        invocation: Any = None
        for _ in range(1 + retries):
            attempts += 1
            invocation = self.invoke(function, payload)
            if invocation.function_error is None:
                break
        destinations = config.get("DestinationConfig") or {}
        failed = invocation.function_error is not None
        target = (destinations.get("OnFailure" if failed else "OnSuccess") or {}).get("Destination")
        if target:
            self._send(target, self._record(function, payload, invocation, attempts))
        error = None
        if failed:
            error = str((invocation.payload or {}).get("errorType", invocation.function_error))
        self.outcomes.append(AsyncOutcome(function, attempts, error, target))
        return error

    def _record(self, function: str, payload: Any, invocation: Any, attempts: int) -> dict[str, Any]:
        failed = invocation.function_error is not None
        return {
            "version": "1.0",
            "timestamp": delivery.lambda_time(),
            "requestContext": {
                "requestId": invocation.request_id,
                "functionArn": f"{self._arn(function)}:$LATEST",
                "condition": "RetriesExhausted" if failed else "Success",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": payload,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                **({"functionError": invocation.function_error} if failed else {}),
            },
            "responsePayload": invocation.payload,
        }

    def _arn(self, function: str) -> str:
        if function.startswith("arn:"):
            return function
        return str(self.lambda_.get_function_configuration(FunctionName=function)["FunctionArn"])

    def _send(self, destination: str, record: dict[str, Any]) -> None:
        body = json.dumps(record, default=str)
        service = delivery.service_of(destination)
        if service == "lambda":
            self(destination, record)
        elif service == "events":
            self.session.client("events", region_name=self.region).put_events(
                Entries=[
                    {
                        "Source": "lambda",
                        "DetailType": "Lambda Function Invocation Result - "
                        + ("Failure" if "functionError" in record["responseContext"] else "Success"),
                        "Detail": body,
                        "EventBusName": destination,
                    }
                ]
            )
        else:
            delivery.send(self.session, self.region, destination, body)
