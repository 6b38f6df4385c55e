"""Sensor logs: a CSV file's rows typed into readings, per-machine statistics and robust anomalies.

The general parsing (BOM, mixed line endings, malformed rows with their line numbers, header
checks) is :func:`shared.formats.csvtable.read_table`; this module gives the columns their meaning.

**Columns.** The header decides which exist. One timestamp column is required (``timestamp``,
``ts``, ``time``, ``datetime``, ``recorded_at``; case and spaces ignored), else the file is
unusable and :class:`MissingColumnError` names the columns it has. ``machine`` / ``machine_id`` /
``asset`` / ``asset_id`` names the machine (absent: the file name's stem, one file per machine);
``line`` / ``line_id`` / ``production_line`` the production line (absent: a ``line-...`` folder of the
key, else null). Every other column is a measurement named by its header (``temperature_c``); a
column with no numeric value at all (a status or operator note) is listed as ignored.

**Timestamps** are ISO 8601 (``T`` or a space, optional fraction, ``Z`` or ``+09:00``) or Unix
epoch seconds / milliseconds. A timestamp without an offset is read in the declared plant time zone
(the ``SensorTimeZone`` parameter, an IANA name or ``+HH:MM``); one with an offset keeps it; every
output is UTC. A local time that a DST change skips or repeats takes the earlier offset (``fold=0``).
A row whose timestamp does not parse is a malformed row with its line number.

**Values.** Empty cells, ``nan``/``NA``/``null``, infinities, text that is not a number and values
outside the measurement's declared range (``MeasurementRanges``) are counted per machine and
measurement by kind and never become readings, so no NaN ever reaches the JSON written.

**Anomalies** use the modified z-score of Iglewicz and Hoaglin: for each machine and measurement,
``score = 0.6745 * (x - median) / MAD`` with MAD the median absolute deviation; ``|score|`` above the
threshold (3.5 by default) is an anomaly. Median and MAD ignore the outliers they look for, where a
mean and standard deviation are dragged by them. When MAD is 0 (more than half the values equal)
the scale is the mean absolute deviation times 1.2533 instead; when that is 0 too, nothing is
anomalous. Fewer than ``min_samples`` values give statistics but no anomalies. The method, its
constants and its threshold are named in every output (:data:`METHOD`).
"""

from __future__ import annotations

import logging
import math
import posixpath
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, NamedTuple

from shared.errors import ConfigError, PatternError
from shared.formats.csvtable import CsvTable, read_table

logger = logging.getLogger(__name__)

TIMESTAMP_COLUMNS = ("timestamp", "ts", "time", "datetime", "recorded_at", "date_time")
MACHINE_COLUMNS = ("machine", "machine_id", "asset", "asset_id")
LINE_COLUMNS = ("line", "line_id", "production_line")
MISSING_TOKENS = frozenset({"nan", "na", "n/a", "null", "none", "-"})
MAD_CONSTANT = 0.6745
MEAN_AD_CONSTANT = 1.2533
DEFAULT_THRESHOLD = 3.5
DEFAULT_MIN_SAMPLES = 8
METHOD = "modified-z-score (median/MAD, Iglewicz-Hoaglin)"
DEFAULT_RANGES = (
    "temperature_c:-40:250,vibration_mm_s:0:100,pressure_bar:0:400,spindle_rpm:0:30000,current_a:0:1000"
)

_OFFSET = re.compile(r"^(UTC)?([+-])(\d{2}):?(\d{2})$")
_LINE_FOLDER = re.compile(r"^line[-_ ]?[a-z0-9]+$", re.IGNORECASE)
_EPOCH = re.compile(r"^\d{10}(\d{3})?(\.\d+)?$")


class SensorFileError(PatternError, ValueError):
    """A sensor file that cannot be used at all (no timestamp column, no rows...)."""


class MissingColumnError(SensorFileError):
    """A required column is absent; ``details`` list the columns the header has."""


def parse_zone(raw: str) -> tzinfo:
    """An IANA zone name (``Asia/Tokyo``), ``UTC``, or a fixed offset (``+09:00``); else ConfigError."""
    text = raw.strip() or "UTC"
    if text.upper() in ("UTC", "Z"):
        return UTC
    match = _OFFSET.match(text)
    if match:
        sign = -1 if match.group(2) == "-" else 1
        return timezone(sign * timedelta(hours=int(match.group(3)), minutes=int(match.group(4))))
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigError(f"time zone {text!r} is neither an IANA name nor an offset like +09:00") from error


