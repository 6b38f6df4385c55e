"""Analytics core: dataset-writer throughput and Athena bytes scanned with and without pruning.

* Writer: 50,000 sensor-like records (eight typed columns, one NaN in a hundred) through
  :class:`DatasetWriter` into an in-memory S3 stand-in, so the figure is the writer's own work
  (validation, JSON, gzip), beside a bare ``json.dumps`` + gzip of the same dicts (the floor).
  Reported: records/s of both and their ratio, bytes per record raw and gzipped, gzip ratio.
* Athena: 30 days x 2,000 records written to moto's S3, a Glue table rendered from the schema,
  and the local Athena (DuckDB over those files, ``scripts/localcloud/athena.py``) answering the
  same aggregate over every day, over one week (``dt BETWEEN``) and over one day (``dt =``).
  Reported: DataScannedInBytes of each, and the pruned queries as a ratio of the full scan.
"""

from __future__ import annotations

import json
import logging
import math
import zlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

from scripts.bench import Report, stopwatch
from shared.analytics import (
    AthenaRunner,
    AthenaSettings,
    Column,
    DatasetWriter,
    RecordSchema,
    dataset_location,
    glue_table_input,
)

logger = logging.getLogger(__name__)

REGION = "us-east-1"
WRITER_RECORDS = 50_000
DAYS = 30
PER_DAY = 2_000
FIRST_DAY = date(2026, 1, 1)
SCHEMA = RecordSchema(
    "bench_readings",
    (
        Column("machine", "string", nullable=False),
        Column("line", "string"),
        Column("sensor", "string"),
        Column("value", "double"),
        Column("sequence", "bigint"),
        Column("ok", "boolean"),
        Column("day", "date"),
        Column("measured_at", "timestamp"),
    ),
    prefix="bench/readings",
)


class _NullS3:
    """Keeps object sizes only: the writer's cost without a storage backend's."""

    def __init__(self) -> None:
        self.bytes = 0

    def put_object(self, *, Body: bytes, **_: Any) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        self.bytes += len(Body)
        return {}

    def create_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {"UploadId": "u"}

    def upload_part(self, *, Body: bytes, PartNumber: int, **_: Any) -> dict[str, Any]:  # noqa: N803
        self.bytes += len(Body)
        return {"ETag": str(PartNumber)}

    def complete_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {}

    def abort_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {}


def _record(i: int, day: date) -> dict[str, Any]:
    return {
        "machine": f"press-{i % 37:02d}",
        "line": f"line-{i % 5}",
        "sensor": ("temperature", "pressure", "vibration")[i % 3],
        "value": math.nan if i % 100 == 99 else (i % 1000) * 0.173,
        "sequence": i,
        "ok": i % 11 != 0,
        "day": day,
        "measured_at": datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=i * 7),
    }


def _writer_figures(report: Report) -> None:
    records = [_record(i, FIRST_DAY + timedelta(days=i % 7)) for i in range(WRITER_RECORDS)]
    sink = _NullS3()
    with stopwatch() as elapsed, DatasetWriter("bench", run_id="bench", client=sink) as writer:
        for record in records:
            writer.write(SCHEMA, record, dt=record["day"])
    written = elapsed()

    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, date) else None if value != value else value

    with stopwatch() as floor_elapsed:
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        for record in records:
            line = json.dumps({k: plain(v) for k, v in record.items()}, separators=(",", ":")) + "\n"
            compressor.compress(line.encode())
        compressor.flush()
    floor = floor_elapsed()

    summary = writer.summary
    report.add("writer records/s", WRITER_RECORDS / written, "rec/s", baseline=WRITER_RECORDS / floor)
    report.add(
        "writer time over bare json.dumps+gzip", written / floor, "x", target="<= 4", met=written / floor <= 4
    )
    report.add("bytes per record (JSON)", summary.raw_bytes / WRITER_RECORDS, "B")
    report.add("bytes per record (gzip)", summary.gzip_bytes / WRITER_RECORDS, "B")
    report.add("gzip ratio (raw / gzip)", summary.raw_bytes / summary.gzip_bytes, "x")
    report.add("NaN values written as null", summary.nonfinite_nulls[SCHEMA.name], "values")
    report.add("files (7 days)", len(summary.files), "files")


def _athena_figures(report: Report) -> None:
    import boto3
    from moto import mock_aws

    from scripts.localcloud.athena import AthenaStandIn

    with mock_aws():
        clients: dict[str, Any] = {}

        def client(service: str) -> Any:
            return clients.setdefault(service, session.client(service))

        standin = AthenaStandIn(client)
        standin.install()  # before the session: botocore hands new sessions the hooks
        session = boto3.Session(region_name=REGION)
        try:
            client("s3").create_bucket(Bucket="lake")
            client("s3").create_bucket(Bucket="results")
            client("glue").create_database(DatabaseInput={"Name": "bench"})
            client("glue").create_table(
                DatabaseName="bench",
                TableInput=glue_table_input(SCHEMA, dataset_location("lake", "d", SCHEMA)),
            )
            with DatasetWriter("lake", root="d", run_id="bench", client=client("s3")) as writer:
                for offset in range(DAYS):
                    day = FIRST_DAY + timedelta(days=offset)
                    for i in range(PER_DAY):
                        writer.write(SCHEMA, _record(offset * PER_DAY + i, day), dt=day)
            runner = AthenaRunner(
                AthenaSettings("primary", "bench", "s3://results/q/"),
                client=client("athena"),
                sleep=lambda s: None,
            )
            aggregate = "SELECT line, count(*) AS n, avg(value) AS mean FROM bench_readings"
            full = runner.run(f"{aggregate} GROUP BY line")
            week = runner.run(f"{aggregate} WHERE dt BETWEEN '2026-01-08' AND '2026-01-14' GROUP BY line")
            one_day = runner.run(f"{aggregate} WHERE dt = '2026-01-15' GROUP BY line")
        finally:
            standin.uninstall()
    rows = sum(r["n"] for r in full.rows)
    report.add(f"rows in the dataset ({DAYS} days)", rows, "rows")
    report.add("bytes scanned, no partition filter", full.bytes_scanned, "B")
    report.add(
        "bytes scanned, 7 days (dt BETWEEN)",
        week.bytes_scanned,
        "B",
        baseline=full.bytes_scanned,
        target="<= 7/30 + 5%",
        met=week.bytes_scanned <= full.bytes_scanned * (7 / DAYS + 0.05),
    )
    report.add(
        "bytes scanned, 1 day (dt =)",
        one_day.bytes_scanned,
        "B",
        baseline=full.bytes_scanned,
        target="<= 1/30 + 2%",
        met=one_day.bytes_scanned <= full.bytes_scanned * (1 / DAYS + 0.02),
    )


def run(report: Report) -> None:
    _writer_figures(report)
    _athena_figures(report)
