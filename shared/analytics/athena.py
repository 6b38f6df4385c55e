"""The Athena runner: start a query, wait for it with a deadline, page its results into typed rows.

Usage::

    runner = AthenaRunner.from_environment()       # ATHENA_WORKGROUP, ATHENA_OUTPUT_LOCATION, GLUE_DATABASE
    result = runner.run("SELECT owner, count(*) AS n FROM acl_entries GROUP BY owner",
                        deadline_seconds=context.get_remaining_time_in_millis() / 1000 - 10)
    for row in result.rows:                        # dicts, values typed by Athena's column types
        ...
    result.bytes_scanned                           # Statistics.DataScannedInBytes

* Configuration (:class:`AthenaSettings`) comes from the template: the workgroup, the results
  location (``s3://bucket/prefix/``; empty when the workgroup enforces its own) and the Glue
  database the unqualified table names resolve in.
* Waiting polls ``GetQueryExecution`` with exponential backoff (0.2 s doubling to at most 5 s) and
  never past ``deadline_seconds`` (default 300 s): at the deadline the query is stopped and
  :class:`AthenaTimeoutError` raised. ``FAILED`` raises :class:`AthenaQueryFailedError` and
  ``CANCELLED`` :class:`AthenaQueryCancelledError`, each carrying Athena's ``StateChangeReason``
  (and ``ErrorType``/``ErrorCategory`` when given) and the query id.
* Results are paged with ``NextToken`` (1,000 rows a page). ``GetQueryResults`` returns every
  value as a string, and for a SELECT the first row of the first page repeats the column names;
  :meth:`AthenaRunner.rows` drops it and converts each value by ``ColumnInfo.Type`` (bigint,
  integer, smallint, tinyint -> int; double, real, float -> float; decimal -> Decimal; boolean;
  date; timestamp -> naive datetime; anything else stays a string; a missing value is None).
  :meth:`AthenaRunner.run` collects at most ``max_rows`` rows (default 100,000) and raises
  :class:`AthenaResultTooLargeError` beyond, so a query cannot exhaust a function's memory;
  aggregate in SQL, or iterate :meth:`AthenaRunner.rows`.

The client is the process's from :mod:`shared.clients`, or one passed in (tests).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.clients import aws_client
from shared.config import env, from_environ
from shared.errors import PatternError

logger = logging.getLogger(__name__)

FIRST_DELAY_SECONDS = 0.2
MAX_DELAY_SECONDS = 5.0
DEFAULT_DEADLINE_SECONDS = 300.0
DEFAULT_MAX_ROWS = 100_000
PAGE_SIZE = 1000
_INTEGERS = {"bigint", "integer", "int", "smallint", "tinyint"}
_FLOATS = {"double", "real", "float"}


class AthenaError(PatternError):
    """Base class of the runner's errors; ``details`` carry ``query_id`` when there is one."""


class AthenaQueryFailedError(AthenaError):
    """The query ended FAILED; ``reason`` is Athena's StateChangeReason."""


class AthenaQueryCancelledError(AthenaError):
    """The query ended CANCELLED (stopped by someone else, or by the workgroup's data limit)."""


class AthenaTimeoutError(AthenaError):
    """The query did not finish before the deadline; the runner asked Athena to stop it."""


class AthenaResultTooLargeError(AthenaError):
    """The result has more rows than the caller allowed."""


@dataclass(frozen=True)
class AthenaSettings:
    """Where queries run: set by the template on the function."""

    workgroup: str = env("ATHENA_WORKGROUP")
    database: str = env("GLUE_DATABASE")
    output_location: str = env("ATHENA_OUTPUT_LOCATION", "")


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str


@dataclass
class QueryResult:
    """A finished query: its id, columns, typed rows and what it cost."""

    query_id: str
    columns: list[ColumnInfo]
    rows: list[dict[str, Any]] = field(default_factory=list)
    bytes_scanned: int = 0
    execution_ms: int = 0


