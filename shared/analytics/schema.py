"""Record schemas: the one definition behind what the dataset writer emits and the Glue table.

A :class:`RecordSchema` names a record type, its columns (name and Athena/Glue type, in order), its
date partition key and the prefix of its dataset. From it come

* :meth:`RecordSchema.coerce`: a record checked and converted to its JSON form (what the writer
  writes); a wrong type raises :class:`InvalidRecordError` naming the record type, column and value;
* :meth:`RecordSchema.decode`: a JSON line read back to Python values (the round trip of coerce);
* :func:`glue_table_input`: the ``TableInput`` of the ``AWS::Glue::Table`` a template declares;
* :func:`glue_table_differences`: every difference between a template's table and the schema
  (a use case's template test asserts it is empty).

Types and their JSON form:

========== ============================== =====================================================
Glue type  Python values accepted          JSON written
========== ============================== =====================================================
string     ``str`` (valid UTF-8), ``bytes`` that decode as UTF-8   the string
bigint     ``int`` in the signed 64-bit range (not ``bool``)       the number
int        ``int`` in the signed 32-bit range (not ``bool``)       the number
double     ``int`` or ``float``                                     the number; NaN and +-infinity
                                                                    become null and are counted
boolean    ``bool``                                                 true/false
date       ``date`` (not ``datetime``), ``YYYY-MM-DD`` string       ``"YYYY-MM-DD"``
timestamp  time-zone aware ``datetime``                             ``"YYYY-MM-DD HH:MM:SS.ffffff"``
                                                                    in UTC (Hive's format, which the
                                                                    OpenX JSON SerDe reads)
========== ============================== =====================================================

Deliberate choices: NaN and infinity are *measurements that do not exist*, so they become null and
the writer counts them (``Coerced.nonfinite``); non-UTF-8 text (bytes that do not decode, or a
``str`` holding lone surrogates, as ``os.fsdecode`` makes of a non-UTF-8 file name) is a typed
error, because replacing characters would silently change a path or a name. A naive ``datetime``
is an error too: its time zone is unknown. Unknown keys are errors (schema drift), missing keys are
null unless the column is ``nullable=False``.

Partitions: the table uses Athena partition projection on ``dt`` (type ``date``, format
``yyyy-MM-dd``) over Hive-style ``dt=YYYY-MM-DD/`` folders. A writer then never has to register a
partition (no ``glue:BatchCreatePartition`` or ``MSCK REPAIR TABLE`` step, no IAM for it), a new
day is queryable the moment its first file lands, and a query filtering on ``dt`` reads only those
folders. The projected range starts at :attr:`RecordSchema.first_date` and ends at ``NOW``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from shared.errors import PatternError

logger = logging.getLogger(__name__)

SERDE = "org.openx.data.jsonserde.JsonSerDe"
INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PARTITION_KEY = "dt"
TYPES = ("string", "bigint", "int", "double", "boolean", "date", "timestamp")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,127}$")
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_\-]*(/[a-z0-9][a-z0-9_\-]*)*$")
_INT_RANGE = {"bigint": (-(2**63), 2**63 - 1), "int": (-(2**31), 2**31 - 1)}
_VALUE_REPR = 120


class SchemaError(PatternError, ValueError):
    """A record schema is malformed (bad name, type, duplicate column)."""


class InvalidRecordError(PatternError, ValueError):
    """A record does not fit its schema; ``details`` name the record type, column and value."""


@dataclass(frozen=True)
class Column:
    """One column: its name, Glue type and whether it may be null."""

    name: str
    type: str
    nullable: bool = True
    comment: str = ""


@dataclass(frozen=True)
class Coerced:
    """A record in its JSON form, and how many NaN/infinity values became null."""

    values: dict[str, Any]
    nonfinite: int = 0


@dataclass(frozen=True)
class RecordSchema:
    """A record type: its table name, dataset prefix, columns and date partition."""

    name: str
    columns: tuple[Column, ...]
    prefix: str = ""
    description: str = ""
    first_date: str = "2024-01-01"
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise SchemaError(
                f"record type name {self.name!r} must be lower-case [a-z0-9_]", record_type=self.name
            )
        if not self.prefix:
            object.__setattr__(self, "prefix", self.name)
        if not _PREFIX.match(self.prefix):
            raise SchemaError(
                f"dataset prefix {self.prefix!r} is not a plain relative path", record_type=self.name
            )
        if not self.columns:
            raise SchemaError(f"record type {self.name!r} has no columns", record_type=self.name)
        by_name: dict[str, Column] = {}
        for column in self.columns:
            if not _NAME.match(column.name) or column.name == PARTITION_KEY:
                raise SchemaError(
                    f"column {column.name!r} of {self.name!r} must be lower-case [a-z0-9_] and not "
                    f"{PARTITION_KEY!r} (the partition key)",
                    record_type=self.name,
                    column=column.name,
                )
            if column.type not in TYPES:
                raise SchemaError(
                    f"column {column.name!r} of {self.name!r} has type {column.type!r}; use one of {TYPES}",
                    record_type=self.name,
                    column=column.name,
                )
            if column.name in by_name:
                raise SchemaError(
                    f"column {column.name!r} of {self.name!r} is declared twice", record_type=self.name
                )
            by_name[column.name] = column
        try:
            date.fromisoformat(self.first_date)
        except ValueError as error:
            raise SchemaError(
                f"first_date {self.first_date!r} is not YYYY-MM-DD", record_type=self.name
            ) from error
        object.__setattr__(self, "_by_name", by_name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def coerce(self, record: Mapping[str, Any]) -> Coerced:
        """The record's JSON form, checked against the columns (raises :class:`InvalidRecordError`)."""
        unknown = [key for key in record if key not in self._by_name]
        if unknown:
            raise InvalidRecordError(
                f"{self.name}: unknown column(s) {sorted(map(str, unknown))}",
                record_type=self.name,
                column=str(sorted(map(str, unknown))[0]),
            )
        values: dict[str, Any] = {}
        nonfinite = 0
        for column in self.columns:
            raw = record.get(column.name)
            if raw is None:
                if not column.nullable:
                    raise InvalidRecordError(
                        f"{self.name}.{column.name}: required, got null",
                        record_type=self.name,
                        column=column.name,
                    )
                values[column.name] = None
                continue
            value, was_nonfinite = _encode(self.name, column, raw)
            if was_nonfinite and not column.nullable:
                raise InvalidRecordError(
                    f"{self.name}.{column.name}: required, got {raw!r}",
                    record_type=self.name,
                    column=column.name,
                    value=repr(raw),
                )
            nonfinite += was_nonfinite
            values[column.name] = value
        return Coerced(values, nonfinite)

    def decode(self, line: str | bytes) -> dict[str, Any]:
        """A JSON line written for this schema, back to Python values (missing keys read as null)."""
        document = json.loads(line)
        if not isinstance(document, dict):
            raise InvalidRecordError(f"{self.name}: a line is not a JSON object", record_type=self.name)
        return {column.name: _decode(column.type, document.get(column.name)) for column in self.columns}


