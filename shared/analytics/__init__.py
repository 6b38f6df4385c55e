"""The shared analytics core: typed datasets on S3, their Glue tables, and Athena queries over them.

* :mod:`shared.analytics.schema`: :class:`RecordSchema` / :class:`Column`, one declaration per
  record type; the source of both the written records and the template's ``AWS::Glue::Table``
  (:func:`glue_table_input`, :func:`glue_table_differences`).
* :mod:`shared.analytics.writer`: :class:`DatasetWriter`, gzip JSON Lines under
  ``<root>/<prefix>/dt=YYYY-MM-DD/`` with bounded memory (multipart uploads).
* :mod:`shared.analytics.athena`: :class:`AthenaRunner`, start / wait with a deadline / page the
  results into typed rows; failures and timeouts are typed errors carrying Athena's reason.

``docs/analytics.md`` shows how a use case puts them together.
"""

from __future__ import annotations

import logging

from shared.analytics.athena import (
    AthenaError,
    AthenaQueryCancelledError,
    AthenaQueryFailedError,
    AthenaResultTooLargeError,
    AthenaRunner,
    AthenaSettings,
    AthenaTimeoutError,
    QueryResult,
)
from shared.analytics.schema import (
    Column,
    InvalidRecordError,
    RecordSchema,
    SchemaError,
    glue_table_differences,
    glue_table_input,
)
from shared.analytics.writer import DatasetWriteError, DatasetWriter, WriteSummary, dataset_location

logger = logging.getLogger(__name__)

__all__ = [
    "AthenaError",
    "AthenaQueryCancelledError",
    "AthenaQueryFailedError",
    "AthenaResultTooLargeError",
    "AthenaRunner",
    "AthenaSettings",
    "AthenaTimeoutError",
    "Column",
    "DatasetWriteError",
    "DatasetWriter",
    "InvalidRecordError",
    "QueryResult",
    "RecordSchema",
    "SchemaError",
    "WriteSummary",
    "dataset_location",
    "glue_table_differences",
    "glue_table_input",
]
