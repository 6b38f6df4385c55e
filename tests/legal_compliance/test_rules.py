"""Every policy rule's Athena query, run on the embedded cloud's DuckDB Athena over hand-built datasets.

The result documents below are written by hand (not by the sample generator): each file is the
case of one rule or a near miss that must not be reported. Records go through the same code as a
run (``records.file_record`` / ``acl_records``), so a schema, a record builder and a query that
disagree fail here. Another run and another day's partition hold files that break every rule and
must never appear.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from legal_compliance.analyze import finding_record
from legal_compliance.records import (
    ACL_ENTRIES,
    DATASET_ROOT,
    FILES,
    FINDINGS,
    SCHEMAS,
    acl_records,
    file_record,
)
from legal_compliance.rules import RULES, RunScope, files_by_share, summary_by_share_and_owner
from scripts.localcloud import LocalCloud
from shared.analytics import AthenaRunner, AthenaSettings, DatasetWriter, dataset_location, glue_table_input

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = "2026-06-01"
SCOPE = RunScope(
    run_id="r1", dt=DAY, now=NOW, retention_days=365, sensitive_prefixes=("hr/", "legal/o'brien/")
)
ORPHAN = "S-1-5-21-1-2-3-1107"


def ace(
    user: str, *, access: str = "access_allow", read: bool = True, write: bool = False, full: bool = False
) -> dict[str, Any]:
    rights = "full_control" if full else ("modify" if write else ("read" if read else None))
    return {
        "user": user,
        "access": access,
        "rights": rights,
        "inherited": False,
        "grants_read": read or full,
        "grants_write": write or full,
        "full_control": full,
    }


def doc(
    key: str,
    acls: list[dict[str, Any]],
    *,
    owner: str = "CORP\\alice",
    protected: bool = False,
    status: str = "SUCCEEDED",
) -> dict[str, Any]:
    document: dict[str, Any] = {"status": status, "source": {"key": key}, "processed_at": NOW.isoformat()}
    if status == "SUCCEEDED":
        document["permissions"] = {
            "owner": owner,
            "group": "CORP\\staff",
            "control_flags": 0x9014 if protected else 0x8014,
            "dacl_protected": protected,
            "acls": acls,
        }
    else:
        document.update(reason="ONTAP answered 404", error="OntapNotFoundError")
    return document


def line(key: str, age_days: int = 10) -> dict[str, Any]:
    return {
        "key": key,
        "etag": "e1",
        "size": 100,
        "last_modified": (NOW - timedelta(days=age_days)).isoformat(),
    }


# key -> (result document, age in days, the rules it must break)
CASES: dict[str, tuple[dict[str, Any], int, set[str]]] = {
    "eng/open.txt": (doc("eng/open.txt", [ace("Everyone", full=True)]), 10, {"broad_group_write"}),
    "eng/sid-everyone.txt": (
        doc("eng/sid-everyone.txt", [ace("S-1-1-0", write=True)]),
        10,
        {"broad_group_write"},
    ),
    "eng/auth-modify.txt": (
        doc("eng/auth-modify.txt", [ace("NT AUTHORITY\\Authenticated Users", write=True)]),
        10,
        {"broad_group_write"},
    ),
    "eng/everyone-read.txt": (doc("eng/everyone-read.txt", [ace("Everyone")]), 10, set()),
    "eng/everyone-denied.txt": (
        doc("eng/everyone-denied.txt", [ace("Everyone", access="access_deny", write=True)]),
        10,
        set(),
    ),
    "hr/review.docx": (
        doc("hr/review.docx", [ace("NT AUTHORITY\\Authenticated Users")]),
        10,
        {"sensitive_broad_read"},
    ),
    "hr/locked.docx": (doc("hr/locked.docx", [ace("CORP\\hr", write=True)]), 10, set()),
    "hrx/not-under-hr.docx": (doc("hrx/not-under-hr.docx", [ace("Everyone")]), 10, set()),
    "legal/o'brien/memo.pdf": (
        doc("legal/o'brien/memo.pdf", [ace("Everyone", write=True)]),
        10,
        {"broad_group_write", "sensitive_broad_read"},
    ),
    "eng/orphan-ace.txt": (
        doc("eng/orphan-ace.txt", [ace(ORPHAN), ace(ORPHAN, write=True)]),
        10,
        {"orphaned_sid"},
    ),
    "eng/orphan-owner.txt": (
        doc("eng/orphan-owner.txt", [ace("CORP\\bob")], owner=ORPHAN),
        10,
        {"orphaned_sid"},
    ),
    "eng/well-known-sid.txt": (doc("eng/well-known-sid.txt", [ace("S-1-5-18", full=True)]), 10, set()),
    "eng/protected.txt": (
        doc("eng/protected.txt", [ace("CORP\\bob")], protected=True),
        10,
        {"inheritance_broken"},
    ),
    "root-protected.txt": (doc("root-protected.txt", [ace("CORP\\bob")], protected=True), 10, set()),
    "eng/old.txt": (doc("eng/old.txt", [ace("CORP\\bob")]), 400, {"retention_expired"}),
    "eng/almost-old.txt": (doc("eng/almost-old.txt", [ace("CORP\\bob")]), 364, set()),
    "eng/old-and-failed.bin": (
        doc("eng/old-and-failed.bin", [], status="FAILED"),
        500,
        {"retention_expired"},
    ),
}
NOISE = doc("eng/noise.txt", [ace("Everyone", full=True), ace(ORPHAN)], owner=ORPHAN, protected=True)


def write_run(
    writer: DatasetWriter, run_id: str, dt: str, cases: dict[str, tuple[dict[str, Any], int, set[str]]]
) -> None:
    for key, (document, age, _) in cases.items():
        writer.write(FILES, file_record(document, line(key, age), run_id, document["status"]), dt=dt)
        if document["status"] == "SUCCEEDED":
            for record in acl_records(document, run_id):
                writer.write(ACL_ENTRIES, record, dt=dt)


@pytest.fixture(scope="module")
def runner() -> Iterator[AthenaRunner]:
    with LocalCloud() as cloud:
        s3 = cloud.client("s3")
        s3.create_bucket(Bucket="out")
        cloud.client("athena").create_work_group(
            Name="audit",
            Configuration={"ResultConfiguration": {"OutputLocation": "s3://out/athena-results/"}},
        )
        glue = cloud.client("glue")
        glue.create_database(DatabaseInput={"Name": "legal"})
        for schema in SCHEMAS:
            glue.create_table(
                DatabaseName="legal",
                TableInput=glue_table_input(schema, dataset_location("out", DATASET_ROOT, schema)),
            )
        noise = {"eng/noise.txt": (NOISE, 9000, set[str]())}
        for run_id, dt, cases in (("r1", DAY, CASES), ("r0", DAY, noise), ("r1", "2026-05-31", noise)):
            with DatasetWriter("out", root=DATASET_ROOT, run_id=f"{run_id}-{dt}", client=s3) as writer:
                write_run(writer, run_id, dt, cases)
        yield AthenaRunner(AthenaSettings(workgroup="audit", database="legal"), client=cloud.client("athena"))


def expected(rule: str) -> set[str]:
    return {key for key, (_, _, rules) in CASES.items() if rule in rules}


@pytest.mark.parametrize("rule", list(RULES))
def test_each_rule_finds_exactly_its_files_in_its_run_and_partition(runner: AthenaRunner, rule: str) -> None:
    result = runner.run(RULES[rule](SCOPE))
    assert {row["path"] for row in result.rows} == expected(rule)
    assert all(row["rule"] == rule for row in result.rows)
    assert len(result.rows) == len({row["path"] for row in result.rows})  # one finding per file and rule
    # the columns the findings records need, typed
    for row in result.rows:
        record = finding_record(row, SCOPE)
        FINDINGS.coerce(record)


def test_details_say_why(runner: AthenaRunner) -> None:
    rows = {r["path"]: r for r in runner.run(RULES["orphaned_sid"](SCOPE)).rows}
    assert rows["eng/orphan-ace.txt"]["detail"] == f"2 unresolved SID(s), e.g. {ORPHAN}"
    old = {r["path"]: r for r in runner.run(RULES["retention_expired"](SCOPE)).rows}["eng/old.txt"]
    assert old["detail"].startswith("last modified 2025-04-27, 400 days before the run")
    assert old["last_modified"] == datetime(2025, 4, 27, 12, 0)
    broad = {r["path"]: r for r in runner.run(RULES["broad_group_write"](SCOPE)).rows}
    assert broad["eng/open.txt"]["detail"] == "Everyone may write (1 ACE(s), full control)"


def test_a_rule_reads_only_the_run_partition(runner: AthenaRunner) -> None:
    pruned = runner.run(RULES["broad_group_write"](SCOPE)).bytes_scanned
    everything = runner.run("SELECT count(*) AS n FROM acl_entries").bytes_scanned
    assert 0 < pruned < everything


def test_no_sensitive_prefix_means_no_finding(runner: AthenaRunner) -> None:
    scope = RunScope("r1", DAY, NOW, 365, ())
    assert runner.run(RULES["sensitive_broad_read"](scope)).rows == []


def test_files_by_share_counts_audited_and_failed(runner: AthenaRunner) -> None:
    rows = {r["share"]: r for r in runner.run(files_by_share(SCOPE)).rows}
    assert rows["eng"]["files"] == 12 and rows["eng"]["failed"] == 1 and rows["eng"]["audited"] == 11
    assert rows["/"]["files"] == 1


def test_summary_by_share_and_owner_over_written_findings(runner: AthenaRunner) -> None:
    import boto3

    rows = [r for rule in RULES.values() for r in runner.run(rule(SCOPE)).rows]
    with DatasetWriter(
        "out", root=DATASET_ROOT, run_id="r1-findings", client=boto3.client("s3", region_name="us-east-1")
    ) as writer:
        for row in rows:
            writer.write(FINDINGS, finding_record(row, SCOPE), dt=DAY)
    summary = runner.run(summary_by_share_and_owner(SCOPE)).rows
    by_key = {(r["share"], r["owner"]): r for r in summary}
    eng = by_key[("eng", "CORP\\alice")]
    assert eng["broad_group_write"] == 3 and eng["retention_expired"] == 1
    assert by_key[("eng", ORPHAN)]["orphaned_sid"] == 1
    assert sum(r["findings"] for r in summary) == len(rows)
    assert by_key[("eng", "(unknown)")]["retention_expired"] == 1  # the failed file has no owner
