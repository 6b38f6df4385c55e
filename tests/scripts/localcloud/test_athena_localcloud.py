"""Athena on the embedded cloud: real SQL over the writer's dataset files, through the Athena API."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from scripts.localcloud import LocalCloud
from shared.analytics import (
    AthenaQueryFailedError,
    AthenaRunner,
    AthenaSettings,
    Column,
    DatasetWriter,
    RecordSchema,
    dataset_location,
    glue_table_input,
)

ROOT = Path(__file__).resolve().parents[3]
DATABASE = "analytics_test"
SETTINGS = AthenaSettings(workgroup="analytics", database=DATABASE, output_location="")
READINGS = RecordSchema(
    "readings",
    (
        Column("machine", "string", nullable=False),
        Column("line", "string"),
        Column("value", "double"),
        Column("count", "bigint"),
        Column("ok", "boolean"),
        Column("measured_at", "timestamp"),
    ),
    prefix="sensor/readings",
)
EMPTY = RecordSchema("nothing_yet", (Column("name", "string"), Column("day", "date")))
DAYS = (date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3))


@pytest.fixture(scope="module")
def lake(cloud: LocalCloud) -> dict[str, Any]:
    s3 = cloud.client("s3")
    for bucket in ("lake", "athena-results"):
        s3.create_bucket(Bucket=bucket)
    cloud.client("athena").create_work_group(
        Name="analytics",
        Configuration={"ResultConfiguration": {"OutputLocation": "s3://athena-results/queries/"}},
    )
    glue = cloud.client("glue")
    glue.create_database(DatabaseInput={"Name": DATABASE})
    for schema in (READINGS, EMPTY):
        table = glue_table_input(schema, dataset_location("lake", "datasets", schema))
        glue.create_table(DatabaseName=DATABASE, TableInput=table)
    with DatasetWriter("lake", root="datasets", run_id="run1", client=s3) as writer:
        for day_index, day in enumerate(DAYS):
            for i in range(40):
                writer.write(
                    READINGS,
                    {
                        "machine": f"m{i % 4}",
                        "line": "L1" if i % 2 else "L2",
                        "value": float("nan") if i == 7 else float(i + day_index),
                        "count": i,
                        "ok": i % 3 != 0,
                        "measured_at": datetime(day.year, day.month, day.day, i % 24, tzinfo=UTC),
                    },
                    dt=day,
                )
    return {"summary": writer.summary}


def runner(cloud: LocalCloud) -> AthenaRunner:
    return AthenaRunner(SETTINGS, client=cloud.client("athena"))


def test_a_query_returns_the_rows_the_writer_wrote(cloud: LocalCloud, lake: dict[str, Any]) -> None:
    result = runner(cloud).run(
        "SELECT machine, count(*) AS n, sum(count) AS total, count(value) AS measured, "
        "min(measured_at) AS first FROM readings WHERE dt = '2026-03-02' GROUP BY machine ORDER BY machine"
    )
    assert [(c.name, c.type) for c in result.columns] == [
        ("machine", "varchar"),
        ("n", "bigint"),
        ("total", "bigint"),
        ("measured", "bigint"),
        ("first", "timestamp"),
    ]
    assert result.rows[0] == {
        "machine": "m0",
        "n": 10,
        "total": 180,
        "measured": 10,
        "first": datetime(2026, 3, 2),
    }
    assert result.rows[3]["measured"] == 9  # the NaN value was written as null
    assert sum(row["n"] for row in result.rows) == 40


def test_partition_pruning_scans_only_the_days_asked_for(cloud: LocalCloud, lake: dict[str, Any]) -> None:
    files = {f.dt: f.gzip_bytes for f in lake["summary"].files}
    one_day = runner(cloud).run("SELECT count(*) AS n FROM readings WHERE dt = '2026-03-02'")
    every_day = runner(cloud).run("SELECT count(*) AS n FROM readings")
    assert one_day.rows == [{"n": 40}]
    assert every_day.rows == [{"n": 120}]
    assert one_day.bytes_scanned == files["2026-03-02"]
    assert every_day.bytes_scanned == sum(files.values())


def test_results_page_with_next_token_and_land_as_csv_in_the_output_location(
    cloud: LocalCloud, lake: dict[str, Any]
) -> None:
    athena = cloud.client("athena")
    query_id = athena.start_query_execution(
        QueryString="SELECT count, machine FROM readings WHERE dt = '2026-03-01' ORDER BY count",
        WorkGroup="analytics",
        QueryExecutionContext={"Database": DATABASE},
    )["QueryExecutionId"]
    pages = list(
        athena.get_paginator("get_query_results").paginate(
            QueryExecutionId=query_id, PaginationConfig={"PageSize": 7}
        )
    )
    rows = [
        [cell.get("VarCharValue") for cell in row["Data"]]
        for page in pages
        for row in page["ResultSet"]["Rows"]
    ]
    assert len(pages) == 6
    assert rows[0] == ["count", "machine"]
    assert rows[1:4] == [["0", "m0"], ["1", "m1"], ["2", "m2"]]
    assert len(rows) == 41
    csv = cloud.client("s3").get_object(Bucket="athena-results", Key=f"queries/{query_id}.csv")["Body"].read()
    assert csv.decode().splitlines()[:2] == ['"count","machine"', '"0","m0"']
    location = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["ResultConfiguration"]
    assert location["OutputLocation"] == f"s3://athena-results/queries/{query_id}.csv"


def test_a_table_without_files_has_typed_columns_and_no_rows(cloud: LocalCloud, lake: dict[str, Any]) -> None:
    result = runner(cloud).run("SELECT name, day, dt FROM nothing_yet")
    assert result.rows == []
    assert [(c.name, c.type) for c in result.columns] == [
        ("name", "varchar"),
        ("day", "date"),
        ("dt", "varchar"),
    ]


def test_a_failing_query_is_a_typed_error_with_the_engines_reason(
    cloud: LocalCloud, lake: dict[str, Any]
) -> None:
    with pytest.raises(AthenaQueryFailedError, match="no_such_column") as caught:
        runner(cloud).run("SELECT no_such_column FROM readings")
    query_id = caught.value.details["query_id"]
    athena = cloud.client("athena")
    with pytest.raises(athena.exceptions.InvalidRequestException, match="Current state: FAILED"):
        athena.get_query_results(QueryExecutionId=query_id)


def test_an_unknown_workgroup_or_a_missing_output_location_is_refused(cloud: LocalCloud) -> None:
    athena = cloud.client("athena")
    with pytest.raises(athena.exceptions.InvalidRequestException, match="WorkGroup nope is not found"):
        athena.start_query_execution(QueryString="SELECT 1", WorkGroup="nope")
    with pytest.raises(athena.exceptions.InvalidRequestException, match="No output location provided"):
        athena.start_query_execution(QueryString="SELECT 1", WorkGroup="primary")


# -- Trino semantics the local engine reproduces ----------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "athena_type", "trino_value"),
    [
        # Trino: integer / integer truncates toward zero (DuckDB alone: 3.5 and -3.5).
        ("7 / 2", "integer", 3),
        ("-7 / 2", "integer", -3),
        ("7.0E0 / 2", "double", 3.5),
        # Trino: date_trunc keeps the argument's type (DuckDB alone: a timestamp for a date).
        ("date_trunc('month', DATE '2026-03-07')", "date", date(2026, 3, 1)),
        ("date_trunc('hour', TIMESTAMP '2026-03-07 10:11:12')", "timestamp", datetime(2026, 3, 7, 10)),
        # Trino: || with a NULL is NULL (same in DuckDB; concat() is refused, see below).
        ("'a' || CAST(NULL AS varchar)", "varchar", None),
        ("'a' || 'b'", "varchar", "ab"),
        # Trino: TRY_CAST and try() turn a failed cast into NULL.
        ("TRY_CAST('x' AS integer)", "integer", None),
        ("try(CAST('x' AS integer))", "integer", None),
        ("regexp_like('vol1/secret/a.txt', 'secret/')", "boolean", True),
    ],
)
def test_trino_semantics_hold_on_the_local_engine(
    cloud: LocalCloud, lake: dict[str, Any], expression: str, athena_type: str, trino_value: Any
) -> None:
    result = runner(cloud).run(f"SELECT {expression} AS v")
    assert result.columns[0].type == athena_type
    assert result.rows == [{"v": trino_value}]


def test_approx_percentile_and_approx_distinct_answer_like_trino_on_small_inputs(
    cloud: LocalCloud, lake: dict[str, Any]
) -> None:
    result = runner(cloud).run(
        "SELECT approx_percentile(count, 0.5) AS median, approx_distinct(machine) AS machines "
        "FROM readings WHERE dt = '2026-03-01'"
    )
    assert result.rows[0]["machines"] == 4
    assert result.rows[0]["median"] in (19, 20)  # an element at the median rank of 0..39


def test_a_failed_cast_fails_the_query_as_in_trino(cloud: LocalCloud, lake: dict[str, Any]) -> None:
    with pytest.raises(AthenaQueryFailedError, match="Could not convert string 'x'"):
        runner(cloud).run("SELECT CAST('x' AS integer) AS v")


def test_concat_is_refused_because_its_null_semantics_differ(cloud: LocalCloud, lake: dict[str, Any]) -> None:
    with pytest.raises(AthenaQueryFailedError, match=r"use \|\|"):
        runner(cloud).run("SELECT concat(machine, line) AS v FROM readings")


# -- a Lambda on the local cloud -------------------------------------------------------------------

HANDLER = """
from shared.analytics.athena import AthenaRunner


