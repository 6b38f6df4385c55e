"""Discovery: list the access point once and write this run's video and point-cloud manifests.

The Step Functions payload is limited to 256 KiB, which a file list outgrows at a few thousand
files, so the lists go to S3 (``runs/<run-id>/manifest/<kind>.json``) and only counts and the
manifest keys travel in the state. Each run takes at most ``MAX_FILES_PER_RUN`` files of each kind
(in listing order); the rest are counted, and ``truncated`` says that the cap cut the list.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from autonomous_driving.transformjob import RunLayout, put_json, run_id_for
from shared import config
from shared.config import CommonConfig, env
from shared.formats.pointcloud import FORMATS
from shared.observability import append_log_keys, stats, trace_lambda_handler, xray_subsegment
from shared.s3ap import ObjectInfo, S3AccessPoint

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov")
POINTCLOUD_SUFFIXES = tuple(sorted(FORMATS))
VIDEO = "video"
POINTCLOUDS = "pointclouds"


@dataclasses.dataclass(frozen=True, kw_only=True)
class DiscoveryConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    source_prefix: str = env("SOURCE_PREFIX", "")
    max_files_per_run: int = env("MAX_FILES_PER_RUN", 50)


def kind_of(key: str) -> str | None:
    """``video``, ``pointclouds`` or None, from the key's suffix (case-insensitive)."""
    lower = key.lower()
    if lower.endswith(VIDEO_SUFFIXES):
        return VIDEO
    if lower.endswith(POINTCLOUD_SUFFIXES):
        return POINTCLOUDS
    return None


def _entry(info: ObjectInfo) -> dict[str, Any]:
    return {
        "key": info.key,
        "size": info.size,
        "etag": info.etag,
        "last_modified": info.last_modified.isoformat(),
    }


def discover(source: S3AccessPoint, prefix: str, cap: int) -> dict[str, dict[str, Any]]:
    """Walk the listing once; keep the first ``cap`` files of each kind and count every one."""
    if cap < 1:
        raise ValueError("MAX_FILES_PER_RUN must be at least 1")
    found = {VIDEO: 0, POINTCLOUDS: 0}
    selected: dict[str, list[dict[str, Any]]] = {VIDEO: [], POINTCLOUDS: []}
    suffixes = VIDEO_SUFFIXES + POINTCLOUD_SUFFIXES
    with xray_subsegment("discover", {"prefix": prefix}):
        for page in source.iter_pages(prefix, suffixes=suffixes):
            for info in page:
                kind = kind_of(info.key)
                if kind is None:
                    continue
                found[kind] += 1
                if len(selected[kind]) < cap:
                    selected[kind].append(_entry(info))
    return {
        kind: {"found": found[kind], "items": selected[kind], "truncated": found[kind] > len(selected[kind])}
        for kind in (VIDEO, POINTCLOUDS)
    }


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(DiscoveryConfig)
    execution = event["execution"]
    run_id = run_id_for(execution["name"])
    append_log_keys(run_id=run_id)
    layout = RunLayout(run_id)
    source = S3AccessPoint(cfg.access_point)
    output = S3AccessPoint(cfg.output_bucket)
    lists = discover(source, cfg.source_prefix, cfg.max_files_per_run)
    result: dict[str, Any] = {"run_id": run_id, "output_bucket": cfg.output_bucket}
    for kind, listing in lists.items():
        key = put_json(output, layout.manifest(kind), {"run_id": run_id, "kind": kind, **listing})
        result[kind] = {
            "found": listing["found"],
            "selected": len(listing["items"]),
            "truncated": listing["truncated"],
            "manifest_key": key,
        }
        if listing["truncated"]:
            logger.warning(
                "%s: %d found, only the first %d are processed this run (MAX_FILES_PER_RUN)",
                kind,
                listing["found"],
                len(listing["items"]),
            )
    stats().processed(files=sum(len(listing["items"]) for listing in lists.values()))
    return result