def parse_ranges(raw: str) -> dict[str, tuple[float, float]]:
    """``name:min:max,...`` (``MeasurementRanges``) into {name: (min, max)}; a bad entry is a ConfigError."""
    ranges: dict[str, tuple[float, float]] = {}
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        parts = entry.rsplit(":", 2)
        try:
            name, low, high = parts[0].strip().lower(), float(parts[1]), float(parts[2])
        except (IndexError, ValueError) as error:
            raise ConfigError(f"measurement range {entry!r} is not name:min:max") from error
        if not name or not low <= high:
            raise ConfigError(f"measurement range {entry!r} needs a name and min <= max")
        ranges[name] = (low, high)
    return ranges


@dataclass(frozen=True)
class SensorSettings:
    zone: tzinfo = UTC
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=lambda: parse_ranges(DEFAULT_RANGES))
    threshold: float = DEFAULT_THRESHOLD
    min_samples: int = DEFAULT_MIN_SAMPLES


def method(settings: SensorSettings) -> dict[str, Any]:
    return {
        "name": METHOD,
        "score": f"{MAD_CONSTANT} * (x - median) / MAD",
        "threshold": settings.threshold,
        "mad_zero_fallback": f"mean absolute deviation * {MEAN_AD_CONSTANT}",
        "min_samples": settings.min_samples,
    }


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _find(columns: tuple[str, ...], names: tuple[str, ...]) -> str | None:
    for column in columns:
        if _norm(column) in names:
            return column
    return None


def parse_timestamp(text: str, zone: tzinfo) -> datetime:
    """A UTC datetime from ISO 8601 or epoch seconds/milliseconds; ValueError when neither."""
    raw = text.strip()
    if _EPOCH.match(raw):
        seconds = float(raw)
        if len(raw.split(".")[0]) == 13:
            seconds /= 1000.0
        return datetime.fromtimestamp(seconds, UTC)
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def line_from_key(key: str) -> str | None:
    for part in reversed(posixpath.dirname(key).split("/")):
        if _LINE_FOLDER.match(part):
            return part.lower()
    return None


class Reading(NamedTuple):
    machine: str
    line: str | None
    ts: datetime
    metric: str
    value: float
    source_line: int


@dataclass(frozen=True)
class Anomaly:
    reading: Reading
    median: float
    scale: float
    score: float


@dataclass
class SensorLog:
    """One file's typed content: readings, per-series statistics, anomalies and what was rejected."""

    table: CsvTable
    timestamp_column: str
    machine_column: str | None
    line_column: str | None
    measurements: tuple[str, ...]
    ignored_columns: tuple[str, ...]
    readings: list[Reading] = field(default_factory=list)
    rejected: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    bad_timestamps: int = 0
    anomalies: list[Anomaly] = field(default_factory=list)
    statistics: list[dict[str, Any]] = field(default_factory=list)

    def summary(self, settings: SensorSettings) -> dict[str, Any]:
        rejected_total: Counter[str] = Counter()
        for counts in self.rejected.values():
            rejected_total.update(counts)
        return {
            "file": self.table.summary(),
            "columns": {
                "timestamp": self.timestamp_column,
                "machine": self.machine_column,
                "line": self.line_column,
                "measurements": list(self.measurements),
                "ignored": list(self.ignored_columns),
            },
            "time_zone_for_naive_timestamps": str(settings.zone),
            "readings": len(self.readings),
            "rejected_values": dict(sorted(rejected_total.items())),
            "bad_timestamps": self.bad_timestamps,
            "machines": sorted({r.machine for r in self.readings}),
            "anomalies": len(self.anomalies),
            "method": method(settings),
            "statistics": self.statistics,
        }


def _classify(text: str, bounds: tuple[float, float] | None) -> float | str:
    """The value, or why it is rejected: empty, missing, nonfinite, not_a_number, out_of_range."""
    try:
        value = float(text)
    except ValueError:
        if not text:
            return "empty"
        return "missing" if text.lower() in MISSING_TOKENS else "not_a_number"
    if value != value:  # NaN
        return "missing"
    if value in (math.inf, -math.inf):
        return "nonfinite"
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        return "out_of_range"
    return value


