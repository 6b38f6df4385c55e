"""UC1's record builders, policy settings and the report's facts (aggregates only, within budget)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from legal_compliance.records import (
    ACL_ENTRIES,
    FILES,
    acl_records,
    file_record,
    orphaned_sid,
    parse_time,
    share_of,
)
from legal_compliance.report import EXAMPLES_PER_RULE, report_request
from legal_compliance.rules import RULES, PolicyConfig, literal, parse_prefixes
from shared.config import ConfigError, from_environ
from shared.report import fit_prompt


def test_share_is_the_first_folder() -> None:
    assert share_of("hr/reviews/a.docx") == "hr"
    assert share_of("README.txt") == "/"


@pytest.mark.parametrize(
    ("principal", "orphan"),
    [
        ("S-1-5-21-3623811015-3361044348-30300820-1107", True),
        ("S-1-1-0", False),  # Everyone
        ("S-1-5-11", False),  # Authenticated Users
        ("S-1-5-18", False),  # SYSTEM
        ("CORP\\alice", False),
        ("S-1-5-21-x", False),
    ],
)
def test_only_unresolved_domain_sids_are_orphans(principal: str, orphan: bool) -> None:
    assert orphaned_sid(principal) is orphan


def test_times_without_a_zone_are_utc_and_bad_ones_are_none() -> None:
    assert parse_time("2026-01-02T03:04:05Z").isoformat() == "2026-01-02T03:04:05+00:00"  # type: ignore[union-attr]
    assert parse_time("2026-01-02 03:04:05").tzinfo is not None  # type: ignore[union-attr]
    assert parse_time("yesterday") is None and parse_time("") is None


def test_a_file_without_a_result_is_a_pending_record_that_fits_the_schema() -> None:
    line = {"key": "a/b.txt", "etag": "e", "size": 3, "last_modified": "2026-01-01T00:00:00+00:00"}
    record = file_record({"reason": "left for the next run", "error": "NoResult"}, line, "r1", "PENDING")
    FILES.coerce(record)
    assert record["owner"] is None and record["ace_count"] is None and record["share"] == "a"


def test_acl_records_fit_the_schema() -> None:
    document = {
        "source": {"key": "hr/x.pdf"},
        "processed_at": "2026-01-01T00:00:00+00:00",
        "permissions": {
            "owner": "CORP\\a",
            "acls": [
                {
                    "user": "Everyone",
                    "access": "access_allow",
                    "rights": "read",
                    "inherited": True,
                    "grants_read": True,
                    "grants_write": False,
                    "full_control": False,
                },
                {
                    "user": "S-1-5-21-1-2-3-4",
                    "access": "access_deny",
                    "rights": None,
                    "inherited": None,
                    "grants_read": False,
                    "grants_write": True,
                    "full_control": False,
                },
            ],
        },
    }
    records = list(acl_records(document, "r1"))
    for record in records:
        ACL_ENTRIES.coerce(record)
    assert records[0]["broad_group"] == "everyone" and records[1]["unresolved_sid"] is True
    assert [r["position"] for r in records] == [0, 1]


def test_sensitive_prefixes_are_parsed_and_quotes_refused() -> None:
    assert parse_prefixes(" hr/, /legal/privileged/ ,") == ("hr/", "legal/privileged/")
    with pytest.raises(ValueError, match="quote"):
        parse_prefixes("hr/', 'x")
    with pytest.raises(ConfigError):
        from_environ(PolicyConfig, {"USE_CASE": "legal-compliance", "SENSITIVE_PREFIXES": "a'b/"})
    assert literal("o'brien") == "'o''brien'"


def analysis(findings: int = 40) -> dict[str, Any]:
    rules = list(RULES)
    rows = [
        {
            "rule": rules[i % len(rules)],
            "severity": "high",
            "path": f"share{i % 7}/file-{i}.txt",
            "share": f"share{i % 7}",
            "owner": f"CORP\\user{i % 11}",
            "principal": "Everyone",
            "detail": "Everyone may write",
        }
        for i in range(findings)
    ]
    return {
        "run_id": "r1",
        "policy": {"retention_days": 3650, "sensitive_prefixes": ["hr/"]},
        "totals": {"files": 1000, "audited": 990, "failed": 10, "pending": 0, "findings": findings},
        "rules": {rule: {"severity": "high", "findings": findings // len(rules)} for rule in rules},
        "by_share_and_owner": [
            {"share": f"s{i}", "owner": f"o{i}", "files": 2, "findings": 3} for i in range(300)
        ],
        "files_by_share": [{"share": f"s{i}", "files": 100} for i in range(10)],
        "findings": rows,
        "unaudited": [
            {"path": f"x/{i}", "status": "FAILED", "error": "OntapNotFoundError", "reason": "404"}
            for i in range(10)
        ],
    }


def test_the_model_gets_aggregates_and_a_few_examples_never_every_row() -> None:
    request = report_request(analysis(), volume="fileshare")
    facts = json.dumps(request.facts)
    assert "x/0" not in facts  # the unaudited files' rows stay with the reader
    for rule in request.facts["findings_by_rule"]:
        assert len(rule["examples"]) <= EXAMPLES_PER_RULE
    assert "file-39.txt" not in facts  # the findings' rows stay with the reader
    assert len(request.tables["Findings"]) == 40 and len(request.tables["Files not audited"]) == 10
    assert request.subject.endswith("of volume fileshare")


def test_a_large_summary_is_trimmed_to_the_budget_with_a_note() -> None:
    fitted, prompt = fit_prompt(report_request(analysis()), 6000)
    assert prompt.bytes <= 6000
    assert any("findings_by_share_and_owner" in note for note in fitted.notes)
    assert fitted.facts["totals"]["files"] == 1000  # the totals are never cut
