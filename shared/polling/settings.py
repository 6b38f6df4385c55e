"""Environment configuration of a polling discovery function (read once per cold start).

A use case subclasses :class:`PollingConfig` to give its own defaults (the file suffixes, above
all); the skeleton's defaults live here once.
"""

from __future__ import annotations

import dataclasses
import logging

from shared.config import CommonConfig, env, parse_suffixes
from shared.polling.contract import DEFAULT_CHUNK_SIZE

logger = logging.getLogger(__name__)


def parse_budget(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("0 (no budget) or a positive number of files")
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class PollingConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    source_prefix: str = env("SOURCE_PREFIX", "")
    # Empty: every key under the prefix.
    suffixes: tuple[str, ...] = env("SUFFIXES", (), parse=parse_suffixes)
    chunk_size: int = env("CHUNK_SIZE", DEFAULT_CHUNK_SIZE)
    # Files one run may take (0: all); the rest wait for the next run.
    max_files_per_run: int = env("MAX_FILES_PER_RUN", 0, parse=parse_budget)
    # Set only when streaming is on: the stream's per-file state table.
    state_table: str = env("STATE_TABLE", "")
