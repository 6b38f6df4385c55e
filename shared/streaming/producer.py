"""The stream producer of any use case: one change-detection cycle, configured from the environment.

EventBridge Scheduler invokes a use case's ``stream_producer`` function (input ``{}``), typically
every minute; that handler only calls :func:`run`. A cycle lists the access point shard by shard
(the top-level prefixes below ``SOURCE_PREFIX``), diffs each listing against that shard's previous
manifest, puts one versioned change event per created, modified or deleted file, and records the
new manifest only after the stream accepted the shard's events (:mod:`shared.streaming.changes`).
It never reads the state table.

What a use case watches is configuration, not code: ``SOURCE_PREFIX`` and ``SUFFIXES`` come from
its template, the same variables its polling discovery reads.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any
from urllib.parse import quote

from shared import config
from shared.clients import aws_client
from shared.config import env, parse_suffixes
from shared.errors import ConfigError, PatternError
from shared.observability import stats
from shared.s3ap import S3AccessPoint
from shared.streaming.changes import CycleSummary, ManifestStore, S3Lister, run_cycle
from shared.streaming.kinesis import STRATEGIES, StreamingConfig, StreamingHelper

logger = logging.getLogger(__name__)


def parse_prefix(raw: str) -> str:
    """A listing prefix is a folder: ``"scans"`` and ``"scans/"`` both mean ``"scans/"``."""
    value = raw.strip().lstrip("/")
    return value if not value or value.endswith("/") else value + "/"


@dataclasses.dataclass(frozen=True)
class ProducerConfig:
    """The producer's environment (names fixed by the use case's template)."""

    access_point: str = env("ACCESS_POINT")
    stream_name: str = env("STREAM_NAME")
    manifest_bucket: str = env("MANIFEST_BUCKET")
    # The listing filter: required, so no use case silently watches another's file types.
    suffixes: tuple[str, ...] = env("SUFFIXES", parse=parse_suffixes)
    source_prefix: str = env("SOURCE_PREFIX", "", parse=parse_prefix)
    manifest_prefix: str = env("MANIFEST_PREFIX", "manifests/")
    partition_strategy: str = env("PARTITION_STRATEGY", "prefix-hash")
    partition_buckets: int = env("PARTITION_BUCKETS", 8)
    quiet_polls: int = env("QUIET_POLLS", 1)
    shard_concurrency: int = env("SHARD_CONCURRENCY", 4)

    def streaming(self) -> StreamingConfig:
        """The Kinesis side of the configuration, with each bad value named."""
        if self.partition_strategy not in STRATEGIES:
            raise ConfigError(
                f"PARTITION_STRATEGY={self.partition_strategy!r} is not one of {', '.join(STRATEGIES)}",
                variable="PARTITION_STRATEGY",
            )
        for variable, value, least in (
            ("QUIET_POLLS", self.quiet_polls, 0),
            ("PARTITION_BUCKETS", self.partition_buckets, 1),
            ("SHARD_CONCURRENCY", self.shard_concurrency, 1),
        ):
            if value < least:
                raise ConfigError(f"{variable}={value} must be at least {least}", variable=variable)
        return StreamingConfig(
            stream_name=self.stream_name,
            partition_strategy=self.partition_strategy,
            partition_buckets=self.partition_buckets,
        )

    def manifest_location(self) -> str:
        """Where this listing scope keeps its manifests: one set per ``SOURCE_PREFIX``.

        Shards are the folders one level below the source prefix, so another prefix shards the
        same keys differently. Sharing one manifest set would put a key in two shards at once
        and announce it deleted and created in the same cycle; a set of its own per prefix makes
        a changed prefix start afresh (every watched file announced once more as created, which
        the consumer refuses as a duplicate where that version is already completed).
        """
        prefix = self.manifest_prefix if self.manifest_prefix.endswith("/") else self.manifest_prefix + "/"
        return prefix if not self.source_prefix else f"{prefix}scoped/{quote(self.source_prefix, safe='')}/"


class ShardsFailedError(PatternError):
    """Some prefix shards could not be listed, diffed or announced in this cycle."""


@functools.cache
def _clients() -> tuple[Any, Any]:
    """The S3 and Kinesis clients, created once per cold start."""
    return aws_client("s3"), aws_client("kinesis")


def run_cycle_for(cfg: ProducerConfig, s3: Any, kinesis: Any) -> CycleSummary:
    """One cycle with explicit clients (the handler's and the tests' entry point)."""
    helper = StreamingHelper(cfg.streaming(), kinesis)
    return run_cycle(
        S3Lister(S3AccessPoint(cfg.access_point, s3), cfg.suffixes, prefix=cfg.source_prefix),
        ManifestStore(cfg.manifest_bucket, cfg.manifest_location(), s3),
        helper,
        quiet_polls=cfg.quiet_polls,
        max_workers=cfg.shard_concurrency,
    )


def run() -> dict[str, Any]:
    """One producer cycle from the environment; the run summary, or :class:`ShardsFailedError`.

    Call it from inside the use case's traced handler: the emitted events count as FilesProcessed.
    """
    cfg = config.load(ProducerConfig)
    summary = run_cycle_for(cfg, *_clients())
    stats().processed(summary.emitted)
    logger.info("producer run %s: %s", summary.run_id, summary.to_dict())
    if summary.failed_shards:
        # The healthy shards are done and their manifests written; the failed ones kept their old
        # manifests, so the next scheduled cycle re-lists them and loses nothing. Raising lets
        # Lambda's error metrics and the on-failure destination see the failure.
        raise ShardsFailedError(
            f"{len(summary.failed_shards)} shard(s) failed and keep their manifests",
            failed_shards=summary.failed_shards,
            summary=summary.to_dict(),
        )
    return summary.to_dict()
