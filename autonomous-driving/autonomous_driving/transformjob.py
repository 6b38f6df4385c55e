"""Where one execution's files live in the output bucket, and how a transform job's output is checked.

The segmentation invoke function (which stages inputs and, in mock mode, writes outputs itself) and
the callback function (which sees the real job finish) must agree on the layout and on what counts
as a good output, so both live here. Every key is under ``runs/<run-id>/`` where the run id comes
from the Step Functions execution name: outputs are keyed per execution, never per day.

SageMaker Batch Transform reads every object under the input prefix and writes ``<name>.out`` for
each one under the output path, so the output key of a staged input is known in advance.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from shared.errors import FAILED, SUCCEEDED, ObjectNotFoundError, PatternError, failed_result
from shared.formats.pointcloud import PointCloudError
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

RUNS_PREFIX = "runs"
MAX_TASK_OUTPUT_BYTES = 256 * 1024
# Four function results share one state (video, QC, segmentation, annotations) next to the small
# discovery and config blocks; 48 KiB each keeps the whole state below the 256 KiB limit.
OUTPUT_BUDGET_BYTES = 48 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]")


class LayoutError(PatternError, ValueError):
    """A run id or manifest is malformed."""


def run_id_for(execution_name: str) -> str:
    """A key-safe run id from a Step Functions execution name (which is unique per state machine)."""
    if not isinstance(execution_name, str) or not execution_name.strip():
        raise LayoutError("a run id needs the execution name")
    return _UNSAFE.sub("_", execution_name.strip())[:80]


class _Under:
    """A key of a run, relative to its root: ``layout.summary`` is ``runs/<run-id>/summary.json``."""

    def __init__(self, relative: str) -> None:
        self.relative = relative

    def __get__(self, layout: RunLayout, owner: type[RunLayout] | None = None) -> str:
        return f"{layout.root}/{self.relative}"


@dataclass(frozen=True)
class RunLayout:
    """Object keys of one run in the output bucket."""

    run_id: str

    passed_prefix = _Under("passed/")
    segmentation_input_prefix = _Under("segmentation/input/")
    segmentation_output_prefix = _Under("segmentation/output/")
    job_manifest = _Under("segmentation/job.json")
    segmentation_result = _Under("segmentation/result.json")
    annotations = _Under("annotations/coco.json")
    summary = _Under("summary.json")

    @property
    def root(self) -> str:
        """``runs/<run id>``, the id made key-safe (it is the execution name)."""
        return f"{RUNS_PREFIX}/{run_id_for(self.run_id)}"

    def input_key(self, index: int) -> str:
        return f"{self.segmentation_input_prefix}{index:06d}.bin"

    def output_key(self, index: int) -> str:
        """Batch Transform names each output after its input plus ``.out``."""
        return f"{self.segmentation_output_prefix}{index:06d}.bin.out"


@dataclass(frozen=True)
class StagedItem:
    """One point cloud staged as transform input."""

    index: int
    source_key: str
    input_key: str
    output_key: str
    point_count: int


@dataclass(frozen=True)
class JobManifest:
    """What the invoke function staged, so the callback can verify the outputs without the token."""

    run_id: str
    bucket: str
    content_type: str
    items: tuple[StagedItem, ...]
    failures: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> bytes:
        body = {
            "run_id": self.run_id,
            "bucket": self.bucket,
            "content_type": self.content_type,
            "items": [asdict(item) for item in self.items],
            "failures": list(self.failures),
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> JobManifest:
        try:
            body = json.loads(data)
            items = tuple(StagedItem(**item) for item in body["items"])
            failures = tuple(dict(f) for f in body.get("failures", ()))
            return cls(body["run_id"], body["bucket"], body["content_type"], items, failures)
        except (ValueError, KeyError, TypeError) as error:
            raise LayoutError(f"the segmentation job manifest is malformed: {error}") from error


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def put_json(store: S3AccessPoint, key: str, body: Any) -> str:
    """Write ``body`` as JSON and return its key."""
    store.put(
        key, json.dumps(body, separators=(",", ":"), default=str).encode(), content_type="application/json"
    )
    return key


def get_json(store: S3AccessPoint, key: str) -> Any:
    return json.loads(store.get_bytes(key))


def verify_output(store: S3AccessPoint, item: StagedItem) -> dict[str, Any]:
    """Check one job output: it exists, it parses as labels, and it has one label per input point."""
    # numpy-backed: imported here so that the functions that only use the run layout stay light.
    from autonomous_driving.segmentation import label_counts
    from shared.formats.pointcloud import decode_labels

    where = {"source_key": item.source_key, "output_uri": s3_uri(store.target, item.output_key)}
    try:
        body = store.get_bytes(item.output_key)
    except ObjectNotFoundError:
        return failed_result("the transform job wrote no output for this input", **where)
    try:
        labels = decode_labels(body)
    except PointCloudError as error:
        return failed_result(f"the transform output does not parse: {error.reason}", **where)
    if len(labels) != item.point_count:
        return failed_result(
            f"the transform output has {len(labels)} labels for {item.point_count} input points", **where
        )
    return {
        **where,
        "status": SUCCEEDED,
        "point_count": item.point_count,
        "label_counts": label_counts(labels),
    }


def verify_outputs(store: S3AccessPoint, manifest: JobManifest) -> list[dict[str, Any]]:
    return [verify_output(store, item) for item in manifest.items]


def bounded(
    payload: dict[str, Any], items_key: str = "items", budget: int = OUTPUT_BUDGET_BYTES
) -> dict[str, Any]:
    """``payload`` with its item list dropped when the JSON would exceed ``budget`` bytes.

    The full list always lives in S3 (the payload carries the pointer); the state payload only
    carries what fits, so the 256 KiB Step Functions limit is never hit however many files there are.
    """
    # Measured with json's default separators, the larger of the two encodings a runtime may use.
    if len(json.dumps(payload, default=str)) <= budget:
        return payload
    items = payload.get(items_key) or []
    trimmed = {**payload, items_key: [], f"{items_key}_omitted": len(items)}
    if len(json.dumps(trimmed, default=str)) > budget:
        raise LayoutError("a task output is over budget even without its items")
    return trimmed


def summarize(results: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Counts per status over per-item results."""
    counts: dict[str, int] = {}
    for result in results:
        status = str(result.get("status", FAILED))
        counts[status] = counts.get(status, 0) + 1
    return counts


