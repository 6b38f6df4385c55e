"""CollectAcl: one file version's security descriptor from ONTAP REST, written as its result document.

A per-file ONTAP error is a FAILED result for that file and the run goes on; a cluster-wide one
(unreachable, credentials refused) leaves the file for the next run (``legal_compliance.collect``).
The ONTAP client and the volume lookup are made once per cold start.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from legal_compliance.collect import CollectConfig, collect_file
from legal_compliance.contract import COLLECT_ACL
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.ontap import OntapClient, OntapConfig
from shared.ontap.models import Volume
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@functools.cache
def ontap() -> OntapClient:
    return OntapClient.from_config(config.load(OntapConfig), aws_client("secretsmanager"))


@functools.cache
def volume() -> Volume:
    cfg = config.load(CollectConfig)
    return ontap().volume(cfg.svm_name, cfg.volume_name)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(CollectConfig)
    COLLECT_ACL.check_input(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=str(event["key"]))
    return collect_file(
        ontap(),
        volume,
        S3AccessPoint(cfg.output_bucket, aws_client("s3")),
        event,
        run_id=str(event["run_id"]),
        source=cfg.access_point,
    )
