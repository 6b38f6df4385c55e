"""The run's report: every result its manifest names, as ``shipments`` dataset rows and one summary.

It reads the files of the run from the manifest chunks (``chunks_key``, set by Discover) and, for
each, the version-keyed result (a missing one is counted, never guessed). Each becomes one row of
the ``shipments`` dataset (gzip JSON Lines partitioned by ``dt``, the Glue table the template
declares, for Athena). The rows hold no names or addresses: tracking numbers, carriers, weights,
pieces, findings and, for inventory photos, the location and its label count. The summary, with
the label counts per location added up over the run's inventory photos, goes to
``runs/<run_id>/report.json``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.analytics import Column, DatasetWriter, RecordSchema
from shared.errors import FAILED, ObjectNotFoundError
from shared.polling.discovery import run_files
from shared.polling.keys import output_key
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

DATASET_ROOT = "datasets"
SHIPMENTS = RecordSchema(
    "shipments",
    (
        Column("key", "string", nullable=False),
        Column("etag", "string", nullable=False),
        Column("run_id", "string", nullable=False),
        Column("status", "string", nullable=False),
        Column("error", "string"),
        Column("reason", "string"),
        Column("doc_type", "string"),
        Column("reader", "string"),
        Column("extracted_by", "string"),
        Column("tracking_number", "string"),
        Column("tracking_scheme", "string"),
        Column("carrier", "string"),
        Column("weight_kg", "double"),
        Column("weight_unit", "string"),
        Column("pieces", "int"),
        Column("items", "int"),
        Column("container_number", "string"),
        Column("location", "string"),
        Column("label_count", "int"),
        Column("needs_review", "boolean"),
        Column("failed_findings", "string"),
    ),
    prefix="logistics/shipments",
    description="One row per processed waybill, packing list, label or inventory photo version (UC12).",
    first_date="2026-01-01",
)
QUERY_BY_CARRIER = (
    "SELECT carrier, count(*) AS documents, round(sum(weight_kg), 2) AS weight_kg, sum(pieces) AS pieces, "
    "sum(CASE WHEN needs_review THEN 1 ELSE 0 END) AS needs_review "
    "FROM shipments WHERE status = 'SUCCEEDED' AND carrier IS NOT NULL "
    "GROUP BY carrier ORDER BY carrier"
)


def row(document: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """The dataset row of one result (SUCCEEDED or FAILED); never a name or an address."""
    source = document["source"]
    record = document.get("record") or {}
    inventory = document.get("inventory") or {}
    findings = document.get("findings") or []
    return {
        "key": source["key"],
        "etag": source["etag"],
        "run_id": run_id,
        "status": document["status"],
        "error": document.get("error"),
        "reason": document.get("reason"),
        "doc_type": (document.get("document") or {}).get("type"),
        "reader": (document.get("ocr") or {}).get("reader"),
        "extracted_by": document.get("extracted_by"),
        "tracking_number": record.get("tracking_number"),
        "tracking_scheme": record.get("tracking_scheme"),
        "carrier": record.get("carrier"),
        "weight_kg": record.get("weight_kg"),
        "weight_unit": record.get("weight_unit"),
        "pieces": record.get("pieces"),
        "items": len(record["items"]) if "items" in record else None,
        "container_number": record.get("container_number"),
        "location": inventory.get("location"),
        "label_count": inventory.get("label_count"),
        "needs_review": document.get("needs_review"),
        "failed_findings": ",".join(f["rule"] for f in findings if f.get("status") == "FAIL") or None,
    }


def build_report(
    output: S3AccessPoint, *, run_id: str, chunks_key: str, now: datetime | None = None
) -> dict[str, Any]:
    """Write the run's dataset rows and summary; returns the summary."""
    now = now or datetime.now(UTC)
    counts: Counter[str] = Counter()
    types: Counter[str] = Counter()
    readers: Counter[str] = Counter()
    extracted: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    photos: Counter[str] = Counter()
    failed_findings: Counter[str] = Counter()
    missing: list[str] = []
    failures: list[dict[str, str]] = []
    review: list[str] = []
    with DatasetWriter(output.target, root=DATASET_ROOT, run_id=run_id, client=output.client) as writer:
        for file in run_files(output, chunks_key):
            try:
                document = json.loads(output.get_bytes(output_key(str(file["key"]), str(file["etag"]))))
            except ObjectNotFoundError:
                missing.append(str(file["key"]))
                continue
            counts[document["status"]] += 1
            if document["status"] == FAILED:
                failures.append(
                    {
                        "key": document["source"]["key"],
                        "error": str(document.get("error", "")),
                        "reason": str(document.get("reason", "")),
                    }
                )
            else:
                types[str(document["document"]["type"])] += 1
                readers[str(document["ocr"]["reader"])] += 1
                extracted[str(document.get("extracted_by"))] += 1
                inventory = document.get("inventory")
                if inventory:
                    labels[inventory["location"]] += int(inventory["label_count"])
                    photos[inventory["location"]] += 1
                for finding in document.get("findings") or []:
                    if finding.get("status") == "FAIL":
                        failed_findings[finding["rule"]] += 1
                if document.get("needs_review"):
                    review.append(document["source"]["key"])
            writer.write(SHIPMENTS, row(document, run_id), dt=now)
    report_key = f"runs/{run_id}/report.json"
    summary = {
        "run_id": run_id,
        "documents": sum(counts.values()),
        "by_status": dict(counts),
        "by_type": dict(types),
        "by_reader": dict(readers),
        "extracted_by": dict(extracted),
        "failed_findings": dict(failed_findings),
        "labels_per_location": {
            loc: {"photos": photos[loc], "labels": labels[loc]} for loc in sorted(labels)
        },
        "needs_review": review,
        "failures": failures,
        "missing_results": missing,
        "dataset": writer.summary.to_dict(),
        "report_key": report_key,
    }
    output.put(report_key, json.dumps(summary, indent=1).encode(), content_type="application/json")
    logger.info(
        "run %s: %d files (%s), %d need review, %d missing",
        run_id,
        summary["documents"],
        dict(counts),
        len(review),
        len(missing),
    )
    return summary
