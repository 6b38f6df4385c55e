"""Sensor CSV typing: columns from the header, time zones, rejected values, median/MAD anomalies."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from manufacturing_analytics import samples, sensors
from shared.errors import ConfigError
from shared.formats.csvtable import CsvEncodingError, CsvHeaderError

TOKYO = sensors.SensorSettings(zone=sensors.parse_zone("Asia/Tokyo"))


def _csv(rows: list[list[str]], terminator: str = "\n") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=terminator).writerows(rows)
    return buffer.getvalue().encode()


def _series(values: list[str], header: str = "temperature_c") -> bytes:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [["timestamp", "machine", header]]
    rows += [[(start + timedelta(minutes=i)).isoformat(), "m1", v] for i, v in enumerate(values)]
    return _csv(rows)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01 09:00:00", datetime(2026, 3, 1, 0, 0, tzinfo=UTC)),  # naive: the declared zone
        ("2026-03-01T09:00:00.250", datetime(2026, 3, 1, 0, 0, 0, 250000, tzinfo=UTC)),
        ("2026-03-01T09:00:00+02:00", datetime(2026, 3, 1, 7, 0, tzinfo=UTC)),  # an offset is kept
        ("2026-03-01T09:00:00Z", datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
        ("1772355600", datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),  # epoch seconds
        ("1772355600000", datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),  # epoch milliseconds
    ],
)
def test_timestamps_come_out_in_utc(text: str, expected: datetime) -> None:
    assert sensors.parse_timestamp(text, TOKYO.zone) == expected


def test_a_fixed_offset_zone_and_a_dst_repeated_hour() -> None:
    assert sensors.parse_timestamp("2026-03-01 09:00", sensors.parse_zone("+09:00")) == datetime(
        2026, 3, 1, tzinfo=UTC
    )
    # 01:30 happens twice in New York on 2026-11-01; fold=0 takes the first (EDT, UTC-4).
    new_york = sensors.parse_zone("America/New_York")
    assert sensors.parse_timestamp("2026-11-01 01:30", new_york) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["Mars/Olympus", "+9", "UTC+25:00x"])
def test_an_unknown_zone_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError):
        sensors.parse_zone(raw)


def test_the_header_decides_the_columns_and_a_non_numeric_column_is_ignored() -> None:
    data = _csv(
        [
            ["Recorded At", "Asset ID", "spindle_rpm", "status"],
            ["2026-03-01T00:00:00Z", "lathe", "3000", "RUN"],
        ]
    )
    log = sensors.read_sensor_log(data, "plant/line-7/sensors/lathe.csv", TOKYO)
    assert (log.timestamp_column, log.machine_column, log.line_column) == ("Recorded At", "Asset ID", None)
    assert log.measurements == ("spindle_rpm",)
    assert log.ignored_columns == ("status",)
    reading = log.readings[0]
    assert (reading.machine, reading.line, reading.metric, reading.value) == (
        "lathe",
        "line-7",
        "spindle_rpm",
        3000.0,
    )


def test_without_a_machine_column_the_file_name_is_the_machine() -> None:
    log = sensors.read_sensor_log(
        _csv([["ts", "pressure_bar"], ["2026-03-01T00:00:00Z", "10"]]), "x/press-04.csv", TOKYO
    )
    assert log.readings[0].machine == "press-04"


def test_no_timestamp_column_is_a_typed_error_naming_the_columns() -> None:
    with pytest.raises(sensors.MissingColumnError, match="no timestamp column") as raised:
        sensors.read_sensor_log(b"machine,temperature_c\nm1,20\n", "k.csv", TOKYO)
    assert raised.value.details["columns"] == ["machine", "temperature_c"]


def test_empty_nan_infinite_text_and_out_of_range_values_are_counted_never_written() -> None:
    log = sensors.read_sensor_log(
        _series(["20", "", "nan", "NaN", "inf", "-Infinity", "warm", "999", "21"]), "k.csv", TOKYO
    )
    assert [r.value for r in log.readings] == [20.0, 21.0]
    assert dict(log.rejected[("m1", "temperature_c")]) == {
        "empty": 1,
        "missing": 2,
        "nonfinite": 2,
        "not_a_number": 1,
        "out_of_range": 1,
    }
    # Everything the step writes is strict JSON.
    json.dumps(log.summary(TOKYO), allow_nan=False)


def test_a_bad_timestamp_is_a_malformed_row_with_its_line() -> None:
    data = _csv([["ts", "machine", "current_a"], ["2026-03-01T00:00:00Z", "m", "1"], ["noon", "m", "2"]])
    log = sensors.read_sensor_log(data, "k.csv", TOKYO)
    assert log.bad_timestamps == 1
    assert [(i.line, i.reason[:9]) for i in log.table.issues] == [(3, "timestamp")]


def test_the_robust_method_flags_the_spike_and_names_itself() -> None:
    values = [str(20 + (i % 5) * 0.1) for i in range(30)]
    values[17] = "35"
    log = sensors.read_sensor_log(_series(values), "k.csv", TOKYO)
    assert [(a.reading.source_line, a.reading.value) for a in log.anomalies] == [(19, 35.0)]
    stats = log.summary(TOKYO)["statistics"][0]
    assert stats["median"] == pytest.approx(20.2)
    assert stats["anomalies"] == 1
    assert log.summary(TOKYO)["method"]["name"] == sensors.METHOD
    assert log.summary(TOKYO)["method"]["threshold"] == 3.5


def test_a_mean_and_standard_deviation_would_miss_what_median_mad_finds() -> None:
    # Two large outliers inflate the standard deviation so neither is 3 sigma out; MAD is unmoved.
    values = ["10"] * 10 + ["11"] * 10 + ["60", "61"]
    log = sensors.read_sensor_log(_series(values), "k.csv", TOKYO)
    assert sorted(a.reading.value for a in log.anomalies) == [60.0, 61.0]
    numbers = [float(v) for v in values]
    mean = sum(numbers) / len(numbers)
    sigma = (sum((v - mean) ** 2 for v in numbers) / len(numbers)) ** 0.5
    assert all(abs(v - mean) / sigma < 3.5 for v in (60.0, 61.0))


def test_zero_mad_falls_back_to_the_mean_absolute_deviation() -> None:
    values = ["5"] * 20 + ["9"]
    log = sensors.read_sensor_log(_series(values), "k.csv", TOKYO)
    assert [a.reading.value for a in log.anomalies] == [9.0]
    assert log.statistics[0]["mad"] == 0


def test_too_few_values_give_statistics_but_no_anomalies() -> None:
    log = sensors.read_sensor_log(_series(["1", "1", "1", "50"]), "k.csv", TOKYO)
    assert log.anomalies == []
    assert log.statistics[0]["count"] == 4


def test_the_sample_logs_cover_every_variant_they_claim() -> None:
    day = date(2026, 3, 1)
    press = sensors.read_sensor_log(samples.press_log(day), "plant/line-1/sensors/press-01.csv", TOKYO)
    assert press.table.bom == "utf-8"
    assert press.table.issue_count == 2
    assert dict(press.summary(TOKYO)["rejected_values"]) == {"empty": 1, "missing": 2, "out_of_range": 2}
    assert len(press.anomalies) == 3
    # Naive local midnight in Tokyo is 15:00 UTC the day before.
    assert press.readings[0].ts == datetime(2026, 2, 28, 15, tzinfo=UTC)
    lathe = sensors.read_sensor_log(samples.lathe_log(day), "plant/line-1/sensors/lathe-02.csv", TOKYO)
    assert lathe.table.mixed_line_endings
    assert lathe.bad_timestamps == 1
    assert lathe.ignored_columns == ("status",)
    offsets = {r.ts for r in lathe.readings if r.source_line in (2, 3)}
    assert offsets == {datetime(2026, 2, 28, 15, tzinfo=UTC), datetime(2026, 2, 28, 15, 30, tzinfo=UTC)}
    robot = sensors.read_sensor_log(samples.robot_log(day), "plant/line-2/sensors/robot-03.csv", TOKYO)
    assert robot.table.delimiter == ";"
    assert dict(robot.summary(TOKYO)["rejected_values"]) == {"nonfinite": 1, "not_a_number": 1}
    broken = samples.broken_logs(day)
    with pytest.raises(CsvHeaderError):
        sensors.read_sensor_log(broken["no-header.csv"], "no-header.csv", TOKYO)
    with pytest.raises(sensors.MissingColumnError):
        sensors.read_sensor_log(broken["no-timestamp.csv"], "no-timestamp.csv", TOKYO)
    with pytest.raises(CsvEncodingError):
        sensors.read_sensor_log(broken["latin1.csv"], "latin1.csv", TOKYO)


def test_measurement_ranges_parse_and_refuse_nonsense() -> None:
    assert sensors.parse_ranges("a:-1:1, b_c:0:2.5") == {"a": (-1.0, 1.0), "b_c": (0.0, 2.5)}
    for bad in ("a:1", "a:2:1", ":0:1", "a:x:1"):
        with pytest.raises(ConfigError):
            sensors.parse_ranges(bad)


def test_offsets_written_by_another_writer_are_honoured() -> None:
    moment = datetime(2026, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    data = _csv([["time", "machine", "current_a"], [moment.isoformat(), "m", "3"]], terminator="\r\n")
    log = sensors.read_sensor_log(data, "k.csv", TOKYO)
    assert log.readings[0].ts == datetime(2026, 7, 1, 17, tzinfo=UTC)
