"""A DynamoDB store for Step Functions task tokens, looked up by a short correlation id or a job name.

A task token can be 2048 characters or more, and a resource tag value holds at most 256, so the
token never travels with the SageMaker job. The invoke function stores it here and tags the job with
the short correlation id only; the callback finds the token again from that tag (or, as a fallback,
from the job name) when the job's state-change event arrives.

Key design: one item per token, partition key ``pk`` = the correlation id, and a global secondary
index ``job_name-index`` on ``job_name``. The correlation id is the strongly consistent primary path
(it arrives in the event's tags); the index, eventually consistent, serves events without tags.
Each item moves once from ``WAITING`` to ``SUCCEEDED`` or ``FAILED`` through a conditional update,
so a second callback for the same job changes nothing and is logged. While an item waits it also
carries ``waiting = "1"``, the partition key of the sparse index ``waiting-index`` (sort key
``created_at``): the heartbeat sweep reads only the jobs still in flight, never the whole table.
``expires_at`` is the TTL attribute: a little beyond the callback timeout, after which the token
is useless anyway.

Job names and correlation ids are built and checked here too, because both ends of the callback
must agree on them.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from shared.clients import LazyClient
from shared.errors import PatternError, aws_error_code

logger = logging.getLogger(__name__)

WAITING = "WAITING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"

JOB_NAME_INDEX = "job_name-index"
WAITING_INDEX = "waiting-index"
MAX_JOB_NAME = 63
MAX_TAG_VALUE = 256
MAX_TOKEN_CHARS = 16_384  # far above the documented 2048; an item holds 400 KB
DEFAULT_TTL_MARGIN_SECONDS = 24 * 3600
CORRELATION_TAG = "CorrelationId"

JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
# Characters AWS accepts in a tag value, restricted to ASCII so every service's rule holds.
TAG_VALUE_PATTERN = re.compile(r"^[A-Za-z0-9 _.:/=+\-@]*$")
_PREFIX_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,29}$")
_HASH_CHARS = 20


class TaskTokenError(PatternError):
    """The token store refused an input or could not store a token."""


class CorrelationCollisionError(TaskTokenError):
    """Every generated correlation id was already taken (practically impossible with uuid4)."""


def validate_job_name(name: str) -> str:
    """Return ``name`` if SageMaker accepts it as a transform job name."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_JOB_NAME or not JOB_NAME_PATTERN.match(name):
        raise TaskTokenError(
            f"invalid job name {name!r}: 1-{MAX_JOB_NAME} characters matching [a-zA-Z0-9](-*[a-zA-Z0-9])*",
        )
    return name


def validate_tag_value(value: str) -> str:
    """Return ``value`` if it fits in a resource tag value (length and characters)."""
    if not isinstance(value, str) or len(value) > MAX_TAG_VALUE or not TAG_VALUE_PATTERN.match(value):
        raise TaskTokenError(f"invalid tag value {value[:40]!r}: at most {MAX_TAG_VALUE} tag-safe characters")
    return value


def validate_prefix(prefix: str) -> str:
    """A job-name prefix: 1-30 characters, a valid job name on its own, so any suffix keeps it valid."""
    if not isinstance(prefix, str) or not _PREFIX_PATTERN.match(prefix):
        raise TaskTokenError(f"invalid job-name prefix {prefix!r}: 1-30 characters of [a-zA-Z0-9-]")
    return prefix


def job_name_for(prefix: str, execution_id: str, attempt: str = "") -> str:
    """A transform job name unique to one execution (and one task attempt), never to a clock.

    ``prefix-<hash>``: the hash covers the execution ARN/id and ``attempt`` (the task token), so a
    retried state gets a fresh name while a retried Lambda invocation with the same token gets the
    same one. SageMaker lowercases names in ARNs; the hash is lowercase hex so the IAM resource
    ``transform-job/<prefix>*`` matches as long as the prefix is lowercase.
    """
    validate_prefix(prefix)
    if not execution_id:
        raise TaskTokenError("a job name needs the execution id")
    digest = hashlib.sha256(f"{execution_id}\x00{attempt}".encode()).hexdigest()[:_HASH_CHARS]
    return validate_job_name(f"{prefix}-{digest}")


