"""Annotations: finish the run's point clouds, then merge its results into a COCO-style document.

First every cloud of the run that passed QC gets its result document, now that the segmentation
outcome is known (:func:`finish_clouds`). Then the run's manifest is read back, each file's result
document joins the COCO document, and a summary counts them (:func:`annotate_run`). Zero files,
clouds that failed QC, a skipped segmentation and a failed one each end up as a clear per-file
status, never as a missing field.

A failed segmentation job makes each of its clouds a FAILED result with the job's reason and error
type. The version is then done: it is not segmented again every hour (paid work that would likely
fail the same way). The failure is visible (the annotation manager's ProcessingErrors alarm, the
TransformJobsFailed metric, the run summary), and removing those result documents queues the
files again for the next run.

The document follows COCO's layout (``info``, ``licenses``, ``categories``, ``images``,
``annotations``) and extends it for LiDAR: ``point_clouds`` lists each cloud, and a point-cloud
annotation carries ``point_cloud_id``, ``num_points`` for one class and the ``labels_uri`` of the
per-point label file. Videos are ``images`` with their container metadata; a Rekognition label is
an image-level annotation with a ``score`` and no box. Optionally, Bedrock Converse writes a short
plain-language summary of the run's counts (never of file contents).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from autonomous_driving import results
from autonomous_driving.results import NOT_RUN, POINTCLOUD, VIDEO, SourceFile
from autonomous_driving.transformjob import RunLayout, bounded, get_json, put_json, s3_uri, summarize
from shared.config import CommonConfig, env
from shared.errors import FAILED, SKIPPED, SUCCEEDED, ObjectNotFoundError, aws_error_code, failed_result
from shared.formats.pointcloud import LABELS
from shared.observability import stats, xray_subsegment
from shared.polling import aws
from shared.polling.discovery import Chunk, load_chunk
from shared.polling.results import write_result
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AnnotationConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    enable_bedrock_summary: bool = env("ENABLE_BEDROCK_SUMMARY", False)
    bedrock_model_id: str = env("BEDROCK_MODEL_ID", "amazon.nova-lite-v1:0")  # the template's default
    max_summary_tokens: int = env("MAX_SUMMARY_TOKENS", 400)


def segmentation_reason(segmentation: dict[str, Any], recorded: str = "") -> str:
    """A readable reason for a skipped or failed segmentation step, whatever shape it arrived in.

    ``recorded`` is the reason the invoke or callback function wrote to the run's segmentation
    result; it stands in when the Catch output carries no Cause.
    """
    if segmentation.get("reason"):
        return str(segmentation["reason"])
    error = segmentation.get("error")
    if isinstance(error, dict):
        name = error.get("Error") or "error"
        cause = error.get("Cause") or recorded or "no cause given"
        return f"{name}: {cause}"
    return recorded or "no reason recorded"


def recorded_reason(output: S3AccessPoint, layout: RunLayout) -> str:
    """The reason in the run's segmentation result, if a failure wrote one."""
    try:
        body = get_json(output, layout.segmentation_result)
    except ObjectNotFoundError:
        return ""
    return str(body.get("reason") or "") if body.get("status") == FAILED else ""


def coco_document(
    run: dict[str, str], videos: list[dict[str, Any]], clouds: list[dict[str, Any]]
) -> dict[str, Any]:
    """The COCO-style document for one run (see the module docstring for the LiDAR extension)."""
    categories: list[dict[str, Any]] = [
        {"id": value + 1, "name": name, "supercategory": "lidar"} for value, name in sorted(LABELS.items())
    ]
    lidar_ids = {c["name"]: c["id"] for c in categories}
    scene_ids: dict[str, int] = {}
    images: list[dict[str, Any]] = []
    point_clouds: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, video in enumerate(videos, start=1):
        meta = video.get("metadata") or {}
        images.append(
            {
                "id": image_id,
                "file_name": video["key"],
                "width": meta.get("width"),
                "height": meta.get("height"),
                "duration_s": meta.get("duration_s"),
                "fps": meta.get("fps"),
                "frame_count": meta.get("frame_count"),
                "codec": meta.get("codec"),
                "codec_family": meta.get("codec_family"),
                "status": video["status"],
                **({"reason": video["reason"]} if "reason" in video else {}),
            }
        )
        labelling = video.get("labelling") or {}
        for label in labelling.get("labels", []):
            if label["name"] not in scene_ids:
                scene_ids[label["name"]] = len(categories) + 1
                categories.append(
                    {"id": scene_ids[label["name"]], "name": label["name"], "supercategory": "scene"}
                )
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": scene_ids[label["name"]],
                    "score": label["confidence"],
                    "source": labelling.get("source"),
                }
            )
    for cloud_id, cloud in enumerate(clouds, start=1):
        seg = cloud["segmentation"]
        point_clouds.append(
            {
                "id": cloud_id,
                "file_name": cloud["key"],
                "num_points": cloud["point_count"],
                "qc_status": cloud["qc"]["status"],
                "segmentation_status": seg["status"],
                "labels_uri": seg.get("output_uri"),
            }
        )
        for name, count in (seg.get("label_counts") or {}).items():
            if count:
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "point_cloud_id": cloud_id,
                        "category_id": lidar_ids[name],
                        "num_points": count,
                        "labels_uri": seg.get("output_uri"),
                    }
                )
    return {
        "info": {
            "description": "Autonomous-driving run: video metadata, point-cloud QC and segmentation",
            "version": "1.0",
            "date_created": datetime.now(UTC).isoformat(),
            **run,
        },
        "licenses": [],
        "categories": categories,
        "images": images,
        "point_clouds": point_clouds,
        "annotations": annotations,
    }