class AthenaRunner:
    """Runs SQL on Athena for one workgroup and database (see the module docstring)."""

    def __init__(
        self,
        settings: AthenaSettings,
        *,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._client = client
        self.clock = clock
        self.sleep = sleep

    @classmethod
    def from_environment(cls, **kwargs: Any) -> AthenaRunner:
        return cls(from_environ(AthenaSettings), **kwargs)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("athena")
        return self._client

    def start(self, sql: str) -> str:
        """Start ``sql`` and return its QueryExecutionId."""
        request: dict[str, Any] = {
            "QueryString": sql,
            "WorkGroup": self.settings.workgroup,
            "QueryExecutionContext": {"Database": self.settings.database},
        }
        if self.settings.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.settings.output_location}
        query_id: str = self.client.start_query_execution(**request)["QueryExecutionId"]
        logger.info("athena query %s started in %s", query_id, self.settings.workgroup)
        return query_id

    def wait(self, query_id: str, *, deadline_seconds: float = DEFAULT_DEADLINE_SECONDS) -> dict[str, Any]:
        """The QueryExecution once SUCCEEDED; a typed error on FAILED, CANCELLED or the deadline."""
        if deadline_seconds <= 0:
            raise ValueError(f"deadline_seconds must be positive, got {deadline_seconds}")
        deadline = self.clock() + deadline_seconds
        delay = FIRST_DELAY_SECONDS
        while True:
            execution: dict[str, Any] = self.client.get_query_execution(QueryExecutionId=query_id)[
                "QueryExecution"
            ]
            status = execution.get("Status", {})
            state = status.get("State")
            if state == "SUCCEEDED":
                return execution
            if state in ("FAILED", "CANCELLED"):
                raise _ended(query_id, state, status)
            remaining = deadline - self.clock()
            if remaining <= 0:
                self._stop(query_id)
                raise AthenaTimeoutError(
                    f"Athena query {query_id} still {state} after {deadline_seconds:g} s; stopped it",
                    query_id=query_id,
                    state=str(state),
                    deadline_seconds=deadline_seconds,
                )
            self.sleep(min(delay, remaining))
            delay = min(delay * 2, MAX_DELAY_SECONDS)

    def _stop(self, query_id: str) -> None:
        try:
            self.client.stop_query_execution(QueryExecutionId=query_id)
        except Exception:  # the timeout is what the caller must see; a failed stop is only logged
            logger.exception("stopping Athena query %s failed", query_id)

    def pages(
        self, query_id: str, execution: dict[str, Any] | None = None
    ) -> Iterator[tuple[list[ColumnInfo], list[dict[str, Any]]]]:
        """(columns, typed rows) per page of a finished query; one page in memory at a time."""
        # For a SELECT (StatementType DML) the first row of the first page holds the column names.
        skip_header = (execution or {}).get("StatementType", "DML") == "DML"
        token: str | None = None
        first = True
        while True:
            request: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": PAGE_SIZE}
            if token:
                request["NextToken"] = token
            page = self.client.get_query_results(**request)
            columns = _columns(page)
            raw_rows = page["ResultSet"].get("Rows", [])
            if first and skip_header:
                raw_rows = raw_rows[1:]
            first = False
            yield columns, [_typed_row(query_id, raw, columns) for raw in raw_rows]
            token = page.get("NextToken")
            if not token:
                return

    def rows(self, query_id: str, execution: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every row of a finished query, typed."""
        for _, rows in self.pages(query_id, execution):
            yield from rows

    def run(
        self,
        sql: str,
        *,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> QueryResult:
        """Start, wait and collect: the whole result of ``sql`` (at most ``max_rows`` rows)."""
        query_id = self.start(sql)
        execution = self.wait(query_id, deadline_seconds=deadline_seconds)
        statistics = execution.get("Statistics", {})
        result = QueryResult(
            query_id,
            [],
            bytes_scanned=int(statistics.get("DataScannedInBytes", 0)),
            execution_ms=int(statistics.get("EngineExecutionTimeInMillis", 0)),
        )
        for columns, rows in self.pages(query_id, execution):
            result.columns = result.columns or columns
            if len(result.rows) + len(rows) > max_rows:
                raise AthenaResultTooLargeError(
                    f"Athena query {query_id} returned more than {max_rows} rows",
                    query_id=query_id,
                    max_rows=max_rows,
                )
            result.rows.extend(rows)
        return result


def _ended(query_id: str, state: str, status: dict[str, Any]) -> AthenaError:
    reason = status.get("StateChangeReason") or f"no reason given (state {state})"
    athena_error = status.get("AthenaError", {})
    details = {
        "query_id": query_id,
        "state": state,
        **({"error_type": athena_error["ErrorType"]} if "ErrorType" in athena_error else {}),
        **({"error_category": athena_error["ErrorCategory"]} if "ErrorCategory" in athena_error else {}),
    }
    if state == "CANCELLED":
        return AthenaQueryCancelledError(f"Athena query {query_id} was cancelled: {reason}", **details)
    return AthenaQueryFailedError(f"Athena query {query_id} failed: {reason}", **details)


def _columns(page: dict[str, Any]) -> list[ColumnInfo]:
    infos = page["ResultSet"].get("ResultSetMetadata", {}).get("ColumnInfo", [])
    return [ColumnInfo(info["Name"], info["Type"].lower()) for info in infos]


def _typed_row(query_id: str, raw: dict[str, Any], columns: list[ColumnInfo]) -> dict[str, Any]:
    cells = raw.get("Data", [])
    if len(cells) != len(columns):
        raise AthenaError(
            f"Athena query {query_id}: a row has {len(cells)} values for {len(columns)} columns",
            query_id=query_id,
        )
    return {
        column.name: _convert(column, cell.get("VarCharValue"))
        for column, cell in zip(columns, cells, strict=True)
    }


def _convert(column: ColumnInfo, text: str | None) -> Any:
    if text is None:
        return None
    kind = column.type.split("(", 1)[0]
    try:
        if kind in _INTEGERS:
            return int(text)
        if kind in _FLOATS:
            return float(text)
        if kind == "decimal":
            return Decimal(text)
        if kind == "boolean":
            return {"true": True, "false": False}[text]
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "timestamp":
            return datetime.fromisoformat(text)
    except (ValueError, KeyError, ArithmeticError) as error:
        raise AthenaError(
            f"Athena column {column.name} ({column.type}): cannot read {text!r}", column=column.name
        ) from error
    return text