def new_correlation_id() -> str:
    """A random 32-character hex id: short, unique in practice, and safe in a tag."""
    return uuid.uuid4().hex


def tags_from_event(detail: Mapping[str, Any]) -> dict[str, str]:
    """The job's tags from a SageMaker state-change event, as a dict.

    The event carries them as a map; the API shape is a list of ``{Key, Value}``. Both are accepted.
    """
    raw = detail.get("Tags")
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return {str(t["Key"]): str(t.get("Value", "")) for t in raw if isinstance(t, Mapping) and "Key" in t}
    return {}


@dataclass(frozen=True)
class TokenRecord:
    """One stored token and what the callback needs to finish the job."""

    correlation_id: str
    job_name: str
    token: str
    state: str
    created_at: int
    expires_at: int
    context: dict[str, str] = field(default_factory=dict)
    outcome: str = ""

    @property
    def waiting(self) -> bool:
        return self.state == WAITING


class TaskTokenStore:
    """Put, find and settle task tokens in one DynamoDB table (see the module docstring).

    ``ttl_seconds`` should be the callback's ``TimeoutSeconds``; the item expires a margin later.
    ``id_factory`` and ``clock`` exist so tests can force collisions and fix time.
    """

    def __init__(
        self,
        table_name: str,
        *,
        client: Any | None = None,
        ttl_seconds: int = 7 * 24 * 3600,
        ttl_margin_seconds: int = DEFAULT_TTL_MARGIN_SECONDS,
        id_factory: Callable[[], str] = new_correlation_id,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 5,
    ) -> None:
        if not table_name:
            raise TaskTokenError("the task-token table name is required")
        if ttl_seconds <= 0 or ttl_margin_seconds < 0:
            raise TaskTokenError("ttl_seconds must be positive and the margin non-negative")
        self.table_name = table_name
        self._client = client
        self.ttl_seconds = ttl_seconds
        self.ttl_margin_seconds = ttl_margin_seconds
        self.id_factory = id_factory
        self.clock = clock
        self.max_attempts = max_attempts

    client = LazyClient("dynamodb")

    # -- writes --------------------------------------------------------------------------------

    def put(self, token: str, job_name: str, context: Mapping[str, str] | None = None) -> str:
        """Store ``token`` for ``job_name`` and return a fresh correlation id.

        The put is conditional on the id being unused; on a collision a new id is drawn, up to
        ``max_attempts`` times. ``context`` holds small strings the callback needs (pointers).
        """
        if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN_CHARS:
            raise TaskTokenError(f"a task token must be 1-{MAX_TOKEN_CHARS} characters")
        validate_job_name(job_name)
        now = int(self.clock())
        item: dict[str, Any] = {
            "job_name": {"S": job_name},
            "token": {"S": token},
            "state": {"S": WAITING},
            "waiting": {"S": "1"},
            "created_at": {"N": str(now)},
            "expires_at": {"N": str(now + self.ttl_seconds + self.ttl_margin_seconds)},
        }
        if context:
            item["context"] = {"M": {str(k): {"S": str(v)} for k, v in context.items()}}
        for attempt in range(1, self.max_attempts + 1):
            correlation_id = validate_tag_value(self.id_factory())
            if not correlation_id:
                raise TaskTokenError("the correlation id factory returned an empty id")
            try:
                self.client.put_item(
                    TableName=self.table_name,
                    Item={"pk": {"S": correlation_id}, **item},
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as error:
                if aws_error_code(error) != "ConditionalCheckFailedException":
                    raise
                logger.warning("correlation id collision on attempt %d; drawing another", attempt)
                continue
            return correlation_id
        raise CorrelationCollisionError(
            f"no free correlation id after {self.max_attempts} attempts", job_name=job_name
        )

    def complete(self, correlation_id: str, outcome: str = "") -> bool:
        """Mark the token SUCCEEDED once. False (and a log line) if it was already settled."""
        return self._settle(correlation_id, SUCCEEDED, outcome)

    def fail(self, correlation_id: str, reason: str = "") -> bool:
        """Mark the token FAILED once. False (and a log line) if it was already settled."""
        return self._settle(correlation_id, FAILED, reason)

    def release(self, correlation_id: str) -> None:
        """Put a settled token back to WAITING, after SendTask* failed in a way worth retrying."""
        self.client.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": correlation_id}},
            UpdateExpression="SET #state = :waiting, waiting = :one REMOVE outcome, settled_at",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":waiting": {"S": WAITING}, ":one": {"S": "1"}},
        )

    def _settle(self, correlation_id: str, state: str, outcome: str) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": correlation_id}},
                UpdateExpression="SET #state = :state, outcome = :outcome, settled_at = :now REMOVE waiting",
                ConditionExpression="#state = :waiting",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":state": {"S": state},
                    ":outcome": {"S": outcome[:1024]},
                    ":now": {"N": str(int(self.clock()))},
                    ":waiting": {"S": WAITING},
                },
            )
        except ClientError as error:
            if aws_error_code(error) != "ConditionalCheckFailedException":
                raise
            logger.warning(
                "task token %s is already settled (or unknown); ignoring the second %s",
                correlation_id,
                state,
            )
            return False
        return True

    # -- reads ---------------------------------------------------------------------------------

    def get(self, *, correlation_id: str | None = None, job_name: str | None = None) -> TokenRecord | None:
        """The record for a correlation id (consistent read) or a job name (index query); None if unknown."""
        if (correlation_id is None) == (job_name is None):
            raise TaskTokenError("pass exactly one of correlation_id or job_name")
        if correlation_id is not None:
            response = self.client.get_item(
                TableName=self.table_name, Key={"pk": {"S": correlation_id}}, ConsistentRead=True
            )
            item = response.get("Item")
            return _record(item) if item else None
        assert job_name is not None
        response = self.client.query(
            TableName=self.table_name,
            IndexName=JOB_NAME_INDEX,
            KeyConditionExpression="job_name = :name",
            ExpressionAttributeValues={":name": {"S": job_name}},
        )
        items = response.get("Items", [])
        if len(items) > 1:
            logger.warning("job name %s has %d token records; using the newest", job_name, len(items))
        if not items:
            return None
        newest = max(items, key=lambda i: int(i.get("created_at", {}).get("N", "0")))
        # The index projects every attribute, but read the base item for a consistent state.
        return self.get(correlation_id=newest["pk"]["S"])

    def waiting(self, limit: int = 100) -> list[TokenRecord]:
        """Tokens still waiting, oldest first, from the sparse index (at most ``limit``)."""
        response = self.client.query(
            TableName=self.table_name,
            IndexName=WAITING_INDEX,
            KeyConditionExpression="waiting = :one",
            ExpressionAttributeValues={":one": {"S": "1"}},
            Limit=limit,
        )
        return [_record(item) for item in response.get("Items", [])]


def table_definition(table_name: str) -> dict[str, Any]:
    """``CreateTable`` arguments for the store: the same keys and indexes as the template's table."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "job_name", "AttributeType": "S"},
            {"AttributeName": "waiting", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "N"},
        ],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": JOB_NAME_INDEX,
                "KeySchema": [{"AttributeName": "job_name", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": WAITING_INDEX,
                "KeySchema": [
                    {"AttributeName": "waiting", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    }


def _record(item: Mapping[str, Any]) -> TokenRecord:
    context = {k: v.get("S", "") for k, v in item.get("context", {}).get("M", {}).items()}
    return TokenRecord(
        correlation_id=item["pk"]["S"],
        job_name=item["job_name"]["S"],
        token=item["token"]["S"],
        state=item["state"]["S"],
        created_at=int(item["created_at"]["N"]),
        expires_at=int(item["expires_at"]["N"]),
        context=context,
        outcome=item.get("outcome", {}).get("S", ""),
    )
