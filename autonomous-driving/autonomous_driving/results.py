"""UC9's per-file result: one document per file version, and the run's list of clouds awaiting segmentation.

A video's document is final as soon as its metadata is read. A point cloud that fails QC is final
too. A cloud that passes QC waits for the run's segmentation step: the QC function records it under
``runs/<run-id>/passed/`` and the annotation step writes its document once the segmentation outcome
is known. So a run that dies before that step leaves those clouds without a document, and the next
run takes them again; a run that reaches it always writes one, SUCCEEDED or FAILED with its reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from autonomous_driving.transformjob import RunLayout
from shared.errors import FAILED
from shared.formats.pointcloud import FORMATS
from shared.polling.keys import output_key
from shared.polling.results import result_document
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

VIDEO = "video"
POINTCLOUD = "pointcloud"
NOT_RUN = "NOT_RUN"
VIDEO_SUFFIXES = (".mp4", ".mov")
POINTCLOUD_SUFFIXES = tuple(sorted(FORMATS))
SUFFIXES = VIDEO_SUFFIXES + POINTCLOUD_SUFFIXES


@dataclass(frozen=True)
class SourceFile:
    """One listed file version, as the manifest describes it."""

    key: str
    etag: str
    size: int
    last_modified: str = ""

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> SourceFile:
        return cls(
            key=str(event["key"]),
            etag=str(event.get("etag", "")),
            size=int(event["size"]),
            last_modified=str(event.get("last_modified", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "etag": self.etag, "size": self.size, "last_modified": self.last_modified}


def kind_of(key: str) -> str | None:
    """``video``, ``pointcloud`` or None, from the key's suffix (case-insensitive)."""
    lower = key.lower()
    if lower.endswith(VIDEO_SUFFIXES):
        return VIDEO
    if lower.endswith(POINTCLOUD_SUFFIXES):
        return POINTCLOUD
    return None


def document(
    file: SourceFile,
    kind: str,
    *,
    run_id: str,
    status: str,
    source: str = "",
    reason: str = "",
    error: str = "",
    **parts: Any,
) -> dict[str, Any]:
    """The skeleton's result document of one file version, with UC9's sections (``video``, ``qc``...)."""
    return result_document(
        key=file.key,
        etag=file.etag,
        status=status,
        source=source,
        reason=reason or None,
        error=error or None,
        sections={"kind": kind, "run_id": run_id, "size": file.size, **parts},
    )


def read(output: S3AccessPoint, file: SourceFile) -> dict[str, Any]:
    """The result document of ``file`` (raises ObjectNotFoundError when it has none yet)."""
    body: dict[str, Any] = json.loads(output.get_bytes(output_key(file.key, file.etag)))
    return body


def summary(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a per-file step returns to the state machine: small, whatever the document holds."""
    out = {"key": body["source"]["key"], "status": body["status"], "output_key": body["output_key"]}
    for name in ("reason", "error"):
        if name in body:
            out[name] = body[name]
    return out


def passed_key(run_id: str, file: SourceFile) -> str:
    """Where QC records a cloud that passed and now waits for the run's segmentation."""
    digest = hashlib.sha256(f"{file.key}\n{file.etag}".encode()).hexdigest()[:32]
    return f"{RunLayout(run_id).passed_prefix}{digest}.json"


def record_passed(output: S3AccessPoint, run_id: str, file: SourceFile, qc: Mapping[str, Any]) -> str:
    key = passed_key(run_id, file)
    output.put(
        key, json.dumps({"source": file.to_dict(), "qc": dict(qc)}).encode(), content_type="application/json"
    )
    return key


def passed_clouds(output: S3AccessPoint, run_id: str) -> Iterator[tuple[SourceFile, dict[str, Any]]]:
    """The run's clouds that passed QC, in key order of their records: (file, QC report)."""
    for info in output.iter_objects(RunLayout(run_id).passed_prefix):
        record = json.loads(output.get_bytes(info.key))
        yield SourceFile.from_event(record["source"]), dict(record["qc"])


def failure_document(
    file: SourceFile, kind: str, *, run_id: str, reason: str, error: str, source: str = "", **parts: Any
) -> dict[str, Any]:
    return document(
        file, kind, run_id=run_id, status=FAILED, source=source, reason=reason, error=error, **parts
    )
