"""Discovery: the polling skeleton's discovery function with UC7's file kinds.

``discover`` writes the run's manifest of FASTQ, BAM and VCF versions without a result (within
``MAX_FILES_PER_RUN``), ``load_chunk`` reads one chunk for the Distributed Map and adds each file's
``kind``, and ``record_failure`` writes the FAILED result of a per-file step the Catch caught.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from genomics_pipeline.files import SUFFIXES, kind_of
from shared import config
from shared.config import env, parse_suffixes
from shared.observability import trace_lambda_handler
from shared.polling import settings as polling
from shared.polling.steps import handle_event

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DiscoveryConfig(polling.PollingConfig):
    suffixes: tuple[str, ...] = env("SUFFIXES", SUFFIXES, parse=parse_suffixes)
    max_files_per_run: int = env("MAX_FILES_PER_RUN", 200, parse=polling.parse_budget)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(DiscoveryConfig)
    result = handle_event(event, cfg)
    if event.get("action") == "load_chunk":
        result["files"] = [{**file, "kind": kind_of(str(file["key"]))} for file in result["files"]]
    return result
