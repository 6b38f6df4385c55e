"""One design file of the run: read it whole (GDSII or OASIS), write its result and its dataset rows.

The file is streamed through one pinned GET (:meth:`shared.formats.ranged.RangedReader.iter_chunks`)
and read record by record (:mod:`shared.formats.gdsii`, :mod:`shared.formats.oasis`), so memory
stays flat whatever its size. The outcome is the skeleton's result document (``design`` section)
and rows in three dataset tables the report step queries with Athena:

* ``eda_designs``: one row per file version (project, format, library, units, cells, top cell,
  bounding box in microns, findings, status and reason);
* ``eda_layers``: one row per (file, layer, datatype) with its element count;
* ``eda_findings``: one row per (file, finding code) with its count and first example.

The project is the first folder of the key below ``SOURCE_PREFIX`` (``<project>/<library>.gds``);
unit mismatches are found across a project's libraries by the report step.

A file the readers refuse (truncated, bad magic, a record whose length does not fit) gets a FAILED
result whose reason names the record and offset, and a ``FAILED`` row in ``eda_designs``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from shared.analytics import Column, DatasetWriter, RecordSchema
from shared.config import env
from shared.errors import FAILED, SUCCEEDED
from shared.polling import settings as polling
from shared.polling.keys import output_key
from shared.polling.results import result_document, write_result
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

GDSII_SUFFIXES = (".gds", ".gds2", ".gdsii")
OASIS_SUFFIXES = (".oas", ".oasis")
SUFFIXES = GDSII_SUFFIXES + OASIS_SUFFIXES
DATASET_ROOT = "datasets"

DESIGNS = RecordSchema(
    "eda_designs",
    (
        Column("run_id", "string", nullable=False),
        Column("project", "string", nullable=False),
        Column("source_key", "string", nullable=False),
        Column("etag", "string"),
        Column("format", "string"),
        Column("status", "string", nullable=False),
        Column("reason", "string"),
        Column("error", "string"),
        Column("library", "string"),
        Column("user_unit", "double"),
        Column("db_unit_m", "double"),
        Column("cell_count", "bigint"),
        Column("top_cell", "string"),
        Column("top_cells", "bigint"),
        Column("layer_count", "bigint"),
        Column("element_count", "bigint"),
        Column("bbox_width_um", "double"),
        Column("bbox_height_um", "double"),
        Column("findings", "bigint"),
        Column("size_bytes", "bigint"),
        Column("records", "bigint"),
        Column("processed_at", "timestamp"),
    ),
    prefix="eda/designs",
    first_date="2026-01-01",
)
LAYERS = RecordSchema(
    "eda_layers",
    (
        Column("run_id", "string", nullable=False),
        Column("project", "string", nullable=False),
        Column("source_key", "string", nullable=False),
        Column("layer", "int"),
        Column("datatype", "int"),
        Column("elements", "bigint"),
    ),
    prefix="eda/layers",
    first_date="2026-01-01",
)
FINDINGS = RecordSchema(
    "eda_findings",
    (
        Column("run_id", "string", nullable=False),
        Column("project", "string", nullable=False),
        Column("source_key", "string", nullable=False),
        Column("code", "string", nullable=False),
        Column("message", "string"),
        Column("occurrences", "bigint"),
        Column("example", "string"),
    ),
    prefix="eda/findings",
    first_date="2026-01-01",
)
SCHEMAS = (DESIGNS, LAYERS, FINDINGS)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ValidateConfig(polling.PollingConfig):
    """The validate function's settings."""

    max_design_mib: int = env("MAX_DESIGN_MIB", 2048)
    read_chunk_kib: int = env("READ_CHUNK_KIB", 1024)


@dataclasses.dataclass(frozen=True)
class DesignFile:
    key: str
    etag: str
    size: int

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> DesignFile:
        return cls(key=str(event["key"]), etag=str(event.get("etag", "")), size=int(event["size"]))


def format_of(key: str) -> str | None:
    lower = key.lower()
    if lower.endswith(GDSII_SUFFIXES):
        return "gdsii"
    if lower.endswith(OASIS_SUFFIXES):
        return "oasis"
    return None


def project_of(key: str, source_prefix: str = "") -> str:
    """The first folder of ``key`` below ``source_prefix`` ("" for a file at the top)."""
    rest = key[len(source_prefix) :] if source_prefix and key.startswith(source_prefix) else key
    head, sep, _ = rest.lstrip("/").partition("/")
    return head if sep else ""


class ChunkStream:
    """A minimal binary file object (``read``) over an iterator of byte chunks: one GET, read in order."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self.bytes_read = 0

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._buffer += chunk
        if n < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:n], self._buffer[n:]
        self.bytes_read += len(out)
        return out


def read_design(stream: Any, fmt: str, *, chunk_size: int = 1 << 20) -> dict[str, Any]:
    """The reader's summary of one design as a JSON-safe dict (``format`` says which reader)."""
    if fmt == "gdsii":
        from shared.formats.gdsii import read_gdsii

        return read_gdsii(stream, chunk_size=chunk_size).to_dict()
    from shared.formats.oasis import read_oasis

    return read_oasis(stream, chunk_size=chunk_size).to_dict()


