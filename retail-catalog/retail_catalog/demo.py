"""UC11 retail-catalog on the embedded local cloud: streaming and polling paths over sample images.

The sample set is the project's own (``shared.formats.samples.images``): real JPEG, PNG and WebP files in
catalog sizes (all above the 500x500 quality minimum), plus four files that must fail on purpose
(truncated, too small, odd aspect ratio: the quality check flags them; not an image: processing
fails and the record is dead-lettered) and two files that share a name in different folders.

Flows, in the order an operator would see them:

1. the stream producer is ticked twice: a new file must keep its fingerprint for one quiet poll
   (``QuietPolls=1``) before it is emitted, so the first tick records and the second emits;
2. the stream consumer runs through the event source mapping poller (batches of ``StreamBatchSize``,
   ReportBatchItemFailures, bisect, on-failure queue);
3. a few files arrive late (after the producer's last tick), and the polling state machine runs
   (Discover, Distributed Map over chunks, tag/describe/check per file); it reconciles whatever the
   stream did not complete, here the late files.

After each path the driver reads the result documents in the output bucket: every file that path
was given must have one. The summary shows how many files passed or failed the quality check,
and why each failing file failed, as read from those documents.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from shared.formats.samples import images

logger = logging.getLogger(__name__)

CHUNK_SIZE = 20
LATE_PREFIX = "products/late/"


def late_count(files: int) -> int:
    """Files written after the stream's last tick, for the polling run to pick up."""
    return max(2, files // 10)


def parameters(access_point: Any) -> dict[str, str]:
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "EnableStreamingMode": "true",
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "QuietPolls": "1",
        "StreamBatchSize": "10",
        "ChunkSize": str(CHUNK_SIZE),
        "LambdaTimeout": "300",
    }


def sample_specs(files: int) -> list[images.SampleSpec]:
    """The default set (with its defective files) first, then generated valid images."""
    specs = list(images.DEFAULT_SPECS[:files])
    extra = max(0, files - len(specs))
    specs.extend(
        images.generated_specs(extra, prefix="products/generated/", folders=5, sizes=images.CATALOG_SIZES)
    )
    return specs


def late_specs(files: int) -> list[images.SampleSpec]:
    """The files written after the stream's last tick (valid catalog images)."""
    count = late_count(files)
    return list(
        images.generated_specs(count, prefix=LATE_PREFIX, folders=2, seed=10_000, sizes=images.CATALOG_SIZES)
    )


def seed(cloud: Any, access_point: Any, files: int) -> int:
    rendered = images.sample_set(sample_specs(files))
    images.upload(cloud.client("s3"), access_point.arn, rendered)
    return len(rendered)


def _payloads(cloud: Any, function_name: str, since: int) -> list[Any]:
    return [i.payload for i in cloud.runtime.invocations[since:] if i.function_name == function_name]


def result_documents(s3: Any, bucket: str) -> dict[str, dict[str, Any]]:
    """The newest result document per source key, read from the output bucket's ``results/by-key/``."""
    found: dict[str, dict[str, Any]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="results/by-key/"):
        for obj in page.get("Contents", []):
            document = json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            source = str(document["source"]["key"])
            if source not in found or document["processed_at"] > found[source]["processed_at"]:
                found[source] = document
    return found


def _quality_figures(summary: Any, documents: Iterable[dict[str, Any]]) -> None:
    """Quality passed / failed and processing failures, with the reasons, from the result documents."""
    passed, failed, unprocessed = 0, {}, {}
    for document in documents:
        key = document["source"]["key"]
        quality = document.get("quality")
        if document["status"] != "SUCCEEDED" or quality is None:
            unprocessed[key] = str(document.get("reason", document["status"]))
        elif quality["passed"]:
            passed += 1
        else:
            failed[key] = "; ".join(f"{issue['code']}: {issue['message']}" for issue in quality["issues"])
    summary.extra["quality passed"] = passed
    summary.extra["quality failed"] = len(failed)
    summary.extra["processing failed"] = len(unprocessed)
    for key, codes in sorted(failed.items()):
        summary.extra[f"quality failed {key}"] = codes
    for key, reason in sorted(unprocessed.items()):
        summary.extra[f"processing failed {key}"] = reason[:240]


