"""Discovery: the polling skeleton's discovery function with UC9's file kinds.

It answers the skeleton's three actions (:func:`shared.polling.steps.handle`): ``discover`` (the
first state of a run: it stops when another run is in flight, else writes the manifest of the
versions with no result yet, within the ``MAX_FILES_PER_RUN`` budget), ``load_chunk`` (the first
state of each Distributed Map child) and ``record_failure`` (the Catch target of the per-file
branch). A loaded chunk's files also carry their ``kind``, which the per-file Choice routes on.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from autonomous_driving.results import SUFFIXES, kind_of
from shared import config
from shared.config import env, parse_suffixes
from shared.observability import trace_lambda_handler
from shared.polling import settings as polling
from shared.polling.steps import handle_event

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DiscoveryConfig(polling.PollingConfig):
    """The skeleton's discovery configuration with UC9's suffixes and budget (the template's default)."""

    suffixes: tuple[str, ...] = env("SUFFIXES", SUFFIXES, parse=parse_suffixes)
    max_files_per_run: int = env("MAX_FILES_PER_RUN", 50, parse=polling.parse_budget)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(DiscoveryConfig)
    result = handle_event(event, cfg)
    if event.get("action") == "load_chunk":
        result["files"] = [{**file, "kind": kind_of(str(file["key"]))} for file in result["files"]]
    return result