def partition_value(value: date | datetime | str) -> str:
    """The ``dt`` folder value of a date, an aware datetime (its UTC date) or a ``YYYY-MM-DD`` string."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidRecordError(f"partition date {value!r} has no time zone", column=PARTITION_KEY)
        return value.astimezone(UTC).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise InvalidRecordError(
        f"partition date {value!r} is not YYYY-MM-DD", column=PARTITION_KEY, value=_short(value)
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _VALUE_REPR else text[: _VALUE_REPR - 3] + "..."


def _wrong(record_type: str, column: Column, value: Any, why: str) -> InvalidRecordError:
    return InvalidRecordError(
        f"{record_type}.{column.name} ({column.type}): {why}, got {_short(value)}",
        record_type=record_type,
        column=column.name,
        value=_short(value),
    )


def _encode(record_type: str, column: Column, value: Any) -> tuple[Any, bool]:
    """(JSON value, whether a NaN/infinity became null)."""
    kind = column.type
    if kind == "string":
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8"), False
            except UnicodeDecodeError as error:
                raise _wrong(record_type, column, value, f"bytes are not UTF-8 ({error.reason})") from error
        if not isinstance(value, str):
            raise _wrong(record_type, column, value, "expected str")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise _wrong(
                record_type, column, value, "text holds a lone surrogate (not valid UTF-8)"
            ) from error
        return value, False
    if kind in _INT_RANGE:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong(record_type, column, value, "expected int")
        low, high = _INT_RANGE[kind]
        if not low <= value <= high:
            raise _wrong(record_type, column, value, f"out of range [{low}, {high}]")
        return value, False
    if kind == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _wrong(record_type, column, value, "expected float")
        number = float(value)
        if not math.isfinite(number):
            return None, True
        return number, False
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _wrong(record_type, column, value, "expected bool")
        return value, False
    if kind == "date":
        if isinstance(value, datetime) or not isinstance(value, date | str):
            raise _wrong(record_type, column, value, "expected date")
        if isinstance(value, str):
            try:
                return date.fromisoformat(value).isoformat(), False
            except ValueError as error:
                raise _wrong(record_type, column, value, "expected YYYY-MM-DD") from error
        return value.isoformat(), False
    # timestamp
    if not isinstance(value, datetime):
        raise _wrong(record_type, column, value, "expected datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _wrong(record_type, column, value, "naive datetime (time zone unknown)")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"), False


def _decode(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "double":
        return float(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "timestamp":
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return value


# -- Glue ------------------------------------------------------------------------------------------


def glue_table_input(schema: RecordSchema, location: Any) -> dict[str, Any]:
    """The ``TableInput`` of the schema's ``AWS::Glue::Table``.

    ``location`` is the dataset's S3 URI ending in ``/<prefix>/`` (a string, or a CloudFormation
    ``Fn::Sub`` in a template). Partition projection on ``dt`` (see the module docstring).
    """
    return {
        "Name": schema.name,
        "Description": schema.description or f"{schema.name} records (gzip JSON Lines, one per line)",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "json",
            "compressionType": "gzip",
            "projection.enabled": "true",
            f"projection.{PARTITION_KEY}.type": "date",
            f"projection.{PARTITION_KEY}.format": "yyyy-MM-dd",
            f"projection.{PARTITION_KEY}.range": f"{schema.first_date},NOW",
            f"projection.{PARTITION_KEY}.interval": "1",
            f"projection.{PARTITION_KEY}.interval.unit": "DAYS",
        },
        "PartitionKeys": [{"Name": PARTITION_KEY, "Type": "string"}],
        "StorageDescriptor": {
            "Columns": [
                {"Name": c.name, "Type": c.type, **({"Comment": c.comment} if c.comment else {})}
                for c in schema.columns
            ],
            "Location": location,
            "InputFormat": INPUT_FORMAT,
            "OutputFormat": OUTPUT_FORMAT,
            "Compressed": True,
            "SerdeInfo": {
                "SerializationLibrary": SERDE,
                # A malformed line fails the query instead of reading as nulls.
                "Parameters": {"ignore.malformed.json": "FALSE"},
            },
        },
    }


def _location_text(location: Any) -> str | None:
    if isinstance(location, str):
        return location
    if isinstance(location, Mapping) and "Fn::Sub" in location:
        sub = location["Fn::Sub"]
        return sub if isinstance(sub, str) else str(sub[0])
    return None


def glue_table_differences(resource: Mapping[str, Any], schema: RecordSchema) -> list[str]:
    """Every way a template's ``AWS::Glue::Table`` resource differs from the schema (empty: equal).

    Everything in :func:`glue_table_input` is compared except the location's bucket part, which
    must be a string or ``Fn::Sub`` ending in ``/<prefix>/``.
    """
    problems: list[str] = []
    if resource.get("Type") != "AWS::Glue::Table":
        return [f"{schema.name}: resource type is {resource.get('Type')!r}, not AWS::Glue::Table"]
    actual = dict(resource.get("Properties", {}).get("TableInput", {}))
    location = actual.get("StorageDescriptor", {}).get("Location")
    text = _location_text(location)
    if text is None or not text.endswith(f"/{schema.prefix}/"):
        problems.append(f"{schema.name}: Location {location!r} must end with '/{schema.prefix}/'")
    expected = glue_table_input(schema, location)
    _diff(expected, actual, schema.name, problems)
    return problems


def _diff(expected: Any, actual: Any, path: str, problems: list[str]) -> None:
    if isinstance(expected, dict) and isinstance(actual, Mapping):
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                problems.append(f"{path}.{key}: missing (expected {expected[key]!r})")
            elif key not in expected:
                problems.append(f"{path}.{key}: not in the schema (got {actual[key]!r})")
            else:
                _diff(expected[key], actual[key], f"{path}.{key}", problems)
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            problems.append(f"{path}: {len(actual)} entries, the schema has {len(expected)}: {expected!r}")
            return
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            _diff(want, got, f"{path}[{index}]", problems)
    elif expected != actual and not (
        isinstance(expected, bool) and str(actual).lower() == str(expected).lower()
    ):
        problems.append(f"{path}: {actual!r}, the schema says {expected!r}")
