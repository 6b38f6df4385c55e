"""Point-cloud QC: read each discovered cloud and judge it against the stack's thresholds.

Every file gets its own status: PASSED, or FAILED with the reasons (unreadable, corrupt,
truncated, too large, or a threshold missed). One bad file never stops the others, and zero files
is a normal, empty result. The object is streamed to ``/tmp`` and the reader memory-maps it, so
the function holds no second copy of a large cloud. The full list goes to
``runs/<run-id>/qc/results.json``; the segmentation step reads it from there.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from typing import Any

from autonomous_driving.quality import QCThresholds, qc
from autonomous_driving.transformjob import bounded, discovered_items, put_json, summarize
from shared import config
from shared.config import CommonConfig, env
from shared.errors import FAILED, ObjectNotFoundError, ObjectTooLargeError, failed_result
from shared.formats.pointcloud import PASSED, PointCloudError, detect_format, read
from shared.observability import log_keys, stats, trace_lambda_handler, xray_subsegment
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class QcConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    max_pointcloud_mib: int = env("MAX_POINTCLOUD_MIB", 512)
    tmp_dir: str = env("TMP_DIR", tempfile.gettempdir())


def download(source: S3AccessPoint, key: str, directory: str, max_bytes: int | None = None) -> str:
    """Stream one object to a temporary file and return its path (the caller deletes it).

    The listed size was checked already, but the object may have been replaced by a larger one
    since: past ``max_bytes`` the download stops with :class:`ObjectTooLargeError`.
    """
    handle, path = tempfile.mkstemp(dir=directory, suffix=os.path.splitext(key)[1])
    try:
        with os.fdopen(handle, "wb") as out:
            written = 0
            for chunk in source.iter_chunks(key):
                written += len(chunk)
                if max_bytes is not None and written > max_bytes:
                    raise ObjectTooLargeError(
                        f"{key!r} grew past {max_bytes} bytes since it was listed",
                        key=key,
                        limit=max_bytes,
                    )
                out.write(chunk)
    except BaseException:
        os.unlink(path)
        raise
    return path


def check_one(
    source: S3AccessPoint, item: dict[str, Any], thresholds: QCThresholds, cfg: QcConfig
) -> dict[str, Any]:
    """The QC result of one file; reading problems are a FAILED result with the reason."""
    key = item["key"]
    where = {"key": key, "size": int(item["size"]), "etag": item.get("etag", "")}
    try:
        fmt = detect_format(key)
    except PointCloudError as error:
        return failed_result(error.reason, reasons=[error.reason], **where)
    limit = cfg.max_pointcloud_mib * 1024 * 1024
    if where["size"] > limit:
        reason = f"file is {where['size']} bytes, above MAX_POINTCLOUD_MIB={cfg.max_pointcloud_mib}"
        return failed_result(reason, reasons=[reason], **where)
    try:
        path = download(source, key, cfg.tmp_dir, limit)
    except ObjectTooLargeError as error:
        reason = f"{error.reason}, above MAX_POINTCLOUD_MIB={cfg.max_pointcloud_mib}"
        return failed_result(reason, reasons=[reason], **where)
    except ObjectNotFoundError as error:
        reason = f"the file vanished after discovery: {error.reason}"
        return failed_result(reason, reasons=[reason], **where)
    try:
        with xray_subsegment("read_pointcloud", {"format": fmt}):
            cloud = read(path, fmt)
        with xray_subsegment("qc", {"format": fmt, "points": cloud.count}):
            report = qc(cloud, thresholds)
    except PointCloudError as error:
        reason = f"unreadable {fmt} file: {error.reason}"
        return failed_result(reason, reasons=[reason], **where)
    finally:
        os.unlink(path)
    result = {**where, **report}
    if result["status"] == FAILED:
        result["reason"] = "; ".join(report["reasons"])
    return result


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(QcConfig)
    thresholds = config.load(QCThresholds)
    source, output = S3AccessPoint(cfg.access_point), S3AccessPoint(cfg.output_bucket)
    layout, items = discovered_items(output, event["discovery"], "pointclouds")
    results: list[dict[str, Any]] = []
    for item in items:
        with log_keys(file_key=item["key"]):
            result = check_one(source, item, thresholds, cfg)
        results.append(result)
        stats().processed(files=1, bytes_=int(item["size"]))
        if "point_count" not in result:
            # Unreadable files count as processing errors; a cloud that misses a QC threshold
            # was processed fine and is a data finding, reported by status only.
            stats().failed()
    put_json(output, layout.qc_results, {"run_id": layout.run_id, "items": results})
    counts = summarize(results)
    return bounded(
        {
            "count": len(results),
            "passed": counts.get(PASSED, 0),
            "failed": counts.get(FAILED, 0),
            "counts": counts,
            "results_key": layout.qc_results,
            "items": [
                {k: r[k] for k in ("key", "status", "reason", "point_count") if k in r} for r in results
            ],
        }
    )
