"""Inspect one file of the run: a SEG-Y survey summary or a LAS well-log check, with compliance findings.

The file is read through a seekable file object (the ranged reader over the access point in
Lambda, a local file in tests): for SEG-Y only the headers and a bounded sample of traces, so the
bytes read stay a small fraction of a survey; for LAS the text itself (well logs are small, and
bounded by ``MAX_LAS_MIB``). A file the reader refuses (truncated, a bad header, a size that does
not match the trace length) is a FAILED result naming what is wrong and where; a readable file is
SUCCEEDED, with its compliance verdict and findings as data (a non-compliant delivery is a finding,
not a failure). Access and storage faults raise, and the per-file Catch records them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from energy_seismic import compliance
from energy_seismic.files import LAS, SEGY, SUFFIXES, SourceFile, kind_of
from shared.config import CommonConfig, env
from shared.errors import FAILED, SUCCEEDED
from shared.formats.segy import DEFAULT_SAMPLED_TRACES, BinaryReader, SegyError, read_segy
from shared.formats.welllog import DEFAULT_THRESHOLD, WellLogError, read_las_bytes
from shared.observability import stats, xray_subsegment
from shared.polling.results import result_document, write_result
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class InspectConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    sampled_traces: int = env("SEGY_SAMPLED_TRACES", DEFAULT_SAMPLED_TRACES)
    max_las_mib: int = env("MAX_LAS_MIB", 64)
    anomaly_threshold: float = env("ANOMALY_THRESHOLD", DEFAULT_THRESHOLD)
    # Bytes per ranged GET: one sampled trace of a typical survey (1-4 KB) fits many times over.
    read_block_bytes: int = env("READ_BLOCK_BYTES", 16384)


class Source(BinaryReader, Protocol):
    def close(self) -> None: ...


class Opened(AbstractContextManager["Opened"]):
    """An open file object and what reading it cost (bytes fetched, requests)."""

    def __init__(self, fileobj: Source, cost: Callable[[], dict[str, int]]) -> None:
        self.file = fileobj
        self.cost = cost

    def __exit__(self, *exc: object) -> None:
        self.file.close()


Opener = Callable[[SourceFile], Opened]


def inspect_file(
    opened: Opened, file: SourceFile, cfg: InspectConfig
) -> tuple[str, dict[str, Any], str | None, str | None]:
    """Read one file: ``(status, sections, reason, error)`` of its result document."""
    kind = kind_of(file.key)
    sections: dict[str, Any] = {"kind": kind, "size": file.size, "last_modified": file.last_modified}
    try:
        if kind == SEGY:
            with xray_subsegment("read_segy", {"size": file.size}):
                survey = read_segy(opened.file, sampled_traces=cfg.sampled_traces)
            findings = compliance.segy_findings(survey)
            sections["survey"] = survey.to_dict()
        elif kind == LAS:
            with xray_subsegment("read_las", {"size": file.size}):
                log = read_las_bytes(
                    opened.file, max_bytes=cfg.max_las_mib * 1024 * 1024, threshold=cfg.anomaly_threshold
                )
            findings = compliance.las_findings(log)
            sections["well_log"] = log.to_dict()
        else:
            sections["io"] = {**opened.cost(), "file_size": file.size}
            return (
                FAILED,
                sections,
                f"unsupported file type {file.key!r} (expected {SUFFIXES})",
                "UnsupportedFile",
            )
    except (SegyError, WellLogError) as error:
        sections["read_error"] = error.details
        sections["io"] = {**opened.cost(), "file_size": file.size}
        return FAILED, sections, f"unreadable {kind.upper()} file: {error.reason}", type(error).__name__
    sections["compliance"] = {"verdict": compliance.verdict(findings), "findings": findings}
    sections["io"] = {**opened.cost(), "file_size": file.size}
    return SUCCEEDED, sections, None, None


def process_file(
    opener: Opener, output: S3AccessPoint, file: SourceFile, *, run_id: str, source: str, cfg: InspectConfig
) -> dict[str, Any]:
    """Inspect one file version, write its result document and return the step's summary."""
    with opener(file) as opened:
        status, sections, reason, error = inspect_file(opened, file, cfg)
    sections["run_id"] = run_id
    document = result_document(
        key=file.key,
        etag=file.etag,
        status=status,
        source=source,
        reason=reason,
        error=error,
        sections=sections,
    )
    key = write_result(output, document)
    metrics = stats()
    metrics.put_metric("BytesRead", float(sections["io"].get("bytes_fetched", 0)), "Bytes")
    if status == SUCCEEDED:
        metrics.processed(files=1, bytes_=file.size)
        verdict = sections["compliance"]["verdict"]
        metrics.put_metric("NonCompliantFiles", 1 if verdict == "non_compliant" else 0, "Count")
    else:
        metrics.failed()
        logger.warning("file %s FAILED: %s", file.key, error)
    summary = {"key": file.key, "status": status, "output_key": key}
    if reason:
        summary["reason"] = reason
    return summary
