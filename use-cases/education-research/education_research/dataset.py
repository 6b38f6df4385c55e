"""The papers as a dataset table for Athena (``shared.analytics``): one record per indexed paper version.

Written by the index step under ``datasets/papers/dt=YYYY-MM-DD/`` of the output bucket; the
template's ``PapersTable`` is the Glue table of :data:`PAPERS` (checked by
``glue_table_differences`` in the template test).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from shared.analytics.schema import Column, RecordSchema

logger = logging.getLogger(__name__)

DATASET_ROOT = "datasets"

PAPERS = RecordSchema(
    "papers",
    (
        Column("source_key", "string", nullable=False),
        Column("etag", "string", nullable=False),
        Column("paper_key", "string", nullable=False),
        Column("title", "string"),
        Column("doi", "string"),
        Column("year", "int"),
        Column("language", "string"),
        Column("pages", "int"),
        Column("authors", "string"),
        Column("keywords", "string"),
        Column("reference_count", "int"),
        Column("run_id", "string", nullable=False),
    ),
    prefix="papers",
    first_date="2026-01-01",
)


def paper_record(paper: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """The dataset record of a result document's ``paper`` section (lists joined with "; ")."""
    return {
        "source_key": str(paper["source_key"]),
        "etag": str(paper.get("etag", "")),
        "paper_key": str(paper["paper_key"]),
        "title": paper.get("title") or None,
        "doi": paper.get("doi") or None,
        "year": paper.get("year"),
        "language": paper.get("language") or None,
        "pages": paper.get("pages"),
        "authors": "; ".join(paper.get("authors") or []) or None,
        "keywords": "; ".join(paper.get("keywords") or []) or None,
        "reference_count": len(paper.get("references") or []),
        "run_id": run_id,
    }
