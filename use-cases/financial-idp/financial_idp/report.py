"""The run's report: every result this run's manifest names, as dataset rows and one summary.

It reads the files of the run from the manifest chunks (``chunks_key``, set by Discover) and, for
each, the version-keyed result document (a missing one is counted, never guessed). Each document
becomes one row of the ``financial_documents`` dataset (gzip JSON Lines partitioned by ``dt``, the
Glue table the template declares, for Athena); the account number is kept to its last four
characters there. The summary goes to ``runs/<run_id>/report.json``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from financial_idp.extraction import masked
from shared.analytics import Column, DatasetWriter, RecordSchema
from shared.errors import FAILED, ObjectNotFoundError
from shared.polling.discovery import Chunk, load_chunk
from shared.polling.keys import output_key
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

DATASET_ROOT = "datasets"
DOCUMENTS = RecordSchema(
    "financial_documents",
    (
        Column("key", "string", nullable=False),
        Column("etag", "string", nullable=False),
        Column("run_id", "string", nullable=False),
        Column("status", "string", nullable=False),
        Column("reason", "string"),
        Column("doc_type", "string"),
        Column("pages", "int"),
        Column("ocr_mode", "string"),
        Column("pages_skipping_ocr", "int"),
        Column("vendor", "string"),
        Column("invoice_number", "string"),
        Column("invoice_date", "string"),
        Column("due_date", "string"),
        Column("currency", "string"),
        Column("subtotal", "double"),
        Column("tax", "double"),
        Column("total", "double"),
        Column("line_items", "int"),
        Column("account_last4", "string"),
        Column("period_start", "string"),
        Column("period_end", "string"),
        Column("transactions", "int"),
        Column("needs_review", "boolean"),
        Column("failed_rules", "string"),
    ),
    prefix="financial/documents",
    description="One row per processed invoice or statement version (UC2).",
    first_date="2026-01-01",
)


def run_files(output: S3AccessPoint, chunks_key: str) -> Iterator[dict[str, Any]]:
    for descriptor in json.loads(output.get_bytes(chunks_key)):
        yield from load_chunk(output, Chunk.from_dict(descriptor))


def _float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def row(document: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """The dataset row of one result document (SUCCEEDED or FAILED)."""
    source = document["source"]
    fields = document.get("extraction") or {}
    meta = document.get("document") or {}
    ocr = document.get("ocr") or {}
    findings = document.get("findings") or []
    return {
        "key": source["key"],
        "etag": source["etag"],
        "run_id": run_id,
        "status": document["status"],
        "reason": document.get("reason"),
        "doc_type": meta.get("type"),
        "pages": meta.get("pages"),
        "ocr_mode": ocr.get("mode"),
        "pages_skipping_ocr": ocr.get("pages_skipping_ocr"),
        "vendor": fields.get("vendor"),
        "invoice_number": fields.get("invoice_number"),
        "invoice_date": fields.get("invoice_date"),
        "due_date": fields.get("due_date"),
        "currency": fields.get("currency"),
        "subtotal": _float(fields.get("subtotal")),
        "tax": _float(fields.get("tax")),
        "total": _float(fields.get("total")),
        "line_items": len(fields["line_items"]) if "line_items" in fields else None,
        "account_last4": masked(fields.get("account")),
        "period_start": fields.get("period_start"),
        "period_end": fields.get("period_end"),
        "transactions": len(fields["transactions"]) if "transactions" in fields else None,
        "needs_review": document.get("needs_review"),
        "failed_rules": ",".join(f["rule"] for f in findings if f.get("status") == "FAIL") or None,
    }


def build_report(
    output: S3AccessPoint, *, run_id: str, chunks_key: str, now: datetime | None = None
) -> dict[str, Any]:
    """Write the run's dataset rows and summary; returns the summary."""
    now = now or datetime.now(UTC)
    counts: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    pages = skipped = 0
    missing: list[str] = []
    failures: list[dict[str, str]] = []
    review: list[str] = []
    with DatasetWriter(output.target, root=DATASET_ROOT, run_id=run_id, client=output.client) as writer:
        for file in run_files(output, chunks_key):
            key = output_key(str(file["key"]), str(file["etag"]))
            try:
                document = json.loads(output.get_bytes(key))
            except ObjectNotFoundError:
                missing.append(str(file["key"]))
                continue
            counts[document["status"]] += 1
            if document["status"] == FAILED:
                failures.append({"key": document["source"]["key"], "reason": str(document.get("reason", ""))})
            else:
                ocr = document.get("ocr") or {}
                modes[str(ocr.get("mode"))] += 1
                pages += int((document.get("document") or {}).get("pages") or 0)
                skipped += int(ocr.get("pages_skipping_ocr") or 0)
                if document.get("needs_review"):
                    review.append(document["source"]["key"])
            writer.write(DOCUMENTS, row(document, run_id), dt=now)
    summary = {
        "run_id": run_id,
        "documents": sum(counts.values()),
        "by_status": dict(counts),
        "by_mode": dict(modes),
        "pages": pages,
        "pages_skipping_ocr": skipped,
        "share_skipping_ocr": round(skipped / pages, 4) if pages else 0.0,
        "needs_review": review,
        "failures": failures,
        "missing_results": missing,
        "dataset": writer.summary.to_dict(),
        "report_key": f"runs/{run_id}/report.json",
    }
    report_key = f"runs/{run_id}/report.json"
    output.put(report_key, json.dumps(summary, indent=1).encode(), content_type="application/json")
    logger.info(
        "run %s: %d documents (%s), %d need review, %d missing",
        run_id,
        summary["documents"],
        dict(counts),
        len(review),
        len(missing),
    )
    return summary
