"""The run's dataset tables (one Glue table each), built from the result documents of its files.

``inspected_files``: one row per file version (status, kind, compliance verdict, bytes read);
``seismic_surveys``: one row per readable SEG-Y survey; ``well_curves``: one row per curve of each
readable LAS log; ``compliance_findings``: one row per finding. Every row carries ``run_id`` and
the source ``key``; the partition is the run's date (``dt``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from shared.analytics import Column, RecordSchema

logger = logging.getLogger(__name__)

FIRST_DATE = "2026-01-01"
ROOT = "datasets"

INSPECTED_FILES = RecordSchema(
    "inspected_files",
    (
        Column("run_id", "string", nullable=False),
        Column("key", "string", nullable=False),
        Column("etag", "string"),
        Column("kind", "string"),
        Column("status", "string", nullable=False),
        Column("error", "string"),
        Column("reason", "string"),
        Column("verdict", "string"),
        Column("file_size", "bigint"),
        Column("bytes_read", "bigint"),
    ),
    prefix="seismic/inspected_files",
    first_date=FIRST_DATE,
)
SEISMIC_SURVEYS = RecordSchema(
    "seismic_surveys",
    (
        Column("run_id", "string", nullable=False),
        Column("key", "string", nullable=False),
        Column("textual_encoding", "string"),
        Column("revision", "string"),
        Column("sample_format", "string"),
        Column("sample_interval_us", "bigint"),
        Column("samples_per_trace", "bigint"),
        Column("trace_count", "bigint"),
        Column("record_length_ms", "double"),
        Column("inline_min", "bigint"),
        Column("inline_max", "bigint"),
        Column("crossline_min", "bigint"),
        Column("crossline_max", "bigint"),
        Column("x_min", "double"),
        Column("x_max", "double"),
        Column("y_min", "double"),
        Column("y_max", "double"),
        Column("amplitude_min", "double"),
        Column("amplitude_max", "double"),
        Column("amplitude_rms", "double"),
        Column("sampled_traces", "bigint"),
        Column("file_size", "bigint"),
        Column("bytes_read", "bigint"),
    ),
    prefix="seismic/surveys",
    first_date=FIRST_DATE,
)
WELL_CURVES = RecordSchema(
    "well_curves",
    (
        Column("run_id", "string", nullable=False),
        Column("key", "string", nullable=False),
        Column("well", "string"),
        Column("uwi", "string"),
        Column("curve", "string", nullable=False),
        Column("unit", "string"),
        Column("samples", "bigint"),
        Column("nulls", "bigint"),
        Column("min_value", "double"),
        Column("max_value", "double"),
        Column("mean_value", "double"),
        Column("median_value", "double"),
        Column("mad", "double"),
        Column("anomalies", "bigint"),
        Column("top_depth", "double"),
        Column("base_depth", "double"),
        Column("depth_unit", "string"),
    ),
    prefix="seismic/well_curves",
    first_date=FIRST_DATE,
)
COMPLIANCE_FINDINGS = RecordSchema(
    "compliance_findings",
    (
        Column("run_id", "string", nullable=False),
        Column("key", "string", nullable=False),
        Column("kind", "string"),
        Column("rule", "string", nullable=False),
        Column("severity", "string", nullable=False),
        Column("message", "string"),
    ),
    prefix="seismic/compliance_findings",
    first_date=FIRST_DATE,
)
SCHEMAS = (INSPECTED_FILES, SEISMIC_SURVEYS, WELL_CURVES, COMPLIANCE_FINDINGS)


def _range(value: Any, index: int) -> Any:
    return value[index] if isinstance(value, list) and len(value) == 2 else None


def rows(run_id: str, document: Mapping[str, Any]) -> Iterator[tuple[RecordSchema, dict[str, Any]]]:
    """The dataset rows of one result document."""
    source = document.get("source", {})
    key = str(source.get("key", ""))
    io = document.get("io") or {}
    kind = document.get("kind")
    verdict = (document.get("compliance") or {}).get("verdict")
    yield (
        INSPECTED_FILES,
        {
            "run_id": run_id,
            "key": key,
            "etag": source.get("etag"),
            "kind": kind,
            "status": document["status"],
            "error": document.get("error"),
            "reason": document.get("reason"),
            "verdict": verdict,
            "file_size": document.get("size", io.get("file_size")),
            "bytes_read": io.get("bytes_fetched"),
        },
    )
    survey = document.get("survey")
    if survey:
        binary = survey["binary"]
        amplitudes = survey["amplitudes"]
        yield (
            SEISMIC_SURVEYS,
            {
                "run_id": run_id,
                "key": key,
                "textual_encoding": survey["textual_encoding"],
                "revision": binary["revision"],
                "sample_format": binary["format_name"],
                "sample_interval_us": binary["sample_interval_us"],
                "samples_per_trace": binary["samples_per_trace"],
                "trace_count": survey["trace_count"],
                "record_length_ms": survey["record_length_ms"],
                "inline_min": _range(survey["inline_range"], 0),
                "inline_max": _range(survey["inline_range"], 1),
                "crossline_min": _range(survey["crossline_range"], 0),
                "crossline_max": _range(survey["crossline_range"], 1),
                "x_min": _range(survey["x_range"], 0),
                "x_max": _range(survey["x_range"], 1),
                "y_min": _range(survey["y_range"], 0),
                "y_max": _range(survey["y_range"], 1),
                "amplitude_min": amplitudes["min"],
                "amplitude_max": amplitudes["max"],
                "amplitude_rms": amplitudes["rms"],
                "sampled_traces": survey["sampled_traces"],
                "file_size": survey["file_size"],
                "bytes_read": io.get("bytes_fetched"),
            },
        )
    log = document.get("well_log")
    if log:
        well = log.get("well", {})
        top = min((d for d in (log["first_depth"], log["last_depth"]) if d is not None), default=None)
        base = max((d for d in (log["first_depth"], log["last_depth"]) if d is not None), default=None)
        for curve in log["curves"]:
            yield (
                WELL_CURVES,
                {
                    "run_id": run_id,
                    "key": key,
                    "well": well.get("WELL"),
                    "uwi": well.get("UWI") or well.get("API"),
                    "curve": curve["mnemonic"],
                    "unit": curve["unit"],
                    "samples": curve["samples"],
                    "nulls": curve["nulls"],
                    "min_value": curve["min"],
                    "max_value": curve["max"],
                    "mean_value": curve["mean"],
                    "median_value": curve["median"],
                    "mad": curve["mad"],
                    "anomalies": curve["anomalies"],
                    "top_depth": top,
                    "base_depth": base,
                    "depth_unit": log["index_unit"],
                },
            )
    for item in (document.get("compliance") or {}).get("findings", []):
        yield (
            COMPLIANCE_FINDINGS,
            {
                "run_id": run_id,
                "key": key,
                "kind": kind,
                "rule": item["rule"],
                "severity": item["severity"],
                "message": item["message"],
            },
        )
