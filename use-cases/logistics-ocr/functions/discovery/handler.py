"""Discovery: the polling skeleton's discovery with UC12's suffixes (chosen by suffix, never by folder).

It answers the skeleton's three actions (:func:`shared.polling.steps.handle`): ``discover``,
``load_chunk`` and ``record_failure`` (the Catch target of the per-file branch).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from logistics_ocr.process import SUFFIXES
from shared import config
from shared.config import env, parse_suffixes
from shared.observability import trace_lambda_handler
from shared.polling import settings as polling
from shared.polling.steps import handle_event

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DiscoveryConfig(polling.PollingConfig):
    suffixes: tuple[str, ...] = env("SUFFIXES", SUFFIXES, parse=parse_suffixes)
    max_files_per_run: int = env("MAX_FILES_PER_RUN", 100, parse=polling.parse_budget)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(DiscoveryConfig)
    return handle_event(event, cfg)