def summary_rows(
    design: Mapping[str, Any], *, run_id: str, project: str, file: DesignFile, now: datetime
) -> dict[str, list[dict[str, Any]]]:
    """The dataset rows of one read design."""
    box = design.get("bbox_um")
    findings = list(design.get("findings") or ())
    layers = list(design.get("layers") or ())
    base = {"run_id": run_id, "project": project, "source_key": file.key}
    return {
        DESIGNS.name: [
            {
                **base,
                "etag": file.etag,
                "format": design["format"],
                "status": SUCCEEDED,
                "library": design.get("library"),
                "user_unit": design.get("user_unit"),
                "db_unit_m": db_unit(design["db_unit_m"]),
                "cell_count": design["cell_count"],
                "top_cell": design.get("top_cell") or None,
                "top_cells": len(design.get("top_cells") or ()),
                "layer_count": len(layers),
                "element_count": sum(int(n) for n in (design.get("elements") or {}).values()),
                "bbox_width_um": (box[2] - box[0]) if box else None,
                "bbox_height_um": (box[3] - box[1]) if box else None,
                "findings": sum(int(f["count"]) for f in findings),
                "size_bytes": file.size,
                "records": design.get("records"),
                "processed_at": now,
            }
        ],
        LAYERS.name: [
            {**base, "layer": row["layer"], "datatype": row["datatype"], "elements": row["elements"]}
            for row in layers
        ],
        FINDINGS.name: [
            {
                **base,
                "code": f["code"],
                "message": f["message"],
                "occurrences": f["count"],
                "example": _example(f.get("examples") or ()),
            }
            for f in findings
        ],
    }


def db_unit(value: float) -> float:
    """The unit to 12 significant digits, so 1e-6/1000 (OASIS) and 1e-9 (GDSII) compare equal."""
    return float(f"{float(value):.12g}")


def _example(examples: Any) -> str | None:
    if not examples:
        return None
    return ", ".join(f"{k}={v}" for k, v in dict(examples[0]).items())


def failed_row(
    file: DesignFile, fmt: str | None, *, run_id: str, project: str, reason: str, error: str, now: datetime
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "project": project,
        "source_key": file.key,
        "etag": file.etag,
        "format": fmt,
        "status": FAILED,
        "reason": reason,
        "error": error,
        "size_bytes": file.size,
        "processed_at": now,
    }


def writer_run_id(run_id: str, file: DesignFile) -> str:
    """One writer per file version, so parallel invocations never write the same object."""
    digest = hashlib.sha256(f"{file.key}\n{file.etag}".encode()).hexdigest()[:16]
    return f"{run_id}-{digest}"


def process_design(
    source: S3AccessPoint,
    output: S3AccessPoint,
    file: DesignFile,
    *,
    run_id: str,
    cfg: ValidateConfig,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Read one design file version, write its result document and dataset rows; return a summary."""
    from shared.formats.gdsii import GdsiiError
    from shared.formats.oasis import OasisError
    from shared.formats.ranged import RangedReader

    now = now or datetime.now(UTC)
    fmt = format_of(file.key)
    project = project_of(file.key, cfg.source_prefix)
    rows: dict[str, list[dict[str, Any]]]
    design: dict[str, Any] = {}
    reason = error = ""
    bytes_fetched = 0
    if fmt is None:
        reason, error = f"not a design file suffix ({', '.join(SUFFIXES)})", "UnsupportedFormat"
    elif file.size > cfg.max_design_mib << 20:
        reason, error = f"{file.size} bytes is above MAX_DESIGN_MIB={cfg.max_design_mib}", "DesignTooLarge"
    else:
        with RangedReader(source, file.key, etag=file.etag or None, size=file.size) as ranged:
            stream = ChunkStream(ranged.iter_chunks(chunk_size=cfg.read_chunk_kib << 10))
            try:
                design = read_design(stream, fmt, chunk_size=cfg.read_chunk_kib << 10)
            except (GdsiiError, OasisError) as exc:
                details = ", ".join(f"{k} {v}" for k, v in exc.details.items() if k in ("record", "offset"))
                reason, error = f"{exc.reason} ({details})" if details else exc.reason, type(exc).__name__
            bytes_fetched = ranged.stats.bytes_fetched
    if reason:
        rows = {
            DESIGNS.name: [
                failed_row(file, fmt, run_id=run_id, project=project, reason=reason, error=error, now=now)
            ]
        }
        status = FAILED
    else:
        rows = summary_rows(design, run_id=run_id, project=project, file=file, now=now)
        status = SUCCEEDED
    schemas = {schema.name: schema for schema in SCHEMAS}
    with DatasetWriter(
        output.target, root=DATASET_ROOT, run_id=writer_run_id(run_id, file), client=output.client
    ) as w:
        for name, records in rows.items():
            for record in records:
                w.write(schemas[name], record, dt=now)
    design_section = {k: v for k, v in design.items() if k not in ("hierarchy", "cells")}
    if design:
        design_section["hierarchy_edges"] = sum(len(c) for c in design.get("hierarchy", {}).values())
    document = result_document(
        key=file.key,
        etag=file.etag,
        status=status,
        source=source.target,
        reason=reason or None,
        error=error or None,
        sections={
            "run_id": run_id,
            "project": project,
            "size": file.size,
            "bytes_read": bytes_fetched,
            "design": design_section,
        },
    )
    key = write_result(output, document)
    logger.info("design %s: %s", file.key, status)
    out: dict[str, Any] = {"key": file.key, "status": status, "output_key": key, "project": project}
    if reason:
        out["reason"] = reason
    return out


def result_key(file: DesignFile) -> str:
    return output_key(file.key, file.etag)
