"""Annotation manager: merge one run's results into a COCO-style document and a per-item summary.

It reads the full result lists from S3 (the state only carries pointers) and always succeeds when
they are readable: zero files, clouds that failed QC, a skipped segmentation and a failed
segmentation each end up as a clear per-item status, never as a missing field.

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
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from autonomous_driving.transformjob import RunLayout, bounded, get_json, put_json, s3_uri, summarize
from shared import config
from shared.clients import aws_client
from shared.config import CommonConfig, env
from shared.errors import FAILED, SKIPPED, SUCCEEDED, ObjectNotFoundError, aws_error_code, failed_result
from shared.formats.pointcloud import LABELS, PASSED
from shared.observability import stats, trace_lambda_handler, xray_subsegment
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

NOT_RUN = "NOT_RUN"
_THROTTLED = {"ThrottlingException", "ServiceUnavailableException", "InternalServerException"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class AnnotationConfig(CommonConfig):
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


def pointcloud_entries(
    qc_items: list[dict[str, Any]],
    segmentation: dict[str, Any],
    seg_items: list[dict[str, Any]],
    recorded: str = "",
) -> list[dict[str, Any]]:
    """Per cloud: its QC status and its segmentation status, each with a reason when not a success."""
    by_source = {item.get("source_key"): item for item in seg_items}
    step_status = str(segmentation.get("status", FAILED))
    entries = []
    for item in qc_items:
        key = item["key"]
        qc_part = {"status": item["status"], "reasons": item.get("reasons", [])}
        if item["status"] != PASSED:
            seg_part: dict[str, Any] = {"status": NOT_RUN, "reason": "the cloud did not pass QC"}
        elif step_status == SUCCEEDED and key in by_source:
            seg = by_source[key]
            seg_part = {k: seg[k] for k in ("status", "reason", "output_uri", "label_counts") if k in seg}
        elif step_status == SUCCEEDED:
            seg_part = {"status": FAILED, "reason": "the segmentation result does not list this cloud"}
        else:
            status = SKIPPED if step_status == SKIPPED else FAILED
            seg_part = {"status": status, "reason": segmentation_reason(segmentation, recorded)}
        entries.append(
            {
                "kind": "pointcloud",
                "key": key,
                "point_count": item.get("point_count"),
                "qc": qc_part,
                "segmentation": seg_part,
            }
        )
    return entries


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
            response = bedrock.converse(
                modelId=cfg.bedrock_model_id,
                messages=[{"role": "user", "content": [{"text": prompt}]}],
                inferenceConfig={"maxTokens": cfg.max_summary_tokens, "temperature": 0.2},
            )
    except ClientError as error:
        code = aws_error_code(error)
        if code in _THROTTLED:
            raise  # transient: the state's Retry runs the step again
        stats().failed()
        return failed_result(f"Bedrock Converse refused the request: {code}: {error}")
    parts = response.get("output", {}).get("message", {}).get("content", [])
    text = "".join(part.get("text", "") for part in parts).strip()
    if not text:
        stats().failed()
        return failed_result("Bedrock Converse returned no text")
    return {"status": SUCCEEDED, "model_id": cfg.bedrock_model_id, "text": text}


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(AnnotationConfig)
    run_id = event["discovery"]["run_id"]
    layout = RunLayout(run_id)
    output = S3AccessPoint(cfg.output_bucket)
    analysis = event["analysis"]
    segmentation = event["segmentation"]
    videos = get_json(output, analysis["video"]["results_key"])["items"]
    qc_items = get_json(output, analysis["pointclouds"]["results_key"])["items"]
    seg_items: list[dict[str, Any]] = []
    if segmentation.get("status") == SUCCEEDED and segmentation.get("result_key"):
        seg_items = get_json(output, segmentation["result_key"])["items"]
    recorded = recorded_reason(output, layout) if segmentation.get("status") == FAILED else ""
    clouds = pointcloud_entries(qc_items, segmentation, seg_items, recorded)
    run = {"run_id": run_id, "execution_id": str(event["execution"]["id"])}
    document = coco_document(run, videos, clouds)
    put_json(output, layout.annotations, document)

    video_entries = [
        {
            "kind": "video",
            "key": v["key"],
            "status": v["status"],
            **({"reason": v["reason"]} if "reason" in v else {}),
            "labelling": (v.get("labelling") or {}).get("status", NOT_RUN),
        }
        for v in videos
    ]
    counts = {
        "videos": len(videos),
        "videos_by_status": summarize(videos),
        "pointclouds": len(clouds),
        "qc_by_status": summarize([c["qc"] for c in clouds]),
        "segmentation_by_status": summarize([c["segmentation"] for c in clouds]),
        "discovered": {k: event["discovery"][k] for k in ("video", "pointclouds") if k in event["discovery"]},
    }
    step = {"status": segmentation.get("status", FAILED)}
    if step["status"] != SUCCEEDED:
        step["reason"] = segmentation_reason(segmentation, recorded)
    bedrock = aws_client("bedrock-runtime") if cfg.enable_bedrock_summary else None
    summary_text = bedrock_summary(cfg, bedrock, {"counts": counts, "segmentation": step})
    summary = {
        **run,
        "status": SUCCEEDED,
        "segmentation": step,
        "counts": counts,
        "bedrock_summary": summary_text,
        "annotations_uri": s3_uri(cfg.output_bucket, layout.annotations),
        "items": video_entries + clouds,
    }
    put_json(output, layout.summary, summary)
    stats().processed(files=len(videos) + len(clouds))
    return bounded({**summary, "summary_uri": s3_uri(cfg.output_bucket, layout.summary)})
