"""Athena on the embedded cloud: the real SQL, run by DuckDB over the dataset files in moto's S3.

moto's Athena accepts a query and answers every one with the same canned, empty result. This
adapter answers ``athena.StartQueryExecution``, ``GetQueryExecution``, ``GetQueryResults`` and
``StopQueryExecution`` itself (botocore ``before-call`` hooks, like :mod:`ai_standins`), so a Lambda
or a test calling Athena through boto3 gets the rows its SQL really selects:

1. the query's database (``QueryExecutionContext.Database``) is read from moto's Glue; every table
   whose SerDe is the OpenX JSON SerDe becomes a DuckDB view ``"<database>"."<table>"`` over the
   objects under its ``Location`` (read out of moto's S3 into an in-memory file system), with the
   Glue columns as typed ``read_json`` columns and the partition keys read from the Hive-style
   ``key=value/`` folders (DuckDB prunes files on them, as Athena's partition projection does);
2. the SQL runs at once (a query is SUCCEEDED or FAILED by the time StartQueryExecution returns;
   a DuckDB error becomes FAILED with the error as ``StateChangeReason``);
3. ``Statistics.DataScannedInBytes`` is the size of the objects DuckDB actually opened, which is
   what Athena bills for gzip JSON (whole, unsplittable files), so partition pruning shows;
4. the result is written as CSV to ``<OutputLocation><QueryExecutionId>.csv`` and served by
   GetQueryResults in Athena's shape: strings only, the header as the first row of the first page
   of a SELECT, pages of ``MaxResults`` (at most 1,000) linked by ``NextToken``.

Trino (Athena engine 3) and DuckDB differ; only what the project's queries need is translated,
each with a test in ``tests/scripts/localcloud/test_athena_localcloud.py``:

* integer division: ``7 / 2`` is 3 in Trino (truncated toward zero), 3.5 in DuckDB. DuckDB's
  ``integer_division`` setting makes ``/`` on integers truncate like Trino.
* ``date_trunc(unit, x)``: Trino keeps the type of ``x`` (a date stays a date), DuckDB returns a
  timestamp for a date. A macro casts the result back to the argument's type.
* ``approx_percentile(x, p)``: not in DuckDB; mapped to ``approx_quantile`` (both are approximate
  sketches; on small inputs both return an element of the input near the exact rank).
* ``approx_distinct(x)`` -> ``approx_count_distinct``; ``regexp_like(s, p)`` -> ``regexp_matches``.
* ``concat(a, b, ...)``: Trino returns NULL when any argument is NULL, DuckDB skips NULLs. A query
  using ``concat(`` is refused (FAILED, saying to use ``||``, whose NULL semantics agree).
* ``CAST`` of a bad string fails the query in both engines; ``TRY_CAST`` and ``try(...)`` give NULL
  in both (no translation, tested).

Differences that remain: queries never show QUEUED/RUNNING; ``ListQueryExecutions`` and
``BatchGetQueryExecution`` still answer from moto's own, canned state; doubles are printed as
Python does (``1e+16``) where Athena prints Java's ``1.0E16`` (both parse as the same number); only
JSON SerDe tables are visible; no 10 MB minimum in the bytes scanned.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from botocore.awsrequest import AWSResponse

from scripts.localcloud import hooks
from scripts.localcloud.ai_standins import _stash_params

logger = logging.getLogger(__name__)

JSON_SERDES = ("org.openx.data.jsonserde.JsonSerDe", "org.apache.hive.hcatalog.data.JsonSerDe")
MAX_PAGE = 1000
PROTOCOL = "localathena"
# Glue (Hive) column type -> DuckDB type of the read_json column.
_DUCK_TYPES = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
# DuckDB result type -> Athena's ColumnInfo.Type.
_ATHENA_TYPES = {
    "VARCHAR": "varchar",
    "BIGINT": "bigint",
    "HUGEINT": "bigint",  # DuckDB widens sum(bigint) to 128 bits; Trino keeps bigint
    "UBIGINT": "bigint",
    "INTEGER": "integer",
    "SMALLINT": "smallint",
    "TINYINT": "tinyint",
    "DOUBLE": "double",
    "FLOAT": "real",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
}
_MACROS = (
    "CREATE MACRO date_trunc(unit, x) AS cast_to_type(system.main.date_trunc(unit, x), x)",
    "CREATE MACRO approx_percentile(x, p) AS approx_quantile(x, p)",
    "CREATE MACRO approx_distinct(x) AS approx_count_distinct(x)",
    "CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)",
)
_CONCAT = re.compile(r"\bconcat\s*\(", re.IGNORECASE)


class QueryRefusedError(Exception):
    """A query uses a construct the local engine would answer differently from Athena."""


@dataclass
class EngineResult:
    """Columns as (name, Athena type), rows as Athena's strings (None for NULL), bytes scanned."""

    columns: list[tuple[str, str]]
    rows: list[list[str | None]]
    bytes_scanned: int
    files_read: int