def _numeric_columns(table: CsvTable, candidates: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    numeric: list[str] = []
    ignored: list[str] = []
    for column in candidates:
        found = False
        index = table.position(column)
        for row in table.rows:
            text = row.cells[index]
            if text and text.lower() not in MISSING_TOKENS:
                try:
                    float(text)
                except ValueError:
                    continue
                found = True
                break
        (numeric if found else ignored).append(column)
    return tuple(numeric), tuple(ignored)


def read_sensor_log(data: bytes, key: str, settings: SensorSettings) -> SensorLog:
    """Parse and type one sensor CSV (see the module docstring); unusable files raise typed errors."""
    table = read_table(data, delimiter=None)
    ts_column = _find(table.columns, TIMESTAMP_COLUMNS)
    if ts_column is None:
        raise MissingColumnError(
            f"no timestamp column (one of {', '.join(TIMESTAMP_COLUMNS)}); the header has "
            f"{', '.join(table.columns)}",
            columns=list(table.columns),
        )
    machine_column = _find(table.columns, MACHINE_COLUMNS)
    line_column = _find(table.columns, LINE_COLUMNS)
    others = [c for c in table.columns if c not in (ts_column, machine_column, line_column)]
    measurements, ignored = _numeric_columns(table, others)
    log = SensorLog(table, ts_column, machine_column, line_column, measurements, ignored)
    default_machine = posixpath.splitext(posixpath.basename(key))[0]
    default_line = line_from_key(key)
    ts_at = table.position(ts_column)
    machine_at = table.position(machine_column) if machine_column else None
    line_at = table.position(line_column) if line_column else None
    metrics = [
        (metric, table.position(metric), settings.ranges.get(metric.lower())) for metric in measurements
    ]
    for row in table.rows:
        cells = row.cells
        try:
            ts = parse_timestamp(cells[ts_at], settings.zone)
        except (ValueError, OverflowError, OSError):
            log.bad_timestamps += 1
            table.add_issue(row.line, f"timestamp {cells[ts_at][:40]!r} is not ISO 8601 or epoch")
            continue
        machine = (cells[machine_at] if machine_at is not None else "") or default_machine
        line = (cells[line_at] if line_at is not None else "") or default_line
        for metric, index, bounds in metrics:
            outcome = _classify(cells[index], bounds)
            if isinstance(outcome, str):
                log.rejected.setdefault((machine, metric), Counter())[outcome] += 1
                continue
            log.readings.append(Reading(machine, line, ts, metric, outcome, row.line))
    analyse(log, settings)
    return log


def robust_scale(values: list[float], median: float) -> tuple[float, float]:
    """(MAD, the scale the score divides by): MAD, or the mean-AD fallback when MAD is 0."""
    deviations = [abs(v - median) for v in values]
    mad = statistics.median(deviations)
    if mad > 0:
        return mad, mad / MAD_CONSTANT
    mean_ad = sum(deviations) / len(deviations)
    return mad, mean_ad * MEAN_AD_CONSTANT


def analyse(log: SensorLog, settings: SensorSettings) -> None:
    """Fill ``statistics`` and ``anomalies`` per (machine, measurement)."""
    series: dict[tuple[str, str], list[Reading]] = defaultdict(list)
    for reading in log.readings:
        series[(reading.machine, reading.metric)].append(reading)
    keys = sorted(set(series) | set(log.rejected))
    for machine, metric in keys:
        readings = series.get((machine, metric), [])
        values = [r.value for r in readings]
        entry: dict[str, Any] = {
            "machine": machine,
            "metric": metric,
            "count": len(values),
            "rejected": dict(sorted(log.rejected.get((machine, metric), Counter()).items())),
        }
        anomalies = 0
        if values:
            median = statistics.median(values)
            mad, scale = robust_scale(values, median)
            entry.update(min=min(values), max=max(values), median=median, mad=mad)
            if len(values) >= settings.min_samples and scale > 0:
                # score = 0.6745 * (x - median) / MAD, written as (x - median) / (MAD / 0.6745).
                for reading in readings:
                    score = (reading.value - median) / scale
                    if abs(score) > settings.threshold:
                        log.anomalies.append(Anomaly(reading, median, scale, round(score, 3)))
                        anomalies += 1
        entry["anomalies"] = anomalies
        log.statistics.append(entry)