def handler(event, context):
    result = AthenaRunner.from_environment().run(event["sql"], deadline_seconds=30)
    return {"rows": [{k: str(v) for k, v in row.items()} for row in result.rows],
            "bytes_scanned": result.bytes_scanned}
"""


def test_a_lambda_calling_athena_on_the_local_cloud_gets_real_results(
    cloud: LocalCloud, lake: dict[str, Any], make_function: Callable[..., str]
) -> None:
    sources = {"handler.py": HANDLER}
    for module in ("__init__.py", "clients.py", "config.py", "errors.py", "analytics/__init__.py"):
        sources[f"shared/{module}"] = (ROOT / "shared" / module).read_text()
    for module in ("athena.py", "schema.py", "writer.py"):
        sources[f"shared/analytics/{module}"] = (ROOT / "shared" / "analytics" / module).read_text()
    make_function(
        "athena-query",
        sources,
        Timeout=60,
        Environment={"Variables": {"ATHENA_WORKGROUP": "analytics", "GLUE_DATABASE": DATABASE}},
    )
    invocation = cloud.invoke(
        "athena-query", {"sql": "SELECT line, count(*) AS n FROM readings GROUP BY line ORDER BY line"}
    )
    assert invocation.ok, invocation.payload
    payload = invocation.payload
    assert payload["rows"] == [{"line": "L1", "n": "60"}, {"line": "L2", "n": "60"}]
    assert payload["bytes_scanned"] == lake["summary"].gzip_bytes


# -- a stack declaring the catalog and the workgroup -----------------------------------------------


@pytest.mark.filterwarnings("ignore:Tried to parse AWS::(Glue|Athena)")  # the skips this test is about
def test_a_stacks_glue_tables_and_workgroup_are_created_and_queryable(
    cloud: LocalCloud, lake: dict[str, Any]
) -> None:
    from scripts.localcloud.resources import create_skipped, describe_stack

    template = {
        "Resources": {
            "Database": {
                "Type": "AWS::Glue::Database",
                "Properties": {"CatalogId": {"Ref": "AWS::AccountId"}, "DatabaseInput": {"Name": "stack_db"}},
            },
            "Readings": {
                "Type": "AWS::Glue::Table",
                "Properties": {
                    "CatalogId": {"Ref": "AWS::AccountId"},
                    "DatabaseName": {"Ref": "Database"},
                    "TableInput": glue_table_input(
                        READINGS, {"Fn::Sub": "s3://lake/datasets/sensor/readings/"}
                    ),
                },
            },
            "WorkGroup": {
                "Type": "AWS::Athena::WorkGroup",
                "Properties": {
                    "Name": {"Fn::Sub": "${AWS::StackName}-queries"},
                    "WorkGroupConfiguration": {
                        "EnforceWorkGroupConfiguration": "true",
                        "ResultConfiguration": {"OutputLocation": "s3://athena-results/stack/"},
                    },
                },
            },
            "Marker": {"Type": "AWS::SQS::Queue"},
        }
    }
    cloud.client("cloudformation").create_stack(
        StackName="analytics-stack", TemplateBody=json.dumps(template)
    )
    info = describe_stack(cloud.session, cloud.region, "analytics-stack")
    created = create_skipped(cloud.session, cloud.region, cloud.account_id, info)
    assert created == {"Database": "stack_db", "Readings": "readings", "WorkGroup": "analytics-stack-queries"}
    result = AthenaRunner(
        AthenaSettings("analytics-stack-queries", "stack_db"), client=cloud.client("athena")
    ).run("SELECT count(*) AS n FROM readings WHERE dt >= '2026-03-02'")
    assert result.rows == [{"n": 80}]
    assert created == create_skipped(cloud.session, cloud.region, cloud.account_id, info)  # a redeploy
