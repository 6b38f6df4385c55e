"""UC3's Athena queries on the embedded cloud (DuckDB standing in for Athena) over known records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from manufacturing_analytics import queries
from manufacturing_analytics.datasets import INSPECTIONS, ROOT, SCHEMAS, SENSOR_ANOMALIES, SENSOR_READINGS
from scripts.localcloud import LocalCloud
from shared.analytics import AthenaRunner, AthenaSettings, DatasetWriter, dataset_location, glue_table_input

DATABASE = "uc3_test"
WINDOW = queries.Window(date(2026, 3, 3), 7)


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud() as opened:
        yield opened


def _inspection(line: str, shift: str, defect: bool, day: int, n: int) -> dict[str, Any]:
    return {
        "image_key": f"plant/{line}/inspection/p{n}.jpg",
        "line": line,
        "shift": shift,
        "inspected_at": datetime(2026, 3, day, 8, n % 60, tzinfo=UTC),
        "defect": defect,
        "defect_label": "Crack" if defect else None,
        "defect_confidence": 91.0 if defect else None,
        "labels": "Metal:95.0",
        "resized": False,
        "image_bytes": 1000,
        "run_id": "r1",
    }


def _anomaly(machine: str, day: int, metric: str, score: float) -> dict[str, Any]:
    return {
        "machine": machine,
        "line": "line-1",
        "ts": datetime(2026, 3, day, 12, tzinfo=UTC),
        "metric": metric,
        "value": 99.0,
        "median": 20.0,
        "scale": 1.5,
        "score": score,
        "threshold": 3.5,
        "method": "modified-z-score",
        "source_key": "k.csv",
        "source_line": 2,
        "run_id": "r1",
    }


@pytest.fixture(scope="module")
def runner(cloud: LocalCloud) -> AthenaRunner:
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="uc3-out")
    cloud.client("athena").create_work_group(
        Name="uc3", Configuration={"ResultConfiguration": {"OutputLocation": "s3://uc3-out/athena-results/"}}
    )
    glue = cloud.client("glue")
    glue.create_database(DatabaseInput={"Name": DATABASE})
    for schema in SCHEMAS:
        glue.create_table(
            DatabaseName=DATABASE,
            TableInput=glue_table_input(schema, dataset_location("uc3-out", ROOT, schema)),
        )
    n = 0
    with DatasetWriter("uc3-out", root=ROOT, run_id="t", client=s3) as writer:
        # line-1 A: 1 of 4 defective; line-1 B: 2 of 2; line-2 A: 0 of 3; and a day outside the window.
        for line, shift, defect, day in (
            [("line-1", "A", i == 0, 2) for i in range(4)]
            + [("line-1", "B", True, 3)] * 2
            + [("line-2", "A", False, 1)] * 3
            + [("line-2", "A", True, 20)]
        ):
            n += 1
            record = _inspection(line, shift, defect, day, n)
            writer.write(INSPECTIONS, record, dt=record["inspected_at"])
        for machine, day, metric, score in (
            ("press-01", 2, "temperature_c", 6.0),
            ("press-01", 2, "vibration_mm_s", -8.25),
            ("press-01", 3, "temperature_c", 4.0),
            ("lathe-02", 3, "spindle_rpm", 12.0),
            ("lathe-02", 20, "spindle_rpm", 99.0),  # outside the window
        ):
            record = _anomaly(machine, day, metric, score)
            writer.write(SENSOR_ANOMALIES, record, dt=record["ts"])
        for i in range(5):
            ts = datetime(2026, 3, 2, i, tzinfo=UTC)
            writer.write(
                SENSOR_READINGS,
                {
                    "machine": "press-01",
                    "ts": ts,
                    "metric": "temperature_c",
                    "value": float("nan") if i == 4 else 20.0 + i,
                    "source_key": "k.csv",
                },
                dt=ts,
            )
    return AthenaRunner(AthenaSettings("uc3", DATABASE, ""), client=cloud.client("athena"))


def test_defect_rate_per_line_and_shift(runner: AthenaRunner) -> None:
    rows = runner.run(queries.defect_rate_by_line_and_shift(WINDOW)).rows
    assert rows == [
        {"line": "line-1", "shift": "A", "images": 4, "defects": 1, "defect_rate_pct": 25.0},
        {"line": "line-1", "shift": "B", "images": 2, "defects": 2, "defect_rate_pct": 100.0},
        {"line": "line-2", "shift": "A", "images": 3, "defects": 0, "defect_rate_pct": 0.0},
    ]


def test_a_rate_that_is_not_a_whole_number_is_not_truncated(runner: AthenaRunner) -> None:
    # 1/3 must not become 0 (Trino divides integers by truncating): the count is cast to double.
    one_day = queries.Window(date(2026, 3, 2), 1)
    rows = runner.run(queries.defect_rate_by_line_and_shift(one_day)).rows
    assert rows == [{"line": "line-1", "shift": "A", "images": 4, "defects": 1, "defect_rate_pct": 25.0}]


def test_anomaly_counts_per_machine_per_day(runner: AthenaRunner) -> None:
    rows = runner.run(queries.anomalies_by_machine_and_day(WINDOW)).rows
    assert rows == [
        {"machine": "lathe-02", "day": "2026-03-03", "anomalies": 1, "metrics": 1, "max_abs_score": 12.0},
        {"machine": "press-01", "day": "2026-03-02", "anomalies": 2, "metrics": 2, "max_abs_score": 8.25},
        {"machine": "press-01", "day": "2026-03-03", "anomalies": 1, "metrics": 1, "max_abs_score": 4.0},
    ]


def test_readings_per_machine_count_the_nan_that_became_null(runner: AthenaRunner) -> None:
    rows = runner.run(queries.readings_by_machine(WINDOW)).rows
    assert rows == [{"machine": "press-01", "readings": 5, "metrics": 1}]


def test_the_window_prunes_partitions(runner: AthenaRunner) -> None:
    sql = queries.anomalies_by_machine_and_day(WINDOW)
    everything = runner.run(sql.replace(WINDOW.where(), "true"))
    windowed = runner.run(sql)
    one_day = runner.run(sql.replace(WINDOW.where(), "dt = '2026-03-03'"))
    assert sum(r["anomalies"] for r in everything.rows) == 5
    assert one_day.bytes_scanned < windowed.bytes_scanned < everything.bytes_scanned