def _memory_fs_class() -> type[Any]:
    from fsspec.implementations.memory import MemoryFileSystem

    class DatasetFiles(MemoryFileSystem):  # type: ignore[misc]
        """The dataset objects of one query; records which files DuckDB opens."""

        protocol = PROTOCOL
        store: ClassVar[dict[str, Any]] = {}
        pseudo_dirs: ClassVar[list[str]] = [""]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.opened: set[str] = set()

        @classmethod
        def _strip_protocol(cls, path: Any) -> Any:
            return super()._strip_protocol(str(path).removeprefix(f"{PROTOCOL}://"))

        def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            self.opened.add(self._strip_protocol(path))
            return super()._open(path, mode, **kwargs)

    return DatasetFiles


class DuckAthena:
    """Runs one Athena query with DuckDB over the Glue tables of a database (see the module doc)."""

    def __init__(self, client: Callable[[str], Any]) -> None:
        self.client = client

    def _tables(self, database: str) -> list[dict[str, Any]]:
        tables: list[dict[str, Any]] = []
        for page in self.client("glue").get_paginator("get_tables").paginate(DatabaseName=database):
            tables.extend(page["TableList"])
        return tables

    def _objects(self, location: str) -> list[tuple[str, bytes]]:
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        s3 = self.client("s3")
        found: list[tuple[str, bytes]] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) :].lstrip("/")
                # Athena skips objects whose name starts with "_" or "." (markers, temporary files).
                if relative and not relative.rsplit("/", 1)[-1].startswith(("_", ".")):
                    found.append((relative, s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()))
        return found

    def execute(self, sql: str, database: str) -> EngineResult:
        import duckdb

        if _CONCAT.search(sql):
            raise QueryRefusedError(
                "concat() skips NULLs in DuckDB but returns NULL in Athena; use || (same NULL semantics "
                "in both)"
            )
        files = _memory_fs_class()(skip_instance_cache=True)
        root = f"/{uuid.uuid4().hex}"
        sizes: dict[str, int] = {}
        connection = duckdb.connect(":memory:")
        try:
            connection.register_filesystem(files)
            connection.execute("SET integer_division = true")
            connection.execute("SET TimeZone = 'UTC'")
            for macro in _MACROS:
                connection.execute(macro)
            connection.execute(f"CREATE SCHEMA {_ident(database)}")
            for table in self._tables(database):
                view = self._view(table, database, files, root, sizes)
                if view:
                    connection.execute(view)
            connection.execute(f"USE {_ident(database)}")
            files.opened.clear()  # binding a view may open files; count what the query reads
            cursor = connection.execute(sql)
            description = cursor.description or []
            columns = [(str(d[0]), _athena_type(str(d[1]))) for d in description]
            rows = [[_text(value) for value in row] for row in cursor.fetchall()]
        finally:
            connection.close()
            for path in list(files.store):
                if path.startswith(root):
                    files.store.pop(path, None)
            files.pseudo_dirs[:] = [d for d in files.pseudo_dirs if not d.startswith(root)]
        opened = [path for path in files.opened if path in sizes]
        return EngineResult(columns, rows, sum(sizes[path] for path in opened), len(opened))

    def _view(
        self, table: dict[str, Any], database: str, files: Any, root: str, sizes: dict[str, int]
    ) -> str | None:
        storage = table.get("StorageDescriptor", {})
        serde = storage.get("SerdeInfo", {}).get("SerializationLibrary", "")
        if serde not in JSON_SERDES:
            logger.info("table %s.%s: SerDe %r is not served locally", database, table["Name"], serde)
            return None
        name = f"{_ident(database)}.{_ident(table['Name'])}"
        columns = {c["Name"]: _duck_type(c["Type"]) for c in storage.get("Columns", [])}
        partitions = {p["Name"]: _duck_type(p["Type"]) for p in table.get("PartitionKeys", [])}
        paths: list[str] = []
        for relative, body in self._objects(storage.get("Location", "")):
            path = f"{root}/{table['Name']}/{relative}"
            files.pipe_file(path, body)
            sizes[path] = len(body)
            paths.append(f"{PROTOCOL}://{path}")
        if not paths:
            typed = ", ".join(
                f"CAST(NULL AS {t}) AS {_ident(c)}" for c, t in {**columns, **partitions}.items()
            )
            return f"CREATE VIEW {name} AS SELECT {typed} WHERE false"
        compression = "gzip" if all(p.endswith(".gz") for p in paths) else "auto_detect"
        return (
            f"CREATE VIEW {name} AS SELECT * FROM read_json({_list(paths)}, format = 'newline_delimited', "
            f"columns = {_struct(columns)}, compression = '{compression}', "
            f"hive_partitioning = {str(bool(partitions)).lower()}"
            + (f", hive_types = {_struct(partitions)}" if partitions else "")
            + ", timestampformat = '%Y-%m-%d %H:%M:%S.%f', dateformat = '%Y-%m-%d')"
        )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _list(items: list[str]) -> str:
    return "[" + ", ".join(_literal(item) for item in items) + "]"