def drive(cloud: Any, stack: Any, access_point: Any, summary: Any, step: Any) -> None:
    producer = stack.physical_ids["StreamProducerFunction"]
    since = len(cloud.runtime.invocations)
    with step("tick the stream producer twice (new files wait one quiet poll)"):
        firings = cloud.tick("StreamingSchedule") + cloud.tick("StreamingSchedule")
        runs = _payloads(cloud, producer, since)
        emitted = sum(int(run.get("emitted", 0)) for run in runs if isinstance(run, dict))
        failed_shards = sum(len(run.get("failed_shards", [])) for run in runs if isinstance(run, dict))
        summary.files_detected = emitted
        summary.events_streamed = emitted
        ok = all(f.ok for f in firings) and failed_shards == 0 and emitted > 0
        summary.flow("stream producer", ok, f"{emitted} change events, {failed_shards} failed shard(s)")
    with step("run the stream consumer through the event source mapping poller"):
        stats = cloud.poll_streams()
        mapping = stats.get(stack.physical_ids["StreamConsumerMapping"])
        delivered = mapping.records_delivered if mapping else 0
        summary.extra["stream records delivered"] = delivered
        summary.extra["stream batches"] = mapping.invocations if mapping else 0
        summary.extra["stream function errors"] = mapping.function_errors if mapping else 0
        output_bucket = stack.outputs.get("OutputBucketName") or stack.physical_ids.get("OutputBucket", "")
        s3 = cloud.client("s3")
        streamed = result_documents(s3, output_bucket)
        missing = sorted({spec.key for spec in sample_specs(summary.files_seeded)} - set(streamed))
        summary.extra["streaming: seeded files without a result"] = missing
        summary.flow(
            "stream consumer",
            mapping is not None
            and mapping.records_succeeded > 0
            and mapping.records_discarded == 0
            and not missing,
            f"{delivered} records in {mapping.invocations if mapping else 0} batches, "
            f"{len(streamed)} result documents",
        )
    with step(f"write {late_count(summary.files_seeded)} late files the stream has not seen yet"):
        late = images.sample_set(late_specs(summary.files_seeded))
        images.upload(s3, access_point.arn, late)
        summary.extra["late files"] = len(late)
    discovery = stack.physical_ids["DiscoveryFunction"]
    before_polling = len(cloud.runtime.invocations)
    with step("run the polling state machine (Distributed Map over the manifest)"):
        result = cloud.run_state_machine("StateMachine", {"trigger": "demo"})
        found = [
            p for p in _payloads(cloud, discovery, before_polling) if isinstance(p, dict) and "listed" in p
        ]
        if found:
            summary.files_detected += int(found[0].get("files_to_process", 0))
            summary.extra["polling listed / to process"] = (
                f"{found[0].get('listed')} / {found[0].get('files_to_process')}"
            )
        documents = result_documents(s3, output_bucket)
        late_keys = {spec.key for spec in late_specs(summary.files_seeded)}
        missing = sorted(late_keys - set(documents))
        summary.extra["polling: late files without a result"] = missing
        summary.extra["polling: late files the stream processed"] = sorted(late_keys & set(streamed))
        summary.flow(
            "polling state machine",
            result.succeeded and not missing,
            f"{result.status} {result.error or ''}".strip(),
        )
        summary.extra["polling states entered"] = dict(result.states_entered())
    _quality_figures(summary, documents.values())
    summary.items_per_state = cloud.function_counts(stack)
    dynamodb = cloud.client("dynamodb")
    letters = dynamodb.scan(TableName=stack.physical_ids["DeadLetterTable"])["Items"]
    dead = len(letters)
    for letter in letters:
        key = letter.get("file_key", {}).get("S", letter["record_id"]["S"])
        summary.extra[f"dead letter {key}"] = letter.get("error", {}).get("S", "")[:240]
    queue_url = stack.physical_ids["StreamFailureQueue"]
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    summary.dlq_entries = int(dead) + int(attributes.get("ApproximateNumberOfMessages", 0))
    summary.extra["dead-letter table items"] = int(dead)
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=output_bucket):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    summary.output_keys = sorted(keys)
