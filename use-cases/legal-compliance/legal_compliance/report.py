"""The run's report: the analysis document's aggregates through the shared report step.

The model gets aggregates only (totals, findings per rule, the summary by share and owner, and at
most three example paths per rule), within ``REPORT_PROMPT_BUDGET_BYTES``; the reader gets the
full tables (every finding the analysis kept, the files that could not be audited).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from shared.errors import SUCCEEDED
from shared.report import ReportConfig, ReportOutcome, ReportRequest, produce_report
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

EXAMPLES_PER_RULE = 3
AUDIENCE = "a compliance officer responsible for the file server"


def report_request(analysis: Mapping[str, Any], volume: str = "") -> ReportRequest:
    """The facts (budgeted, to the model) and tables (to the reader) of one analysis document."""
    examples: dict[str, list[str]] = defaultdict(list)
    for finding in analysis.get("findings", []):
        paths = examples[str(finding["rule"])]
        if len(paths) < EXAMPLES_PER_RULE:
            paths.append(str(finding["path"]))
    rules = [
        {"rule": rule, **info, "examples": examples.get(rule, [])} for rule, info in analysis["rules"].items()
    ]
    facts = {
        "policy": analysis.get("policy", {}),
        "totals": analysis["totals"],
        "findings_by_rule": rules,
        "files_by_share": analysis.get("files_by_share", []),
        "findings_by_share_and_owner": analysis.get("by_share_and_owner", []),
    }
    tables: dict[str, list[dict[str, Any]]] = {
        "Findings by share and owner": list(analysis.get("by_share_and_owner", [])),
        "Files by share": list(analysis.get("files_by_share", [])),
        "Findings": [
            {k: f.get(k) for k in ("severity", "rule", "share", "path", "owner", "principal", "detail")}
            for f in analysis.get("findings", [])
        ],
        "Files not audited": list(analysis.get("unaudited", [])),
    }
    where = f" of volume {volume}" if volume else ""
    return ReportRequest(
        run_id=str(analysis["run_id"]),
        subject=f"file permission and retention audit{where}",
        audience=AUDIENCE,
        facts=facts,
        tables=tables,
    )


def report_run(
    cfg: ReportConfig, output: S3AccessPoint, analysis_key: str, *, bedrock: Any, sns: Any, volume: str = ""
) -> dict[str, Any]:
    """Read the analysis, run the report step, return the step's output (report links, totals)."""
    analysis = json.loads(output.get_bytes(analysis_key))
    outcome: ReportOutcome = produce_report(
        report_request(analysis, volume), cfg, bedrock=bedrock, output=output, sns=sns
    )
    return {
        "run_id": analysis["run_id"],
        "status": SUCCEEDED,
        "totals": analysis["totals"],
        **outcome.to_dict(),
    }