def _struct(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in mapping.items()) + "}"


def _duck_type(glue_type: str) -> str:
    lowered = glue_type.lower()
    if lowered.startswith("decimal"):
        return lowered.upper()
    if lowered not in _DUCK_TYPES:
        raise QueryRefusedError(f"Glue column type {glue_type!r} is not served by the local Athena")
    return _DUCK_TYPES[lowered]


def _athena_type(duck_type: str) -> str:
    if duck_type.startswith("DECIMAL"):
        return duck_type.lower()
    return _ATHENA_TYPES.get(duck_type, "varchar")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    return str(value)  # date, Decimal, int, float and str print as Athena's text reads back


# -- the API ---------------------------------------------------------------------------------------


@dataclass
class _Execution:
    query_id: str
    sql: str
    database: str
    workgroup: str
    output: str
    state: str
    submitted: datetime
    completed: datetime
    reason: str = ""
    result: EngineResult | None = None
    elapsed_ms: int = 0


@dataclass
class AthenaStandIn:
    """Registers the Athena hooks on every botocore session created while installed."""

    client: Callable[[str], Any]
    executions: dict[str, _Execution] = field(default_factory=dict)
    _handlers: list[tuple[str, Callable[..., Any]]] = field(default_factory=list)

    OPERATIONS: ClassVar[tuple[str, ...]] = (
        "StartQueryExecution",
        "GetQueryExecution",
        "GetQueryResults",
        "StopQueryExecution",
    )

    def install(self) -> None:
        self._handlers.extend(hooks.hooks_for("athena", self.OPERATIONS, _stash_params, self._make_handler))
        hooks.install(self._handlers)

    def uninstall(self) -> None:
        hooks.uninstall(self._handlers)

    def _make_handler(self, operation: str) -> Callable[..., Any]:
        def before_call(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            params = context.get("localcloud_api_params", {})
            try:
                parsed = getattr(self, f"_{operation}")(params)
                status = 200
            except _InvalidRequestError as error:
                parsed = {"Error": {"Code": "InvalidRequestException", "Message": str(error)}}
                status = 400
            parsed["ResponseMetadata"] = {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())}
            return AWSResponse("https://athena.local", status, {}, None), parsed

        return before_call

    # -- operations --

    def _StartQueryExecution(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        workgroup = params.get("WorkGroup") or "primary"
        # moto answers an unknown workgroup with an empty response rather than an error.
        group = self.client("athena").get_work_group(WorkGroup=workgroup).get("WorkGroup")
        if not group:
            raise _InvalidRequestError(f"WorkGroup {workgroup} is not found.")
        configured = group.get("Configuration", {})
        group_output = configured.get("ResultConfiguration", {}).get("OutputLocation", "")
        output = params.get("ResultConfiguration", {}).get("OutputLocation", "")
        if configured.get("EnforceWorkGroupConfiguration") or not output:
            output = group_output or output
        if not output:
            raise _InvalidRequestError(
                "No output location provided. An output location is required either through the "
                "Workgroup result configuration setting or as an API input."
            )
        database = params.get("QueryExecutionContext", {}).get("Database", "default")
        query_id = str(uuid.uuid4())
        submitted = datetime.now(UTC)
        started = time.perf_counter()
        execution = _Execution(
            query_id, params["QueryString"], database, workgroup, output, "SUCCEEDED", submitted, submitted
        )
        import duckdb
        from botocore.exceptions import ClientError

        try:
            execution.result = DuckAthena(self.client).execute(execution.sql, database)
            self._write_csv(execution)
        except (
            duckdb.Error,
            QueryRefusedError,
            ClientError,
        ) as error:  # reported through the state, as on Athena
            execution.state = "FAILED"
            execution.reason = f"{type(error).__name__}: {error}"
            logger.info("local Athena query %s failed: %s", query_id, execution.reason)
        execution.elapsed_ms = int((time.perf_counter() - started) * 1000)
        execution.completed = datetime.now(UTC)
        self.executions[query_id] = execution
        return {"QueryExecutionId": query_id}

    def _write_csv(self, execution: _Execution) -> None:
        assert execution.result is not None
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow([name for name, _ in execution.result.columns])
        writer.writerows(["" if v is None else v for v in row] for row in execution.result.rows)
        bucket, _, prefix = execution.output.removeprefix("s3://").partition("/")
        key = f"{prefix.rstrip('/')}/{execution.query_id}.csv".lstrip("/")
        self.client("s3").put_object(Bucket=bucket, Key=key, Body=buffer.getvalue().encode())

    def _execution(self, params: dict[str, Any]) -> _Execution:
        query_id = params.get("QueryExecutionId", "")
        if query_id not in self.executions:
            raise _InvalidRequestError(f"QueryExecution {query_id} was not found")
        return self.executions[query_id]

    def _GetQueryExecution(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        execution = self._execution(params)
        status: dict[str, Any] = {
            "State": execution.state,
            "SubmissionDateTime": execution.submitted,
            "CompletionDateTime": execution.completed,
        }
        if execution.reason:
            status["StateChangeReason"] = execution.reason
            status["AthenaError"] = {"ErrorCategory": 2, "ErrorType": 1000, "Retryable": False}
        scanned = execution.result.bytes_scanned if execution.result else 0
        return {
            "QueryExecution": {
                "QueryExecutionId": execution.query_id,
                "Query": execution.sql,
                "StatementType": "DML",
                "ResultConfiguration": {
                    "OutputLocation": f"{execution.output.rstrip('/')}/{execution.query_id}.csv"
                },
                "QueryExecutionContext": {"Database": execution.database},
                "Status": status,
                "Statistics": {
                    "EngineExecutionTimeInMillis": execution.elapsed_ms,
                    "TotalExecutionTimeInMillis": execution.elapsed_ms,
                    "DataScannedInBytes": scanned,
                },
                "WorkGroup": execution.workgroup,
            }
        }

    def _GetQueryResults(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        execution = self._execution(params)
        if execution.state != "SUCCEEDED" or execution.result is None:
            raise _InvalidRequestError(f"Query has not yet finished. Current state: {execution.state}")
        result = execution.result
        size = int(params.get("MaxResults", MAX_PAGE))
        if not 1 <= size <= MAX_PAGE:
            raise _InvalidRequestError(f"MaxResults must be between 1 and {MAX_PAGE}, got {size}")
        header: list[str | None] = [name for name, _ in result.columns]
        everything = [header, *result.rows]
        start = int(params.get("NextToken") or 0)
        page: dict[str, Any] = {
            "UpdateCount": 0,
            "ResultSet": {
                "Rows": [
                    {"Data": [{} if v is None else {"VarCharValue": v} for v in row]}
                    for row in everything[start : start + size]
                ],
                "ResultSetMetadata": {
                    "ColumnInfo": [
                        {
                            "CatalogName": "hive",
                            "SchemaName": "",
                            "TableName": "",
                            "Name": name,
                            "Label": name,
                            "Type": kind,
                            "Precision": 0,
                            "Scale": 0,
                            "Nullable": "UNKNOWN",
                            "CaseSensitive": kind == "varchar",
                        }
                        for name, kind in result.columns
                    ]
                },
            },
        }
        if start + size < len(everything):
            page["NextToken"] = str(start + size)
        return page

    def _StopQueryExecution(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        self._execution(params)  # every local query has finished; stopping one changes nothing
        return {}


class _InvalidRequestError(Exception):
    """Answered as Athena's InvalidRequestException."""
