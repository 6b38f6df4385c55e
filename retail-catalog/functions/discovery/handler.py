"""Discovery: the polling skeleton's discovery function with the retail configuration.

It answers the three actions of :func:`shared.polling.steps.handle`: ``discover`` (the first
state of a run, which stops when another run is in flight), ``load_chunk`` (the first state of each
Distributed Map child) and ``record_failure`` (the Catch target of the per-file branch).
"""

from __future__ import annotations

import logging
from typing import Any

from retail_catalog.settings import DiscoveryConfig
from shared import config
from shared.observability import trace_lambda_handler
from shared.polling.steps import handle_event

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(DiscoveryConfig)
    return handle_event(event, cfg)
