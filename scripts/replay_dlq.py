"""Re-put dead-lettered stream records and remove them once the stream accepted them.

``python -m scripts.replay_dlq retail-catalog [--stack NAME] [--kind failed] [--dry-run]``
(or ``make replay-dlq UC=retail-catalog``). The dead-letter table, the stream and the state table
are read from the stack's outputs (``DeadLetterTableName``, ``ChangeStreamName``,
``StateTableName``) unless given with ``--table``, ``--stream`` and ``--state-table``.

Each dead letter holds the record's payload exactly as delivered. A record whose file version is
already completed (a transient failure that a retry then fixed) is removed without a re-put. Any
other record goes back on the stream with its original partition key, so it lands on the same
shard, in order behind newer events of the same file; the consumer's version-conditioned state
then processes it once or skips it as stale. A dead letter is removed only after PutRecords
accepted its record, and only if it did not fail again meanwhile, so a replay never loses one.
A payload that is not valid base64 cannot be re-put as the original bytes and is kept.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.changes import ChangeEvent, MalformedEventError
from shared.state import DeadLetter, DeadLetterStore, StateStore
from shared.streaming import (
    PutRecordsFailedError,
    StreamingConfig,
    StreamingHelper,
    StreamRecord,
)

logger = logging.getLogger(__name__)

OUTPUT_TABLE = "DeadLetterTableName"
OUTPUT_STREAM = "ChangeStreamName"
OUTPUT_STATE = "StateTableName"


@dataclass
class ReplaySummary:
    """What a replay did, per dead letter."""

    replayed: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            f"replayed {len(self.replayed)}, removed as already completed {len(self.resolved)}, "
            f"kept {len(self.kept)}"
        ]
        out += [f"  kept {record_id}: {why}" for record_id, why in sorted(self.kept.items())]
        return out


def _payload(letter: DeadLetter) -> bytes | None:
    try:
        return base64.b64decode(letter.data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _event(payload: bytes) -> ChangeEvent | None:
    try:
        return ChangeEvent.from_json(payload)
    except MalformedEventError:
        return None


def replay(
    dead_letters: DeadLetterStore,
    helper: StreamingHelper,
    *,
    state: StateStore | None = None,
    kinds: Sequence[str] = (),
    dry_run: bool = False,
) -> ReplaySummary:
    """Re-put every matching dead letter; remove each one the stream accepted (or that is resolved)."""
    summary = ReplaySummary()
    records: list[StreamRecord] = []
    for letter in dead_letters.entries():
        if kinds and letter.kind not in kinds:
            continue
        payload = _payload(letter)
        if payload is None:
            summary.kept[letter.record_id] = "payload is not valid base64; the original bytes are unknown"
            continue
        event = _event(payload)
        resolved = (
            state is not None
            and event is not None
            and event.event_type != "deleted"
            and state.is_completed(event.key, event.fingerprint)
        )
        if resolved:
            if dry_run or dead_letters.remove(letter):
                summary.resolved.append(letter.record_id)
            continue
        key = letter.partition_key
        if key in ("", "-"):
            key = helper.partition_key(event.key) if event is not None else "dead-letter-replay"
        records.append(StreamRecord(payload, key, tag=letter))
    if dry_run:
        summary.replayed = [r.tag.record_id for r in records]
        return summary
    not_accepted: set[int] = set()
    try:
        helper.put_records(records)
    except PutRecordsFailedError as error:
        logger.error("%s", error.reason)
        not_accepted = {id(r) for r in error.records}
    for record in records:
        letter = record.tag
        if id(record) in not_accepted:
            summary.kept[letter.record_id] = "the stream did not accept it; run the replay again"
        elif dead_letters.remove(letter):
            summary.replayed.append(letter.record_id)
        else:
            summary.kept[letter.record_id] = (
                "re-put, but it failed again meanwhile; kept with its new failure"
            )
    return summary


def stack_outputs(stack: str, region: str | None) -> dict[str, str]:
    import boto3

    cfn = boto3.client("cloudformation", region_name=region)
    stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("uc", nargs="?", default="retail-catalog", help="use case (default retail-catalog)")
    parser.add_argument("--stack", help="stack name (default: the deploy default for the use case)")
    parser.add_argument("--region")
    parser.add_argument("--table", help="dead-letter table name")
    parser.add_argument("--stream", help="Kinesis stream name")
    parser.add_argument("--state-table", help="state table name (to drop dead letters already resolved)")
    parser.add_argument("--kind", action="append", choices=["malformed", "failed", "transient"], default=[])
    parser.add_argument("--dry-run", action="store_true", help="say what would be replayed, change nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    table, stream, state_table = args.table, args.stream, args.state_table
    if not (table and stream):
        from scripts import catalog
        from scripts.deploy import default_stack_name

        stack = args.stack or default_stack_name(catalog.find(args.uc))
        outputs = stack_outputs(stack, args.region)
        table = table or outputs.get(OUTPUT_TABLE)
        stream = stream or outputs.get(OUTPUT_STREAM)
        state_table = state_table or outputs.get(OUTPUT_STATE)
        if not (table and stream):
            message = f"stack {stack} has no {OUTPUT_TABLE}/{OUTPUT_STREAM} outputs: is streaming enabled?"
            print(message, file=sys.stderr)
            return 2

    import boto3

    dynamodb = boto3.client("dynamodb", region_name=args.region)
    helper = StreamingHelper(StreamingConfig(stream), boto3.client("kinesis", region_name=args.region))
    summary = replay(
        DeadLetterStore(table, dynamodb),
        helper,
        state=StateStore(state_table, dynamodb) if state_table else None,
        kinds=args.kind,
        dry_run=args.dry_run,
    )
    for line in summary.lines():
        print(("(dry run) " if args.dry_run else "") + line)
    return 1 if summary.kept else 0


if __name__ == "__main__":
    raise SystemExit(main())
