"""Stream producer of logistics-ocr: find changed shipping documents and photos, put change events on Kinesis.

Invoked by EventBridge Scheduler (input ``{}``). The cycle is the shared producer's
(:mod:`shared.streaming.producer`); what it watches (``SOURCE_PREFIX``, ``SUFFIXES``: by suffix,
never by folder) comes from the template. See ``retail-catalog/STREAMING.md``.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.observability import trace_lambda_handler
from shared.streaming import producer

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    return producer.run()
