"""Index: the run's results into the SQLite FTS5 search index, the citation graph and the papers dataset.

Reads only the run's chunk list (from Discover) and the result documents of its files
(``education_research.indexing``). The FTS5 check runs when this module is imported.
"""

from __future__ import annotations

import logging
from typing import Any

from education_research.contract import INDEX
from education_research.indexing import IndexConfig, index_run

# Imported at cold start on purpose: it checks that this runtime's sqlite3 has FTS5 and fails the
# function's initialisation with Fts5UnavailableError (and the SQLite version) when it has not.
from education_research.search_index import SQLITE_VERSION  # noqa: F401
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(IndexConfig)
    INDEX.check_input(event)
    append_log_keys(run_id=str(event["run_id"]))
    s3 = aws_client("s3")
    return index_run(
        S3AccessPoint(cfg.output_bucket, s3),
        run_id=str(event["run_id"]),
        chunks_key=str(event["chunks_key"]),
        cfg=cfg,
        writer_client=s3,
    )
