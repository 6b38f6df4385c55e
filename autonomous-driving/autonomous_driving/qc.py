"""Point-cloud QC: read one cloud and judge it against the stack's thresholds.

The result is PASSED, or FAILED with the reasons (unreadable, corrupt, truncated, too large, or a
threshold missed). The object is streamed to ``/tmp`` and the reader memory-maps it, so the
function holds no second copy of a large cloud.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from typing import Any

from autonomous_driving import results
from autonomous_driving.quality import QCThresholds, qc
from autonomous_driving.results import SourceFile
from shared.config import CommonConfig, env
from shared.errors import FAILED, ObjectNotFoundError, ObjectTooLargeError, failed_result
from shared.formats.pointcloud import PASSED, PointCloudError, detect_format, read
from shared.observability import stats, xray_subsegment
from shared.polling.results import write_result
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

QC_MISSED = "QualityThresholdMissed"  # the error type of a readable cloud that misses a threshold


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
        return failed_result(error.reason, reasons=[error.reason], error=type(error).__name__, **where)
    limit = cfg.max_pointcloud_mib * 1024 * 1024
    if where["size"] > limit:
        reason = f"file is {where['size']} bytes, above MAX_POINTCLOUD_MIB={cfg.max_pointcloud_mib}"
        return failed_result(reason, reasons=[reason], error="ObjectTooLargeError", **where)
    try:
        path = download(source, key, cfg.tmp_dir, limit)
    except ObjectTooLargeError as error:
        reason = f"{error.reason}, above MAX_POINTCLOUD_MIB={cfg.max_pointcloud_mib}"
        return failed_result(reason, reasons=[reason], error=type(error).__name__, **where)
    except ObjectNotFoundError as error:
        reason = f"the file vanished after discovery: {error.reason}"
        return failed_result(reason, reasons=[reason], error=type(error).__name__, **where)
    try:
        with xray_subsegment("read_pointcloud", {"format": fmt}):
            cloud = read(path, fmt)
        with xray_subsegment("qc", {"format": fmt, "points": cloud.count}):
            report = qc(cloud, thresholds)
    except PointCloudError as error:
        reason = f"unreadable {fmt} file: {error.reason}"
        return failed_result(reason, reasons=[reason], error=type(error).__name__, **where)
    finally:
        os.unlink(path)
    result = {**where, **report}
    if result["status"] == FAILED:
        result["reason"] = "; ".join(report["reasons"])
        result["error"] = QC_MISSED
    return result


def process_pointcloud(
    source: S3AccessPoint,
    output: S3AccessPoint,
    file: SourceFile,
    *,
    run_id: str,
    thresholds: QCThresholds,
    cfg: QcConfig,
) -> dict[str, Any]:
    """QC one cloud. A cloud that passed waits for the run's segmentation (recorded under the run);
    any other outcome is final and written as the file's FAILED result document."""
    report = check_one(source, file.to_dict(), thresholds, cfg)
    qc_part = {k: v for k, v in report.items() if k not in {"key", "etag", "size", "reason", "error"}}
    if report["status"] == PASSED:
        results.record_passed(output, run_id, file, qc_part)
        stats().processed(files=1, bytes_=file.size)
        return {"key": file.key, "status": PASSED, "point_count": report.get("point_count")}
    body = results.failure_document(
        file,
        results.POINTCLOUD,
        run_id=run_id,
        source=source.target,
        reason=report["reason"],
        error=report["error"],
        qc=qc_part,
        segmentation={"status": results.NOT_RUN, "reason": "the cloud did not pass QC"},
    )
    write_result(output, body)
    if report["error"] == QC_MISSED:
        # A cloud that misses a threshold was processed fine: a data finding, reported by status.
        stats().processed(files=1, bytes_=file.size)
    else:
        stats().failed()
    return results.summary(body)
