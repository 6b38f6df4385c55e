"""UC3 manufacturing-analytics: sensor CSV throughput and Athena bytes scanned on the demo data.

1. **CSV rows/s.** One sensor log of ``CSV_ROWS`` rows (3 measurements, a few malformed rows) read
   three ways side by side: a bare ``csv.reader`` over the decoded text (the floor: no checks at
   all), the shared reader (:func:`shared.formats.csvtable.read_table`: BOM, line endings, field
   counts, line numbers) and the whole UC3 typing (:func:`manufacturing_analytics.sensors.read_sensor_log`:
   timestamps to UTC, values checked against ranges, per-machine median/MAD anomalies).
2. **Athena bytes scanned.** The demo's sample files (``manufacturing_analytics.samples``) go
   through the real per-file steps into a moto bucket (Rekognition answered by the local surface
   stand-in), then each report query runs on the local Athena (DuckDB) with no partition filter,
   with the report's 7-day window, and with one day.
"""

from __future__ import annotations

import csv
import io
import logging
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from scripts.bench import Report, stopwatch

logger = logging.getLogger(__name__)

CSV_ROWS = 100_000
REGION = "us-east-1"
DAY = date(2026, 3, 1)


def _sensor_csv(rows: int) -> bytes:
    rng = random.Random(7)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    lines = ["timestamp,machine_id,line,temperature_c,vibration_mm_s,pressure_bar"]
    for i in range(rows):
        ts = (start + timedelta(seconds=10 * i)).strftime("%Y-%m-%d %H:%M:%S")
        machine = f"m-{i % 8:02d}"
        values = f"{rng.gauss(60, 3):.2f},{rng.gauss(2, 0.2):.3f},{rng.gauss(180, 5):.1f}"
        lines.append(f"{ts},{machine},line-{i % 2 + 1},{values}")
        if i % 10_000 == 5:
            lines.append(f"{ts},{machine}")  # malformed
    return ("\r\n".join(lines) + "\r\n").encode()


def _csv_figures(report: Report) -> None:
    from manufacturing_analytics import sensors
    from shared.formats.csvtable import read_table

    data = _sensor_csv(CSV_ROWS)
    with stopwatch() as floor_elapsed:
        text = data.decode("utf-8")
        floor_rows = sum(1 for _ in csv.reader(io.StringIO(text, newline="")))
    floor = floor_elapsed()
    with stopwatch() as table_elapsed:
        table = read_table(data)
    table_time = table_elapsed()
    settings = sensors.SensorSettings(zone=sensors.parse_zone("Asia/Tokyo"))
    with stopwatch() as typed_elapsed:
        log = sensors.read_sensor_log(data, "plant/line-1/sensors/bench.csv", settings)
    typed = typed_elapsed()
    report.add("CSV size", len(data) / 1e6, "MB")
    report.add("bare csv.reader rows/s (floor)", floor_rows / floor, "rows/s")
    report.add(
        "shared read_table rows/s",
        len(table.rows) / table_time,
        "rows/s",
        baseline=floor_rows / floor,
        target=">= 0.25 of the floor",
        met=len(table.rows) / table_time >= 0.25 * floor_rows / floor,
    )
    report.add(
        "UC3 typed rows/s (zones, ranges, median/MAD)",
        len(table.rows) / typed,
        "rows/s",
        baseline=floor_rows / floor,
    )
    report.add("readings written per row", len(log.readings) / len(table.rows), "readings")
    report.add("malformed rows counted", table.issue_count, "rows")


class _Rekognition:
    def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
        from scripts.localcloud.surface_labels import answer

        return answer(kwargs["Image"]["Bytes"], kwargs["MaxLabels"], kwargs["MinConfidence"])


def _athena_figures(report: Report) -> None:
    import os

    import boto3
    from moto import mock_aws

    from manufacturing_analytics import pipeline, queries, samples
    from manufacturing_analytics.datasets import ROOT, SCHEMAS
    from scripts.localcloud.athena import AthenaStandIn
    from shared import config
    from shared.analytics import AthenaRunner, AthenaSettings, dataset_location, glue_table_input
    from shared.s3ap import S3AccessPoint

    os.environ.update(
        {
            "USE_CASE": "manufacturing-analytics",
            "ACCESS_POINT": "volume",
            "OUTPUT_BUCKET": "out",
            "SENSOR_TIME_ZONE": samples.PLANT_ZONE,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
        }
    )
    with mock_aws():
        clients: dict[str, Any] = {}

        def client(service: str) -> Any:
            return clients.setdefault(service, session.client(service))

        standin = AthenaStandIn(client)
        standin.install()
        session = boto3.Session(region_name=REGION)
        try:
            s3 = client("s3")
            for bucket in ("volume", "out"):
                s3.create_bucket(Bucket=bucket)
            client("athena").create_work_group(
                Name="uc3",
                Configuration={"ResultConfiguration": {"OutputLocation": "s3://out/athena-results/"}},
            )
            client("glue").create_database(DatabaseInput={"Name": "uc3"})
            for schema in SCHEMAS:
                client("glue").create_table(
                    DatabaseName="uc3",
                    TableInput=glue_table_input(schema, dataset_location("out", ROOT, schema)),
                )
            cfg = config.from_environ(pipeline.StepConfig)
            source, output = S3AccessPoint("volume", s3), S3AccessPoint("out", s3)
            files = samples.generate(DAY)
            for sample in files:
                put = s3.put_object(Bucket="volume", Key=sample.key, Body=sample.body)
                event = {
                    "key": sample.key,
                    "etag": put["ETag"].strip('"'),
                    "size": len(sample.body),
                    "run_id": "b",
                }
                if sample.kind == "sensor":
                    pipeline.process_sensor_log(source, output, event, cfg, s3=s3)
                else:
                    pipeline.process_image(source, output, _Rekognition(), event, cfg, s3=s3)
            runner = AthenaRunner(
                AthenaSettings("uc3", "uc3", ""), client=client("athena"), sleep=lambda s: None
            )
            window = queries.Window(DAY + timedelta(days=1), 7)
            for name, build in queries.QUERIES.items():
                sql = build(window)
                full = runner.run(sql.replace(window.where(), "true"))
                windowed = runner.run(sql)
                one_day = runner.run(sql.replace(window.where(), f"dt = '{DAY.isoformat()}'"))
                report.add(f"{name}: no partition filter", full.bytes_scanned, "B")
                report.add(f"{name}: 7-day window", windowed.bytes_scanned, "B", baseline=full.bytes_scanned)
                report.add(
                    f"{name}: one day",
                    one_day.bytes_scanned,
                    "B",
                    baseline=full.bytes_scanned,
                    target="< no filter",
                    met=one_day.bytes_scanned < full.bytes_scanned,
                )
        finally:
            standin.uninstall()


def run(report: Report) -> None:
    _csv_figures(report)
    _athena_figures(report)
