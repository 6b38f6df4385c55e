"""The dataset writer and record schemas: typed coercion, round trips, layout, bounded memory."""

from __future__ import annotations

import json
import math
import zlib
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.analytics import writer as writer_module
from shared.analytics.schema import Column, InvalidRecordError, RecordSchema, SchemaError
from shared.analytics.writer import DatasetWriteError, DatasetWriter, dataset_location, read_records

SAMPLE = RecordSchema(
    "sample",
    (
        Column("path", "string", nullable=False),
        Column("size", "bigint"),
        Column("count", "int"),
        Column("score", "double"),
        Column("ok", "boolean"),
        Column("day", "date"),
        Column("seen_at", "timestamp"),
    ),
    prefix="samples/v1",
)
OTHER = RecordSchema("other", (Column("name", "string"),))
DAY = date(2026, 3, 7)


class FakeS3:
    """Records the S3 calls a writer makes (enough for the multipart and abort paths)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.parts: dict[str, list[bytes]] = {}
        self.aborted: list[str] = []
        self.fail_put = False

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:  # noqa: N803
        if self.fail_put:
            raise RuntimeError("put failed")
        self.objects[Key] = Body
        return {}

    def create_multipart_upload(self, *, Key: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        self.parts[Key] = []
        return {"UploadId": f"u-{Key}"}

    def upload_part(self, *, Key: str, Body: bytes, PartNumber: int, **_: Any) -> dict[str, Any]:  # noqa: N803
        self.parts[Key].append(Body)
        return {"ETag": f"e{PartNumber}"}

    def complete_multipart_upload(self, *, Key: str, MultipartUpload: dict[str, Any], **_: Any) -> None:  # noqa: N803
        assert [p["PartNumber"] for p in MultipartUpload["Parts"]] == list(range(1, len(self.parts[Key]) + 1))
        self.objects[Key] = b"".join(self.parts.pop(Key))

    def abort_multipart_upload(self, *, Key: str, **_: Any) -> None:  # noqa: N803
        self.aborted.append(Key)
        self.parts.pop(Key, None)


def record(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "path": "vol1/a.txt",
        "size": 12,
        "count": 3,
        "score": 0.5,
        "ok": True,
        "day": date(2026, 3, 1),
        "seen_at": datetime(2026, 3, 7, 10, 0, tzinfo=timezone(timedelta(hours=9))),
    }
    return {**base, **overrides}


def test_records_of_each_type_go_to_their_own_prefix_and_day_folder() -> None:
    s3 = FakeS3()
    with DatasetWriter("out", root="datasets", run_id="run1", client=s3) as writer:
        writer.write(SAMPLE, record(), dt=DAY)
        writer.write(SAMPLE, record(path="b"), dt=datetime(2026, 3, 8, 1, tzinfo=UTC))
        writer.write(OTHER, {"name": "x"}, dt="2026-03-07")
    assert sorted(s3.objects) == [
        "datasets/other/dt=2026-03-07/run1-0001.jsonl.gz",
        "datasets/samples/v1/dt=2026-03-07/run1-0001.jsonl.gz",
        "datasets/samples/v1/dt=2026-03-08/run1-0001.jsonl.gz",
    ]
    assert dataset_location("out", "datasets", SAMPLE) == "s3://out/datasets/samples/v1/"
    assert writer.summary.records == {"sample": 2, "other": 1}
    assert len(writer.summary.files) == 3


def test_written_lines_are_the_coerced_json_form() -> None:
    s3 = FakeS3()
    with DatasetWriter("out", run_id="r", client=s3) as writer:
        writer.write(SAMPLE, record(), dt=DAY)
    (body,) = s3.objects.values()
    line = zlib.decompress(body, 31).decode()
    assert json.loads(line) == {
        "path": "vol1/a.txt",
        "size": 12,
        "count": 3,
        "score": 0.5,
        "ok": True,
        "day": "2026-03-01",
        "seen_at": "2026-03-07 01:00:00.000000",
    }
    assert read_records(SAMPLE, body)[0]["seen_at"] == datetime(2026, 3, 7, 1, tzinfo=UTC)


def test_nan_and_infinity_become_null_and_are_counted() -> None:
    s3 = FakeS3()
    with DatasetWriter("out", run_id="r", client=s3) as writer:
        writer.write(SAMPLE, record(score=math.nan), dt=DAY)
        writer.write(SAMPLE, record(score=-math.inf), dt=DAY)
        writer.write(SAMPLE, record(score=1), dt=DAY)
    (body,) = s3.objects.values()
    assert [r["score"] for r in read_records(SAMPLE, body)] == [None, None, 1.0]
    assert writer.summary.nonfinite_nulls == {"sample": 2}


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("path", b"\xff\xfe", "not UTF-8"),
        ("path", "bad\udcffname", "lone surrogate"),
        ("path", None, "required"),
        ("size", True, "expected int"),
        ("size", 1.5, "expected int"),
        ("size", 2**63, "out of range"),
        ("count", 2**31, "out of range"),
        ("score", "1.0", "expected float"),
        ("ok", 1, "expected bool"),
        ("day", datetime(2026, 1, 1, tzinfo=UTC), "expected date"),
        ("day", "2026-13-01", "YYYY-MM-DD"),
        ("seen_at", datetime(2026, 1, 1), "naive datetime"),
        ("seen_at", "2026-01-01 00:00:00", "expected datetime"),
    ],
)
def test_a_wrong_value_is_a_typed_error_naming_type_column_and_value(
    column: str, value: Any, why: str
) -> None:
    with pytest.raises(InvalidRecordError, match=why) as caught:
        SAMPLE.coerce(record(**{column: value}))
    assert caught.value.details["record_type"] == "sample"
    assert caught.value.details["column"] == column
    if value is not None:
        assert caught.value.details["value"] == repr(value)


def test_unknown_columns_and_bad_partitions_are_refused() -> None:
    with pytest.raises(InvalidRecordError, match=r"unknown column\(s\) \['owner'\]"):
        SAMPLE.coerce(record(owner="x"))
    writer = DatasetWriter("out", run_id="r", client=FakeS3())
    with pytest.raises(InvalidRecordError, match="not YYYY-MM-DD"):
        writer.write(SAMPLE, record(), dt="07/03/2026")
    with pytest.raises(InvalidRecordError, match="no time zone"):
        writer.write(SAMPLE, record(), dt=datetime(2026, 3, 7))


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ((Column("Path", "string"),), "lower-case"),
        ((Column("dt", "string"),), "partition key"),
        ((Column("a", "varchar"),), "has type 'varchar'"),
        ((Column("a", "int"), Column("a", "int")), "declared twice"),
        ((), "no columns"),
    ],
)
def test_malformed_schemas_are_refused(columns: tuple[Column, ...], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        RecordSchema("t", columns)


def test_a_file_larger_than_a_part_goes_out_as_a_multipart_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "MIN_PART_SIZE", 1024)
    s3 = FakeS3()
    noise = [f"{i:08x}" * 40 for i in range(2000)]
    with DatasetWriter("out", run_id="r", client=s3, part_size=4096) as writer:
        for i, text in enumerate(noise):
            writer.write(OTHER, {"name": f"{text}{hash((i, text))}"}, dt=DAY)
    (key,) = s3.objects
    assert writer.summary.files[0].gzip_bytes == len(s3.objects[key])
    assert len(read_records(OTHER, s3.objects[key])) == len(noise)


def test_open_files_are_bounded_and_an_evicted_partition_continues_in_a_new_file() -> None:
    s3 = FakeS3()
    with DatasetWriter("out", run_id="r", client=s3, max_open_files=2) as writer:
        for day in (1, 2, 3, 1):
            writer.write(OTHER, {"name": str(day)}, dt=date(2026, 1, day))
            assert len(writer._open) <= 2
    assert sorted(s3.objects) == [
        "other/dt=2026-01-01/r-0001.jsonl.gz",
        "other/dt=2026-01-01/r-0002.jsonl.gz",
        "other/dt=2026-01-02/r-0001.jsonl.gz",
        "other/dt=2026-01-03/r-0001.jsonl.gz",
    ]


def test_an_exception_inside_the_block_aborts_open_uploads_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(writer_module, "MIN_PART_SIZE", 1)
    s3 = FakeS3()
    w = DatasetWriter("out", run_id="r", client=s3, part_size=1)

    def fail_midway() -> None:
        with w:
            w.write(OTHER, {"name": "x" * 100}, dt=DAY)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_midway()
    assert s3.objects == {}
    assert s3.aborted == ["other/dt=2026-03-07/r-0001.jsonl.gz"]
    with pytest.raises(DatasetWriteError, match="closed"):
        w.write(OTHER, {"name": "x"}, dt=DAY)


def test_writes_to_s3_through_the_api(aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="out")
    with DatasetWriter("out", root="d", run_id="r") as writer:
        writer.write(SAMPLE, record(), dt=DAY)
    body = s3.get_object(Bucket="out", Key="d/samples/v1/dt=2026-03-07/r-0001.jsonl.gz")["Body"].read()
    assert read_records(SAMPLE, body)[0]["path"] == "vol1/a.txt"


# -- properties --------------------------------------------------------------------------------

aware = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.timezones()
).filter(lambda value: value.utcoffset() is not None)
values = {
    "string": st.text() | st.binary(),
    "bigint": st.integers(-(2**63), 2**63 - 1),
    "int": st.integers(-(2**31), 2**31 - 1),
    "double": st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**53), 2**53),
    "boolean": st.booleans(),
    "date": st.dates(),
    "timestamp": aware,
}


def expected(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "string" and isinstance(value, bytes):
        return value.decode("utf-8")
    if kind == "double":
        return float(value) if math.isfinite(value) else None
    if kind == "timestamp":
        return value.astimezone(UTC).replace(microsecond=value.microsecond)
    return value


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for column in SAMPLE.columns:
        strategy = values[column.type] if not column.nullable else st.none() | values[column.type]
        result[column.name] = draw(strategy)
    return result


def _valid(value: Any) -> bool:
    try:
        (value.decode("utf-8") if isinstance(value, bytes) else value).encode("utf-8") if isinstance(
            value, str | bytes
        ) else None
    except UnicodeError:
        return False
    return True


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(records(), min_size=1, max_size=20))
def test_what_is_written_reads_back_equal_and_every_line_is_strict_json(rows: list[dict[str, Any]]) -> None:
    s3 = FakeS3()
    written: list[dict[str, Any]] = []
    with DatasetWriter("out", run_id="r", client=s3) as writer:
        for row in rows:
            if not all(_valid(v) for v in row.values()):
                with pytest.raises(InvalidRecordError):
                    writer.write(SAMPLE, row, dt=DAY)
                continue
            writer.write(SAMPLE, row, dt=DAY)
            written.append(row)
    if not written:
        assert s3.objects == {}
        return
    (body,) = s3.objects.values()
    for line in zlib.decompress(body, 31).decode("utf-8").split("\n")[:-1]:
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in the output"))
    decoded = read_records(SAMPLE, body)
    assert decoded == [{c.name: expected(c.type, row[c.name]) for c in SAMPLE.columns} for row in written]