def bedrock_summary(cfg: AnnotationConfig, bedrock: Any, facts: dict[str, Any]) -> dict[str, Any]:
    """A short summary written by Bedrock Converse from the run's counts; FAILED (not fatal) on refusal."""
    if not cfg.enable_bedrock_summary:
        return {"status": SKIPPED, "reason": "the Bedrock summary is disabled (ENABLE_BEDROCK_SUMMARY=false)"}
    if not cfg.bedrock_model_id:
        return failed_result("ENABLE_BEDROCK_SUMMARY is true but BEDROCK_MODEL_ID is empty")
    prompt = (
        "You summarise an autonomous-driving data-quality run for a storage engineer. In at most five "
        "sentences, state what was found, what failed and why, and what to check next. Facts (JSON):\n"
        + json.dumps(facts, separators=(",", ":"))
    )
    try:
        with xray_subsegment("bedrock_converse", {"model": cfg.bedrock_model_id}):
            # Throttling and service faults raise TransientServiceError, which the state retries.
            response = aws.call(
                "bedrock",
                "Converse",
                bedrock.converse,
                modelId=cfg.bedrock_model_id,
                messages=[{"role": "user", "content": [{"text": prompt}]}],
                inferenceConfig={"maxTokens": cfg.max_summary_tokens, "temperature": 0.2},
            )
    except ClientError as error:  # the summary is optional: a refusal is recorded, the run goes on
        stats().failed()
        return failed_result(f"Bedrock Converse refused the request: {aws_error_code(error)}: {error}")
    parts = response.get("output", {}).get("message", {}).get("content", [])
    text = "".join(part.get("text", "") for part in parts).strip()
    if not text:
        stats().failed()
        return failed_result("Bedrock Converse returned no text")
    return {"status": SUCCEEDED, "model_id": cfg.bedrock_model_id, "text": text}


