"""The Athena runner: waiting with a deadline and backoff, paging, typed rows and typed errors."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.analytics.athena import (
    MAX_DELAY_SECONDS,
    AthenaError,
    AthenaQueryCancelledError,
    AthenaQueryFailedError,
    AthenaResultTooLargeError,
    AthenaRunner,
    AthenaSettings,
    AthenaTimeoutError,
)
from shared.errors import ConfigError

SETTINGS = AthenaSettings(workgroup="wg", database="db", output_location="s3://results/q/")
COLUMNS = [("owner", "varchar"), ("n", "bigint"), ("share", "double"), ("ok", "boolean"), ("day", "date")]


def cell(value: str | None) -> dict[str, str]:
    return {} if value is None else {"VarCharValue": value}


class FakeAthena:
    """Answers with scripted states and pages; records every request."""

    def __init__(self, states: list[dict[str, Any]], rows: list[list[str | None]], page: int = 2) -> None:
        self.states = states
        self.rows = rows
        self.page = page
        self.started: list[dict[str, Any]] = []
        self.stopped: list[str] = []
        self.result_requests: list[dict[str, Any]] = []

    def start_query_execution(self, **request: Any) -> dict[str, Any]:
        self.started.append(request)
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:  # noqa: N803
        status = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {
            "QueryExecution": {
                "QueryExecutionId": QueryExecutionId,
                "StatementType": "DML",
                "Status": status,
                "Statistics": {"DataScannedInBytes": 1234, "EngineExecutionTimeInMillis": 5},
            }
        }

    def stop_query_execution(self, QueryExecutionId: str) -> None:  # noqa: N803
        self.stopped.append(QueryExecutionId)

    def get_query_results(self, **request: Any) -> dict[str, Any]:
        self.result_requests.append(request)
        header: list[str | None] = [name for name, _ in COLUMNS]
        everything = [header, *self.rows]
        start = int(request.get("NextToken", "0"))
        chunk = everything[start : start + self.page]
        page: dict[str, Any] = {
            "ResultSet": {
                "Rows": [{"Data": [cell(v) for v in row]} for row in chunk],
                "ResultSetMetadata": {"ColumnInfo": [{"Name": n, "Type": t} for n, t in COLUMNS]},
            }
        }
        if start + self.page < len(everything):
            page["NextToken"] = str(start + self.page)
        return page


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def runner(fake: FakeAthena, clock: Clock | None = None) -> AthenaRunner:
    clock = clock or Clock()
    return AthenaRunner(SETTINGS, client=fake, clock=clock.time, sleep=clock.sleep)


RUNNING = {"State": "RUNNING"}
SUCCEEDED = {"State": "SUCCEEDED"}
ROWS: list[list[str | None]] = [
    ["alice", "3", "0.5", "true", "2026-03-07"],
    ["bob", "1", None, "false", None],
    ["carol", "9", "1.0E10", "true", "2026-01-01"],
]


def test_a_query_runs_in_the_configured_workgroup_and_pages_into_typed_rows() -> None:
    fake = FakeAthena([{"State": "QUEUED"}, RUNNING, SUCCEEDED], ROWS)
    result = runner(fake).run("SELECT 1")
    assert fake.started == [
        {
            "QueryString": "SELECT 1",
            "WorkGroup": "wg",
            "QueryExecutionContext": {"Database": "db"},
            "ResultConfiguration": {"OutputLocation": "s3://results/q/"},
        }
    ]
    assert result.rows == [
        {"owner": "alice", "n": 3, "share": 0.5, "ok": True, "day": date(2026, 3, 7)},
        {"owner": "bob", "n": 1, "share": None, "ok": False, "day": None},
        {"owner": "carol", "n": 9, "share": 1e10, "ok": True, "day": date(2026, 1, 1)},
    ]
    assert [r.get("NextToken") for r in fake.result_requests] == [None, "2"]
    assert result.bytes_scanned == 1234
    assert [c.name for c in result.columns] == ["owner", "n", "share", "ok", "day"]


def test_waiting_backs_off_exponentially_up_to_a_cap() -> None:
    clock = Clock()
    fake = FakeAthena([RUNNING] * 9 + [SUCCEEDED], [])
    runner(fake, clock).wait("q-1", deadline_seconds=1000)
    assert clock.sleeps == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 5.0]
    assert max(clock.sleeps) == MAX_DELAY_SECONDS


def test_a_query_past_its_deadline_is_stopped_and_raises_a_typed_timeout() -> None:
    clock = Clock()
    fake = FakeAthena([RUNNING], [])
    with pytest.raises(AthenaTimeoutError, match="still RUNNING after 7 s") as caught:
        runner(fake, clock).wait("q-1", deadline_seconds=7)
    assert fake.stopped == ["q-1"]
    assert clock.now == pytest.approx(7)
    assert caught.value.details["query_id"] == "q-1"


def test_a_failed_query_raises_with_athenas_reason() -> None:
    status = {
        "State": "FAILED",
        "StateChangeReason": "COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved",
        "AthenaError": {"ErrorCategory": 2, "ErrorType": 1006},
    }
    with pytest.raises(AthenaQueryFailedError, match="Column 'x' cannot be resolved") as caught:
        runner(FakeAthena([status], [])).run("SELECT x")
    assert caught.value.details == {
        "query_id": "q-1",
        "state": "FAILED",
        "error_type": 1006,
        "error_category": 2,
    }


def test_a_cancelled_query_raises_its_own_typed_error() -> None:
    status = {"State": "CANCELLED", "StateChangeReason": "Query exhausted the workgroup's data usage limit"}
    with pytest.raises(AthenaQueryCancelledError, match="data usage limit"):
        runner(FakeAthena([status], [])).run("SELECT 1")


def test_a_result_beyond_max_rows_is_refused() -> None:
    with pytest.raises(AthenaResultTooLargeError, match="more than 2 rows"):
        runner(FakeAthena([SUCCEEDED], ROWS)).run("SELECT 1", max_rows=2)


def test_a_value_that_does_not_read_as_its_column_type_is_a_typed_error() -> None:
    bad: list[list[str | None]] = [["alice", "three", "0.5", "true", None]]
    with pytest.raises(AthenaError, match=r"column n \(bigint\): cannot read 'three'"):
        runner(FakeAthena([SUCCEEDED], bad)).run("SELECT 1")


def test_other_types_convert() -> None:
    from shared.analytics.athena import ColumnInfo, _convert

    assert _convert(ColumnInfo("t", "timestamp"), "2026-03-07 10:00:00.000") == datetime(2026, 3, 7, 10)
    assert _convert(ColumnInfo("d", "decimal(10,2)"), "1.25") == Decimal("1.25")
    assert _convert(ColumnInfo("a", "array(varchar)"), "[a, b]") == "[a, b]"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATHENA_WORKGROUP", "wg")
    monkeypatch.setenv("GLUE_DATABASE", "db")
    assert AthenaRunner.from_environment().settings == AthenaSettings("wg", "db", "")
    monkeypatch.delenv("GLUE_DATABASE")
    with pytest.raises(ConfigError, match="GLUE_DATABASE"):
        AthenaRunner.from_environment()
