"""UC6 report: the Athena summaries per project, on the embedded cloud's Athena (DuckDB), over real rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from semiconductor_eda.designs import SCHEMAS, DesignFile, ValidateConfig, process_design
from semiconductor_eda.report import gather, mismatch_query, queries, report_request, unit_mismatches
from semiconductor_eda.samples import plan
from shared.analytics import AthenaRunner, AthenaSettings, dataset_location, glue_table_input
from shared.formats.samples import eda
from shared.s3ap import S3AccessPoint

RUN = "run-7"
DAY = "2026-12-06"


@pytest.fixture
def athena() -> Iterator[AthenaRunner]:
    from scripts.localcloud.athena import AthenaStandIn

    with mock_aws():
        clients: dict[str, Any] = {}

        def client(service: str) -> Any:
            return clients.setdefault(service, session.client(service))

        standin = AthenaStandIn(client)
        standin.install()
        session = boto3.Session(region_name="us-east-1")
        try:
            s3 = client("s3")
            for bucket in ("volume", "out"):
                s3.create_bucket(Bucket=bucket)
            glue = client("glue")
            glue.create_database(DatabaseInput={"Name": "uc6"})
            for schema in SCHEMAS:
                glue.create_table(
                    DatabaseName="uc6",
                    TableInput=glue_table_input(schema, dataset_location("out", "datasets", schema)),
                )
            source, output = S3AccessPoint("volume", s3), S3AccessPoint("out", s3)
            cfg = ValidateConfig(use_case="semiconductor-eda", access_point="volume", output_bucket="out")
            samples = [(s.key, s.body, RUN) for s in plan()] + [eda_sample_in_other_run()]
            for key, body, run in samples:
                etag = s3.put_object(Bucket="volume", Key=key, Body=body)["ETag"].strip('"')
                process_design(
                    source,
                    output,
                    DesignFile(key, etag, len(body)),
                    run_id=run,
                    cfg=cfg,
                    now=datetime(2026, 12, 6, 5, tzinfo=UTC),
                )
            yield AthenaRunner(
                AthenaSettings("primary", "uc6", "s3://out/athena-results/"), client=client("athena")
            )
        finally:
            standin.uninstall()


def eda_sample_in_other_run() -> tuple[str, bytes, str]:
    return (
        "soc-gamma/other.gds",
        eda.gds_library("OTHER", {"X": [eda.gds_rect(1, 0, 0, 0, 1, 1)]}),
        "run-other",
    )


def test_per_project_summaries_on_the_local_athena(athena: AthenaRunner) -> None:
    aggregates = gather(lambda sql: athena.run(sql).rows, run_id=RUN, day=DAY)
    projects = {p["project"]: p for p in aggregates["projects"]}
    assert set(projects) == {"soc-alpha", "soc-beta", "broken"}  # soc-gamma is another run's
    assert projects["soc-alpha"]["files"] == 5 and projects["soc-alpha"]["failed"] == 0
    assert projects["soc-alpha"]["db_units"] == 1  # GDSII 1e-9 m and OASIS unit 1000/um agree
    assert projects["soc-beta"]["db_units"] == 2
    assert projects["broken"]["failed"] == 4
    assert aggregates["unit_mismatches"] == [
        {
            "project": "soc-beta",
            "library": "ANALOG",
            "source_key": "soc-beta/analog.gds",
            "db_unit_nm": 0.25,
            "project_db_unit_nm": 1.0,
        }
    ]
    codes = {(f["project"], f["code"]): f["occurrences"] for f in aggregates["findings"]}
    assert codes[("soc-alpha", "undefined_cell")] == 2
    assert codes[("soc-alpha", "zero_area_boundary")] == 1
    assert {f["source_key"] for f in aggregates["failed"]} == {
        "broken/truncated.gds",
        "broken/units_length.gds",
        "broken/bad_magic.oas",
        "broken/truncated.oas",
    }
    assert aggregates["totals"]["files"] == 12 and aggregates["totals"]["unit_mismatches"] == 1
    request = report_request(RUN, aggregates)
    assert request.tables["Unit mismatches within a project"] == aggregates["unit_mismatches"]


def test_the_partition_filter_prunes_earlier_days(athena: AthenaRunner) -> None:
    later = athena.run(queries(RUN, "2026-12-07")["projects"])
    assert later.rows == [] and later.bytes_scanned == 0


def test_unit_mismatch_needs_two_units_in_one_project() -> None:
    calls: list[str] = []
    rows = [
        {"project": "a", "db_unit_m": 1e-9, "files": 3},
        {"project": "b", "db_unit_m": 1e-9, "files": 1},
        {"project": "b", "db_unit_m": 5e-10, "files": 2},
    ]

    def run(sql: str) -> list[dict[str, Any]]:
        calls.append(sql)
        return [{"source_key": "b/x.gds", "library": "X", "db_unit_m": 1e-9}]

    out = unit_mismatches(rows, run, run_id=RUN, day=DAY)
    assert [m["project"] for m in out] == ["b"]
    assert out[0]["project_db_unit_nm"] == 0.5  # the most common unit of the project
    assert len(calls) == 1 and "project = 'b'" in calls[0]


def test_values_that_are_not_safe_literals_are_refused() -> None:
    with pytest.raises(ValueError, match="safe SQL literal"):
        queries("x' OR '1'='1", DAY)
    with pytest.raises(ValueError, match="safe SQL literal"):
        mismatch_query(RUN, DAY, "p'; DROP", 1e-9)
