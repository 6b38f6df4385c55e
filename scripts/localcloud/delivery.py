"""Where the local Lambda service sends its records: a queue or topic ARN, stamped as Lambda stamps them.

Asynchronous invocations (``OnSuccess``/``OnFailure`` destinations), Kinesis mappings (the
``OnFailure`` destination of a discarded batch) and EventBridge dead-letter queues all hand a JSON
body to an SQS queue or an SNS topic named by its ARN; each caller handles the other destination
types it alone supports before it comes here.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

logger = logging.getLogger(__name__)


def lambda_time(when: dt.datetime | None = None) -> str:
    """``2024-05-01T12:00:00.123Z``: UTC with milliseconds, the timestamp format of Lambda's records."""
    return (when or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def service_of(arn: str) -> str:
    """The service part of an ARN (``sqs``, ``sns``, ``lambda`` ...)."""
    return arn.split(":")[2]


def send(session: Any, region: str, arn: str, body: str) -> None:
    """Send ``body`` to the SQS queue or SNS topic ``arn``; any other service is an error."""
    service = service_of(arn)
    if service == "sqs":
        sqs = session.client("sqs", region_name=region)
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body)
    elif service == "sns":
        session.client("sns", region_name=region).publish(TopicArn=arn, Message=body)
    else:
        raise ValueError(f"unsupported destination {arn}")
