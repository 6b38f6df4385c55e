"""Stream producer: find changed files by a manifest merge-diff and put change events on Kinesis.

Invoked by EventBridge Scheduler (input ``{}``), typically every minute. It lists the access point
shard by shard (top-level prefixes), diffs each listing against that shard's previous manifest in
``MANIFEST_BUCKET``, puts one versioned change event per created, modified or deleted file, and
records the new manifest only after the stream accepted the shard's events. It never reads the
state table: change detection costs no DynamoDB read at all. See ``retail-catalog/STREAMING.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any

from shared import config
from shared.changes import ManifestStore, S3Lister, run_cycle
from shared.clients import aws_client
from shared.config import env
from shared.errors import ConfigError, PatternError
from shared.observability import stats, trace_lambda_handler
from shared.s3ap import S3AccessPoint
from shared.streaming import STRATEGIES, StreamingConfig, StreamingHelper

logger = logging.getLogger(__name__)


def _suffixes(raw: str) -> tuple[str, ...]:
    return tuple(s.strip().lower() for s in raw.split(",") if s.strip())


@dataclasses.dataclass(frozen=True)
class ProducerConfig:
    """The producer's environment (names fixed by the template)."""

    access_point: str = env("ACCESS_POINT")
    stream_name: str = env("STREAM_NAME")
    manifest_bucket: str = env("MANIFEST_BUCKET")
    manifest_prefix: str = env("MANIFEST_PREFIX", "manifests/")
    partition_strategy: str = env("PARTITION_STRATEGY", "prefix-hash")
    partition_buckets: int = env("PARTITION_BUCKETS", 8)
    quiet_polls: int = env("QUIET_POLLS", 1)
    suffixes: tuple[str, ...] = env("SUFFIXES", (".jpg", ".jpeg", ".png", ".webp"), parse=_suffixes)
    shard_concurrency: int = env("SHARD_CONCURRENCY", 4)

    def streaming(self) -> StreamingConfig:
        if self.partition_strategy not in STRATEGIES:
            raise ConfigError(
                f"PARTITION_STRATEGY={self.partition_strategy!r} is not one of {', '.join(STRATEGIES)}",
                variable="PARTITION_STRATEGY",
            )
        if self.quiet_polls < 0 or self.partition_buckets < 1 or self.shard_concurrency < 1:
            raise ConfigError("QUIET_POLLS must be >= 0, PARTITION_BUCKETS and SHARD_CONCURRENCY >= 1")
        return StreamingConfig(
            stream_name=self.stream_name,
            partition_strategy=self.partition_strategy,
            partition_buckets=self.partition_buckets,
        )


class ShardsFailedError(PatternError):
    """Some prefix shards could not be listed, diffed or announced in this cycle."""


@functools.cache
def clients() -> tuple[Any, Any]:
    """The S3 and Kinesis clients, created once per cold start."""
    return aws_client("s3"), aws_client("kinesis")


@trace_lambda_handler
def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    cfg = config.load(ProducerConfig)
    s3, kinesis = clients()
    summary = run_cycle(
        S3Lister(S3AccessPoint(cfg.access_point, s3), cfg.suffixes),
        ManifestStore(cfg.manifest_bucket, cfg.manifest_prefix, s3),
        StreamingHelper(cfg.streaming(), kinesis),
        quiet_polls=cfg.quiet_polls,
        max_workers=cfg.shard_concurrency,
    )
    stats().processed(summary.emitted)
    logger.info("producer run %s: %s", summary.run_id, summary.to_dict())
    if summary.failed_shards:
        # The healthy shards are done and their manifests written; the failed ones kept their old
        # manifests, so a retry re-lists them and loses nothing. Raising lets Lambda's error
        # metrics and the scheduler's retry policy see the failure.
        raise ShardsFailedError(
            f"{len(summary.failed_shards)} shard(s) failed and keep their manifests",
            failed_shards=summary.failed_shards,
            summary=summary.to_dict(),
        )
    return summary.to_dict()