def segmentation_items(output: S3AccessPoint, segmentation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The per-cloud segmentation results of a succeeded step, by source key."""
    if segmentation.get("status") != SUCCEEDED or not segmentation.get("result_key"):
        return {}
    items = get_json(output, str(segmentation["result_key"]))["items"]
    return {str(item.get("source_key")): item for item in items}


def cloud_outcome(
    file: SourceFile, segmentation: dict[str, Any], by_source: dict[str, dict[str, Any]], recorded: str
) -> tuple[str, dict[str, Any], str, str]:
    """(status, segmentation part, reason, error type) of one cloud that passed QC."""
    step = str(segmentation.get("status", FAILED))
    if step == SKIPPED:
        return SUCCEEDED, {"status": SKIPPED, "reason": segmentation_reason(segmentation)}, "", ""
    if step != SUCCEEDED:
        reason = f"segmentation failed: {segmentation_reason(segmentation, recorded)}"
        error = segmentation.get("error")
        name = (
            str(error.get("Error") or "SegmentationFailed")
            if isinstance(error, dict)
            else "SegmentationFailed"
        )
        return FAILED, {"status": FAILED, "reason": reason}, reason, name
    item = by_source.get(file.key)
    if item is None:
        reason = "the segmentation result does not list this cloud"
        return FAILED, {"status": FAILED, "reason": reason}, reason, "SegmentationOutputMissing"
    part: dict[str, Any] = {
        k: item[k] for k in ("status", "reason", "output_uri", "label_counts") if k in item
    }
    if item.get("status") != SUCCEEDED:
        reason = f"segmentation of this cloud failed: {item.get('reason', 'no reason given')}"
        return FAILED, part, reason, "SegmentationItemFailed"
    return SUCCEEDED, part, "", ""


def finish_clouds(
    output: S3AccessPoint, run_id: str, segmentation: dict[str, Any], *, source: str = ""
) -> int:
    """Write the result document of every cloud of the run that passed QC; returns how many."""
    recorded = recorded_reason(output, RunLayout(run_id)) if segmentation.get("status") == FAILED else ""
    by_source = segmentation_items(output, segmentation)
    written = 0
    for file, qc_part in results.passed_clouds(output, run_id):
        status, seg_part, reason, error = cloud_outcome(file, segmentation, by_source, recorded)
        body = results.document(
            file, POINTCLOUD, run_id=run_id, status=status, source=source, reason=reason, error=error,
            qc=qc_part, segmentation=seg_part,
        )  # fmt: skip
        write_result(output, body)
        if status == SUCCEEDED:
            stats().processed(files=1, bytes_=file.size)
        else:
            stats().failed()
        written += 1
    return written


def run_files(output: S3AccessPoint, chunks_key: str) -> Iterator[SourceFile]:
    """The files of a run's manifest, read chunk by chunk as the Distributed Map read them."""
    for descriptor in get_json(output, chunks_key):
        for file in load_chunk(output, Chunk.from_dict(descriptor)):
            yield SourceFile.from_event(file)


def _video_entry(body: dict[str, Any]) -> dict[str, Any]:
    video = body.get("video") or {}
    entry = {"key": body["source"]["key"], "status": body["status"], **video}
    if "reason" in body:
        entry["reason"] = body["reason"]
    return entry


def _cloud_entry(body: dict[str, Any]) -> dict[str, Any]:
    qc = body.get("qc") or {}
    # A caught failure (the skeleton's document) has no QC section: its reason stands in.
    reasons = qc.get("reasons") or ([body["reason"]] if not qc and "reason" in body else [])
    return {
        "kind": POINTCLOUD,
        "key": body["source"]["key"],
        "status": body["status"],
        **({"reason": body["reason"]} if "reason" in body else {}),
        "point_count": qc.get("point_count"),
        "qc": {"status": qc.get("status", FAILED), "reasons": reasons},
        "segmentation": body.get("segmentation")
        or {"status": NOT_RUN, "reason": "the cloud did not pass QC"},
    }


def annotate_run(
    output: S3AccessPoint,
    files: Iterable[SourceFile],
    *,
    run: dict[str, str],
    segmentation: dict[str, Any],
    cfg: AnnotationConfig,
    bedrock: Any,
) -> dict[str, Any]:
    """The run's COCO document and summary, from the result documents of the files it processed.

    A file of the manifest without a result document (its per-file branch failed beyond the
    Catch) is listed as MISSING: it has no result, so the next run takes it again.
    """
    layout = RunLayout(run["run_id"])
    videos: list[dict[str, Any]] = []
    clouds: list[dict[str, Any]] = []
    missing: list[str] = []
    for file in files:
        try:
            body = results.read(output, file)
        except ObjectNotFoundError:
            missing.append(file.key)
            continue
        # A caught failure's document is the skeleton's and names no kind: the key tells it.
        if (body.get("kind") or results.kind_of(file.key)) == VIDEO:
            videos.append(_video_entry(body))
        else:
            clouds.append(_cloud_entry(body))
    put_json(output, layout.annotations, coco_document(run, videos, clouds))
    counts = {
        "videos": len(videos),
        "videos_by_status": summarize(videos),
        "pointclouds": len(clouds),
        "pointclouds_by_status": summarize(clouds),
        "qc_by_status": summarize([c["qc"] for c in clouds]),
        "segmentation_by_status": summarize([c["segmentation"] for c in clouds]),
        "missing": len(missing),
    }
    step = {"status": segmentation.get("status", FAILED)}
    if step["status"] != SUCCEEDED:
        step["reason"] = segmentation_reason(segmentation, recorded_reason(output, layout))
    video_entries = [
        {
            "kind": VIDEO,
            **{k: v[k] for k in ("key", "status", "reason") if k in v},
            "labelling": (v.get("labelling") or {}).get("status", NOT_RUN),
        }
        for v in videos
    ]
    summary: dict[str, Any] = {
        **run,
        "status": SUCCEEDED,
        "segmentation": step,
        "counts": counts,
        "missing": missing,
        "bedrock_summary": bedrock_summary(cfg, bedrock, {"counts": counts, "segmentation": step}),
        "annotations_uri": s3_uri(output.target, layout.annotations),
        "items": video_entries + clouds,
    }
    put_json(output, layout.summary, summary)
    return bounded({**summary, "summary_uri": s3_uri(output.target, layout.summary)})
