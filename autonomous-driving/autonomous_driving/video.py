"""Video metadata: container facts read through range requests, and Rekognition labels for a still.

The container boxes (``moov``/``mvhd``/``trak``/``stts``...) give duration, frame rate, resolution,
frame count and codec without downloading the video: the parser asks for byte ranges and the
access point serves only those (``S3AccessPoint.get_range``).

Labelling. Rekognition DetectLabels takes a still image, and a Lambda has no video decoder, so
no frame is extracted here. The sample times a frame extractor would use are recorded in the
result, and a sidecar thumbnail next to the video (``clip.jpg``/``.jpeg``/``.png`` for
``clip.mp4``) is labelled when there is one. Without one, labelling is SKIPPED with that reason.
"""

from __future__ import annotations

import dataclasses
import logging
import posixpath
from typing import Any

from autonomous_driving import results
from autonomous_driving.results import SourceFile
from shared.config import CommonConfig, env
from shared.errors import SKIPPED, SUCCEEDED, ObjectNotFoundError, failed_result
from shared.formats.mp4 import MediaError, probe, sample_times
from shared.observability import stats, xray_subsegment
from shared.polling import aws
from shared.polling.errors import FileRejectedError
from shared.polling.results import write_result
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

THUMBNAIL_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # DetectLabels limit for image bytes
# Rekognition errors that are about this one image, not about the service: recorded per video.
_IMAGE_ERRORS = frozenset(
    {"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException"}
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class VideoConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    enable_labels: bool = env("ENABLE_VIDEO_LABELS", True)
    frames_per_video: int = env("FRAMES_PER_VIDEO", 5)
    max_labels: int = env("MAX_LABELS", 10)
    min_confidence: float = env("LABEL_MIN_CONFIDENCE", 70.0)


def thumbnail_candidates(key: str) -> list[str]:
    stem, _ = posixpath.splitext(key)
    return [stem + suffix for suffix in THUMBNAIL_SUFFIXES]


def find_thumbnail(source: S3AccessPoint, key: str) -> tuple[str, int] | None:
    for candidate in thumbnail_candidates(key):
        try:
            info = source.head(candidate)
        except ObjectNotFoundError:
            continue
        return candidate, info.size
    return None


def label_still(source: S3AccessPoint, rekognition: Any, key: str, cfg: VideoConfig) -> dict[str, Any]:
    """DetectLabels on the video's sidecar thumbnail; SKIPPED when there is none."""
    if not cfg.enable_labels:
        return {"status": SKIPPED, "reason": "video labelling is disabled (ENABLE_VIDEO_LABELS=false)"}
    found = find_thumbnail(source, key)
    if found is None:
        return {
            "status": SKIPPED,
            "reason": "no frame decoder in the function and no sidecar thumbnail "
            f"({', '.join(posixpath.basename(c) for c in thumbnail_candidates(key))})",
        }
    image_key, size = found
    if size > MAX_IMAGE_BYTES:
        return failed_result(
            f"thumbnail is {size} bytes; DetectLabels takes at most {MAX_IMAGE_BYTES}", source=image_key
        )
    try:
        image = source.get_bytes(image_key)
    except ObjectNotFoundError:
        return failed_result("the thumbnail vanished between HEAD and GET", source=image_key)
    try:
        with xray_subsegment("detect_labels", {"key": image_key}):
            # Throttling and service faults raise TransientServiceError: the state retries it, and
            # after the retries the skeleton leaves the version for the next run.
            response = aws.call(
                "rekognition",
                "DetectLabels",
                rekognition.detect_labels,
                per_item_codes=_IMAGE_ERRORS,
                Image={"Bytes": image},
                MaxLabels=cfg.max_labels,
                MinConfidence=cfg.min_confidence,
            )
    except FileRejectedError as error:
        return failed_result(f"Rekognition rejected the thumbnail: {error.details['code']}", source=image_key)
    labels = [
        {"name": label["Name"], "confidence": round(float(label.get("Confidence", 0.0)), 2)}
        for label in response.get("Labels", [])
    ]
    return {"status": SUCCEEDED, "source": image_key, "labels": labels}


def describe_video(
    source: S3AccessPoint, rekognition: Any, item: dict[str, Any], cfg: VideoConfig
) -> dict[str, Any]:
    """The per-video result: container metadata, sample times and labels, or FAILED with the reason."""
    key = item["key"]
    size = int(item["size"])

    def read_range(offset: int, length: int) -> bytes:
        return source.get_range(key, offset, offset + length - 1) if length > 0 else b""

    try:
        with xray_subsegment("probe_video", {"key": key}):
            info = probe(read_range, size)
    except MediaError as error:
        return failed_result(
            f"container could not be parsed: {error.reason}", key=key, error=type(error).__name__
        )
    except ObjectNotFoundError as error:
        reason = f"the video vanished after discovery: {error.reason}"
        return failed_result(reason, key=key, error=type(error).__name__)
    metadata = info.to_dict()
    return {
        "key": key,
        "status": SUCCEEDED,
        "size": size,
        "metadata": metadata,
        "sample_times_s": [round(t, 3) for t in sample_times(info, cfg.frames_per_video)],
        "labelling": label_still(source, rekognition, key, cfg),
    }


def process_video(
    source: S3AccessPoint,
    output: S3AccessPoint,
    rekognition: Any,
    file: SourceFile,
    *,
    run_id: str,
    cfg: VideoConfig,
) -> dict[str, Any]:
    """Describe one video and write its result document; a video that cannot be read is FAILED.

    Access denied and storage faults raise: the state's Retry, then its Catch, deal with them.
    """
    described = describe_video(source, rekognition, file.to_dict(), cfg)
    if described["status"] == SUCCEEDED:
        found = {k: described[k] for k in ("metadata", "sample_times_s", "labelling")}
        body = results.document(
            file, results.VIDEO, run_id=run_id, status=SUCCEEDED, source=source.target, video=found
        )
        stats().processed(files=1, bytes_=file.size)
    else:
        body = results.failure_document(
            file,
            results.VIDEO,
            run_id=run_id,
            source=source.target,
            reason=described["reason"],
            error=described["error"],
        )
        stats().failed()
    write_result(output, body)
    return results.summary(body)
