"""The stream consumer of any use case: decode change events, move state, process files, dead-letter poison.

It runs under a Kinesis event source mapping with ``ReportBatchItemFailures``. Every record is
handled on its own merit, and only the records that really failed are reported. There is no
fail-fast per shard, because order does not carry correctness here: every state write is
conditioned on the file's fingerprint and the event's ``detected_at`` stamp, so an older event
handled after a newer one is refused as stale and a duplicate as done. Lambda checkpoints before
the lowest reported record and delivers again from there; the records after it that already
succeeded come back as duplicates and cost one refused write each. When the mapping finally gives
up on a batch, every record of it that failed has its own dead letter (and the OnFailure message
names the sequence range), so ``scripts/replay_dlq.py`` can put it back.

Outcomes per record:

* malformed (bad base64, not UTF-8, a BOM, bad or too deeply nested JSON, an overflowing number,
  a lone surrogate, a missing field, an unknown event type, an unsafe key): written to the
  dead-letter table with its reason and handled, so one poison record never blocks its shard;
* ``deleted``: the state is marked deleted, idempotently (one write);
* ``created`` / ``modified``: claim (one write), process, then completed or failed (one write). A
  duplicate, stale or busy claim is handled without processing;
* a FAILED processing result: state ``failed`` and a dead letter with the reason; never completed;
* an exception (throttling, a service outage): recorded as a dead letter of kind ``transient``
  and reported as a batch item failure, so Lambda retries it.

Each record's payload is decoded once. The per-file work is the use case's own
:class:`FileProcessor`, handed in by its ``stream_consumer`` handler; everything around it (claims,
fingerprints, dead letters, what is reported for retry) is here, the same for every use case.
"""

from __future__ import annotations

import base64
import binascii
import logging
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.change_events import ChangeEvent, MalformedEventError
from shared.clients import aws_client
from shared.config import env
from shared.errors import SUCCEEDED
from shared.observability import log_keys, stats
from shared.state import CLAIMED, DeadLetterOverflow, DeadLetterStore, StateStore

logger = logging.getLogger(__name__)


class FileProcessor(Protocol):
    """A use case's per-file work, run once per claimed file version.

    ``file`` names the version (``file.key``, ``file.fingerprint.etag``). The result is the
    use case's result document, or at least ``status``: ``"SUCCEEDED"`` completes the state (with
    ``output_key`` if given); any other status fails it and dead-letters the record with
    ``reason``. Raise for a failure worth retrying (throttling, an outage): the record is then
    dead-lettered as transient and reported to Lambda for another delivery.
    """

    def __call__(self, file: ChangeEvent, /) -> Mapping[str, Any]: ...


MALFORMED, FAILED_RESULT, TRANSIENT = "malformed", "failed", "transient"


@dataclass
class ConsumeReport:
    """What one batch did, by outcome, plus the identifiers Lambda must deliver again."""

    failures: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    dead_lettered: int = 0  # dead letters written (the handler emits it as RecordsDeadLettered)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": seq} for seq in self.failures]}


def claim_token(event: ChangeEvent) -> str:
    """The claim token of a stream event: the same event delivered again re-enters its own claim."""
    return f"stream:{event.run_id}:{event.detected_at}"


def _shard_of(record: Mapping[str, Any]) -> str:
    event_id = str(record.get("eventID", ""))
    shard, sep, _ = event_id.partition(":")
    return shard if sep else str(record.get("eventSourceARN", ""))


def _sequence(record: Mapping[str, Any]) -> str | None:
    kinesis = record.get("kinesis")
    if isinstance(kinesis, Mapping):
        value = kinesis.get("sequenceNumber")
        if isinstance(value, str) and value:
            return value
    return None


def decode(record: Mapping[str, Any]) -> ChangeEvent:
    """The change event in one Kinesis record, or :class:`MalformedEventError` saying what is wrong."""
    kinesis = record.get("kinesis")
    if not isinstance(kinesis, Mapping):
        raise MalformedEventError("record has no 'kinesis' object")
    data = kinesis.get("data")
    if not isinstance(data, str):
        raise MalformedEventError("record has no base64 'kinesis.data'")
    try:
        payload = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise MalformedEventError(f"kinesis.data is not valid base64: {error}") from error
    return ChangeEvent.from_json(payload)


