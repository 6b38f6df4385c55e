"""The run's report: Athena summaries per project of the run's dataset rows, unit mismatches, Bedrock.

Everything comes from the dataset the validate step wrote for this run (``run_id`` column, ``dt``
from the run's start date for partition pruning), never from state keys:

* per project: files, readable and failed files, cells, findings, distinct database units;
* unit mismatches: a project (the library set under one prefix) whose libraries do not share one
  database unit; the libraries off the project's most common unit are listed;
* findings by project and code, the most used layers, the failed files with their reasons.

The aggregates go to the shared report step (:mod:`shared.report`), which writes
``reports/<run_id>/report.json|.md`` and notifies the topic.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shared.config import env
from shared.report import ReportConfig, ReportRequest

logger = logging.getLogger(__name__)

_SAFE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EdaReportConfig(ReportConfig):
    athena_workgroup: str = env("ATHENA_WORKGROUP")
    glue_database: str = env("GLUE_DATABASE")
    max_rows: int = env("REPORT_MAX_ROWS", 1000)


def _literal(value: str, pattern: re.Pattern[str] = _SAFE) -> str:
    if not pattern.match(value):
        raise ValueError(f"{value!r} is not a safe SQL literal here")
    return f"'{value}'"


def queries(run_id: str, day: str) -> dict[str, str]:
    """The SQL of each aggregate, for this run (``day``: the run's start date, yyyy-MM-dd)."""
    where = f"run_id = {_literal(run_id)} AND dt >= {_literal(day, _DATE)}"
    return {
        "projects": (
            "SELECT project, count(*) AS files,"
            " sum(CASE WHEN status = 'SUCCEEDED' THEN 1 ELSE 0 END) AS readable,"
            " sum(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) AS failed,"
            " sum(cell_count) AS cells, sum(findings) AS findings,"
            " count(DISTINCT db_unit_m) AS db_units, sum(size_bytes) AS bytes"
            f" FROM eda_designs WHERE {where} GROUP BY project ORDER BY project"
        ),
        "units": (
            "SELECT project, db_unit_m, count(*) AS files, min(source_key) AS example"
            f" FROM eda_designs WHERE {where} AND status = 'SUCCEEDED'"
            " GROUP BY project, db_unit_m ORDER BY project, files DESC, db_unit_m"
        ),
        "findings": (
            "SELECT project, code, sum(occurrences) AS occurrences, count(DISTINCT source_key) AS files"
            f" FROM eda_findings WHERE {where} GROUP BY project, code ORDER BY project, code"
        ),
        "layers": (
            "SELECT layer, datatype, sum(elements) AS elements, count(DISTINCT source_key) AS files"
            f" FROM eda_layers WHERE {where} GROUP BY layer, datatype ORDER BY elements DESC, layer, datatype"
            " LIMIT 20"
        ),
        "failed": (
            "SELECT project, source_key, error, reason"
            f" FROM eda_designs WHERE {where} AND status = 'FAILED' ORDER BY source_key LIMIT 100"
        ),
    }


def mismatch_query(run_id: str, day: str, project: str, unit: float) -> str:
    where = f"run_id = {_literal(run_id)} AND dt >= {_literal(day, _DATE)}"
    return (
        "SELECT source_key, library, format, db_unit_m, user_unit FROM eda_designs"
        f" WHERE {where} AND status = 'SUCCEEDED' AND project = {_literal(project)}"
        f" AND db_unit_m <> {float(unit)!r} ORDER BY source_key LIMIT 50"
    )


def unit_mismatches(
    unit_rows: Sequence[Mapping[str, Any]],
    run_query: Callable[[str], list[dict[str, Any]]],
    *,
    run_id: str,
    day: str,
) -> list[dict[str, Any]]:
    """One row per library whose database unit differs from its project's most common one."""
    by_project: dict[str, list[Mapping[str, Any]]] = {}
    for row in unit_rows:
        by_project.setdefault(str(row["project"]), []).append(row)
    out: list[dict[str, Any]] = []
    for project, rows in sorted(by_project.items()):
        if len(rows) < 2:
            continue
        majority = max(rows, key=lambda r: (int(r["files"]), -float(r["db_unit_m"])))
        unit = float(majority["db_unit_m"])
        for row in run_query(mismatch_query(run_id, day, project, unit)):
            out.append(
                {
                    "project": project,
                    "library": row.get("library") or row["source_key"],
                    "source_key": row["source_key"],
                    "db_unit_nm": round(float(row["db_unit_m"]) * 1e9, 6),
                    "project_db_unit_nm": round(unit * 1e9, 6),
                }
            )
    return out


def gather(run_query: Callable[[str], list[dict[str, Any]]], *, run_id: str, day: str) -> dict[str, Any]:
    """Every aggregate of the run, through ``run_query`` (Athena in Lambda, anything in tests)."""
    sql = queries(run_id, day)
    results = {name: run_query(text) for name, text in sql.items()}
    mismatches = unit_mismatches(results["units"], run_query, run_id=run_id, day=day)
    projects = results["projects"]
    totals = {
        "projects": len(projects),
        "files": sum(int(p["files"] or 0) for p in projects),
        "readable": sum(int(p["readable"] or 0) for p in projects),
        "failed": sum(int(p["failed"] or 0) for p in projects),
        "cells": sum(int(p["cells"] or 0) for p in projects),
        "findings": sum(int(p["findings"] or 0) for p in projects),
        "unit_mismatches": len(mismatches),
    }
    return {
        "totals": totals,
        "projects": projects,
        "unit_mismatches": mismatches,
        "findings": results["findings"],
        "layers": results["layers"],
        "failed": results["failed"],
    }


def report_request(run_id: str, aggregates: Mapping[str, Any]) -> ReportRequest:
    return ReportRequest(
        run_id=run_id,
        subject="design-file validation of the semiconductor design volume (GDSII and OASIS)",
        audience="a physical-design lead",
        facts={
            "totals": aggregates["totals"],
            "projects": aggregates["projects"],
            "unit_mismatches": aggregates["unit_mismatches"],
            "findings_by_project_and_code": aggregates["findings"],
            "failed_files": aggregates["failed"],
        },
        tables={
            "Projects": aggregates["projects"],
            "Unit mismatches within a project": aggregates["unit_mismatches"],
            "Findings by project and code": aggregates["findings"],
            "Most used layers": aggregates["layers"],
            "Files that could not be read": aggregates["failed"],
        },
    )