def _epoch_ms(value: Any) -> float | None:
    """A time as epoch milliseconds: events carry numbers (ms) or ISO strings, the API datetimes."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return stamp.timestamp() * 1000
    return None


def job_duration_ms(job: Mapping[str, Any]) -> float | None:
    """How long a transform job ran, from ``TransformStartTime`` to ``TransformEndTime``.

    ``job`` is a state-change event's ``detail`` or a ``DescribeTransformJob`` answer. None when
    either time is missing or unreadable (an event need not carry them), so no made-up value is sent.
    """
    start = _epoch_ms(job.get("TransformStartTime"))
    end = _epoch_ms(job.get("TransformEndTime"))
    if start is None or end is None or end < start:
        return None
    return end - start


def record_failure(
    store: S3AccessPoint, run_id: str, reason: str, *, mode: str, job_name: str | None = None
) -> str:
    """Write a FAILED segmentation result with its reason, so the run keeps it even if the failure
    path of the state machine carries only the error name."""
    layout = RunLayout(run_id)
    body = {"run_id": run_id, "mode": mode, "job_name": job_name, "status": FAILED, "reason": reason}
    return put_json(store, layout.segmentation_result, {**body, "items": []})


def settle_outputs(
    store: S3AccessPoint, manifest: JobManifest, *, mode: str, job_name: str | None = None
) -> tuple[dict[str, Any], str | None]:
    """Verify every output, write the full result, and return (task output, failure reason or None).

    The task output carries pointers and counts, never labels, and stays within the state payload
    budget. A reason is returned when any output is missing, unparsable or of the wrong length.
    Items that could not be staged are carried through as FAILED with their reasons.
    """
    layout = RunLayout(manifest.run_id)
    verified = verify_outputs(store, manifest)
    items = verified + [dict(f) for f in manifest.failures]
    bad = [r for r in verified if r["status"] != SUCCEEDED]
    status = FAILED if bad else SUCCEEDED
    header = {"run_id": manifest.run_id, "mode": mode, "job_name": job_name, "status": status}
    put_json(store, layout.segmentation_result, {**header, "items": items})
    payload = bounded(
        {
            **header,
            "result_key": layout.segmentation_result,
            "output_prefix": s3_uri(store.target, layout.segmentation_output_prefix),
            "count": len(items),
            "counts": summarize(items),
            "items": items,
        }
    )
    if not bad:
        return payload, None
    first = bad[0]
    reason = (
        f"{len(bad)} of {len(verified)} transform outputs failed verification; "
        f"first: {first['source_key']}: {first['reason']}"
    )
    return payload, reason