@dataclass
class Consumer:
    """Consumes batches of change events. ``process`` does the per-file work."""

    state: StateStore
    dead_letters: DeadLetterStore
    process: FileProcessor
    claim_timeout_seconds: float = 900

    def consume(self, records: Sequence[Mapping[str, Any]]) -> ConsumeReport:
        report = ConsumeReport()
        for record in records:
            sequence = _sequence(record)
            event: ChangeEvent | None = None
            try:
                try:
                    event = decode(record)
                    if sequence is None:
                        raise MalformedEventError("record has no kinesis.sequenceNumber")
                except MalformedEventError as error:
                    event = None
                    outcome = self._malformed(record, error)
                else:
                    with log_keys(file_key=event.key, sequence_number=sequence):
                        outcome = self.handle(event, record)
            except Exception as error:
                if sequence is None:
                    raise  # cannot be reported alone: fail the batch so Lambda retries it
                report.dead_lettered += self._transient(record, event, error)
                report.count(TRANSIENT)
                report.failures.append(sequence)
                continue
            report.count(outcome)
            # Both outcomes are returned only after their dead letter was written.
            report.dead_lettered += outcome in (MALFORMED, FAILED_RESULT)
        return report

    def _malformed(self, record: Mapping[str, Any], error: MalformedEventError) -> str:
        """Dead-letter a record that can never be processed; raises if even that write fails."""
        logger.warning("malformed record %s: %s", _sequence(record), error.reason)
        self._dead_letter(record, MALFORMED, error.reason, traceback.format_exc(), key=None)
        stats().failed()
        return MALFORMED

    def handle(self, event: ChangeEvent, record: Mapping[str, Any]) -> str:
        """Handle one decoded record completely and return its outcome, or raise to have it retried."""
        if event.event_type == "deleted":
            applied = self.state.mark_deleted(event.key, event.fingerprint, detected_at=event.detected_at)
            return "deleted" if applied else "deleted-ignored"
        claim = self.state.claim(
            event.key,
            event.fingerprint,
            detected_at=event.detected_at,
            token=claim_token(event),
            timeout_seconds=self.claim_timeout_seconds,
        )
        if claim.outcome != CLAIMED:
            logger.info("skipping %r at %s: %s", event.key, event.detected_at, claim.outcome)
            return claim.outcome
        result = dict(self.process(event))
        if result.get("status") == SUCCEEDED:
            done = self.state.complete(claim, output_key=result.get("output_key"))
            if done:
                stats().processed(1, event.fingerprint.size)
            return "completed" if done else "superseded"
        reason = str(result.get("reason") or f"processing returned status {result.get('status')!r}")
        self.state.fail(claim, reason)
        self._dead_letter(record, FAILED_RESULT, reason, "", key=event.key)
        stats().failed()
        return FAILED_RESULT

    def _dead_letter(
        self, record: Mapping[str, Any], kind: str, error: str, stack: str, *, key: str | None
    ) -> None:
        kinesis = record.get("kinesis")
        kinesis = kinesis if isinstance(kinesis, Mapping) else {}
        data = kinesis.get("data")
        self.dead_letters.record(
            partition_key=str(kinesis.get("partitionKey", "")),
            data=data if isinstance(data, str) else "",
            raw=dict(record),
            kind=kind,
            error=error,
            stack_trace=stack or "(handled failure; no exception)",
            key=key,
        )

    def _transient(self, record: Mapping[str, Any], event: ChangeEvent | None, error: Exception) -> bool:
        """Count and log a failure Lambda will retry; True if its dead letter was written.

        If the dead letter cannot be written either (the table is throttled too), the record is
        still reported, so it stays on the stream; should the mapping give up on it, the OnFailure
        message names its sequence range and the replay reads it back from the stream.
        """
        stats().failed()
        logger.warning("record %s failed and will be retried: %r", _sequence(record), error)
        stack = "".join(traceback.format_exception(error))
        try:
            self._dead_letter(record, TRANSIENT, f"{type(error).__name__}: {error}", stack,
                              key=event.key if event else None)  # fmt: skip
        except Exception:
            logger.exception("could not dead-letter record %s; it stays on the stream", _sequence(record))
            return False
        return True


@dataclass(frozen=True)
class ConsumerConfig:
    """The consumer's environment that every use case shares (names fixed by the template)."""

    state_table: str = env("STATE_TABLE")
    dlq_table: str = env("DLQ_TABLE")
    # Dead letters too large for a DynamoDB item keep their record under dead-letters/ here.
    output_bucket: str = env("OUTPUT_BUCKET")
    claim_timeout_seconds: float = env("CLAIM_TIMEOUT_SECONDS", 900.0)
    dlq_ttl_days: float = env("DLQ_TTL_DAYS", 14.0)


def build_consumer(cfg: ConsumerConfig, process: FileProcessor) -> Consumer:
    """Wire a use case's processor to the state and dead-letter tables; call once per cold start."""
    dynamodb = aws_client("dynamodb")
    return Consumer(
        state=StateStore(cfg.state_table, dynamodb),
        dead_letters=DeadLetterStore(
            cfg.dlq_table,
            dynamodb,
            ttl_days=cfg.dlq_ttl_days,
            overflow=DeadLetterOverflow(cfg.output_bucket, aws_client("s3")),
        ),
        process=process,
        claim_timeout_seconds=cfg.claim_timeout_seconds,
    )


def consume_batch(event: Mapping[str, Any], consumer: Consumer) -> ConsumeReport:
    """Consume one Kinesis event-source-mapping batch; refuses an event that is not one."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        raise ValueError("expected a Kinesis event with a 'Records' list")
    report = consumer.consume(records)
    logger.info("consumed %d record(s): %s; %d to retry", len(records), report.outcomes, len(report.failures))
    return report
