"""Inspect: one SEG-Y survey or LAS well log of the run, read through ranged GETs, and its result document.

Only the headers and a sample of traces of a survey are fetched (the ``BytesRead`` metric); an
unreadable file is a FAILED result naming what is wrong and where (``energy_seismic.inspect``).
Access and storage faults raise, and the per-file Catch records them.
"""

from __future__ import annotations

import logging
from typing import Any

from energy_seismic.contract import INSPECT
from energy_seismic.files import SourceFile
from energy_seismic.inspect import InspectConfig, Opened, process_file
from shared import config
from shared.clients import aws_client
from shared.formats.ranged import RangedReader
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(InspectConfig)
    INSPECT.check_input(event)
    file = SourceFile.from_event(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=file.key)
    s3 = aws_client("s3")
    source = S3AccessPoint(cfg.access_point, s3)

    def opener(item: SourceFile) -> Opened:
        reader = RangedReader(
            source, item.key, etag=item.etag, size=item.size, block_size=cfg.read_block_bytes
        )
        return Opened(reader, lambda: reader.stats.as_dict())

    return process_file(
        opener,
        S3AccessPoint(cfg.output_bucket, s3),
        file,
        run_id=str(event["run_id"]),
        source=source.target,
        cfg=cfg,
    )
