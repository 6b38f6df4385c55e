"""UC4 media-vfx on the embedded local cloud: frame checks, sequence reports and a Deadline re-render.

Runs: the first checks every seeded frame (EXR scan-line and tiled, HALF and FLOAT, uncompressed,
ZIPS and ZIP; DPX in both byte orders), reports the three sequences (gaps, a black frame, a NaN
frame, an out-of-range frame, a truncated file, a duplicate number, a header mismatch), writes a
proxy and a contact sheet per sequence, labels each proxy (Rekognition stand-ins, image bytes),
submits the missing and bad frames to the Deadline Cloud stand-in as an Open Job Description job,
follows it with the Wait/Choice loop and checks the re-rendered frames again; the second run finds
nothing new. Then the stand-in rejects the kind of template the earlier implementation sent (not
Open Job Description), and a job whose renderer fails ends FAILED and is reported so.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from media_vfx import samples

logger = logging.getLogger(__name__)

FARM = "farm-0123456789abcdef0123456789abcdef"
QUEUE = "queue-0123456789abcdef0123456789abcdef"


def parameters(access_point: Any) -> dict[str, str]:
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "EnableRenderResubmit": "true",
        "DeadlineFarmId": FARM,
        "DeadlineQueueId": QUEUE,
        "RenderPollSeconds": "1",
        "EnableRekognition": "true",
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "MaxFilesPerRun": "100",
    }


def seed(cloud: Any, access_point: Any, files: int) -> int:
    """The fixed sample sequences (``files`` is ignored: each defect needs its place in a sequence)."""
    s3 = cloud.client("s3")
    plan = samples.plan()
    for sample in plan:
        s3.put_object(Bucket=access_point.arn, Key=sample.key, Body=sample.body)
    return len(plan)


def _renderer(cloud: Any, access_point: Any, fail: bool = False) -> Any:
    def render(pattern: str, frame: int, padding: int) -> None:
        if fail:
            raise RuntimeError(f"renderer exited with code 1 on frame {frame} (demo failure path)")
        key, body = samples.good_frame(pattern, frame, padding)
        cloud.client("s3").put_object(Bucket=access_point.arn, Key=key, Body=body)

    return render


def _reports(cloud: Any, bucket: str, run_id: str) -> list[dict[str, Any]]:
    return [
        cloud.read_json(bucket, entry["report_key"])
        for entry in cloud.read_json(bucket, f"runs/{run_id}/sequences.json")
    ]


def drive(cloud: Any, stack: Any, access_point: Any, summary: Any, step: Any) -> None:
    bucket = stack.outputs.get("OutputBucketName") or stack.physical_ids.get("OutputBucket", "")
    seeded = set(cloud.list_keys(access_point.bucket))
    cloud.deadline.register_renderer(_renderer(cloud, access_point))
    with step("tick the pipeline schedule and wait for the execution"):
        firings = cloud.tick("PipelineSchedule")
        results = cloud.wait_for_executions(timeout_seconds=300)
        result = results[0] if results else None
        ok = bool(firings) and all(f.ok for f in firings) and result is not None and result.succeeded
        detail = f"{result.status} {result.error or ''}".strip() if result else "no execution started"
        summary.flow("pipeline state machine", ok, detail)
    if result is None:
        return
    summary.items_per_state = dict(result.states_entered())
    output = result.output if isinstance(result.output, dict) else {}
    report = output.get("report") or {}
    summary.files_detected = len(cloud.list_keys(bucket, "results/by-key/"))
    with step("read the sequence reports"):
        reports = _reports(cloud, bucket, result.name)
        table = {
            r["sequence"].rsplit("/", 1)[-1]: {
                "frames": r["frames"],
                "missing": r["missing"],
                "duplicates": sorted(r["duplicates"]),
                "black": len(r["black"]),
                "nan_inf": len(r["non_finite"]),
                "out_of_range": len(r["out_of_range"]),
                "unreadable": len(r["unreadable"]),
                "header_mismatches": len(r["header_mismatches"]),
                "size_outliers": len(r["size_outliers"]),
                "not_checked": len(r["pixels_not_checked"]),
                "rerender": r["rerender_range"],
                "labels": [lb["name"] for lb in (r.get("rekognition") or {}).get("labels", [])][:3],
            }
            for r in reports
        }
        summary.extra["sequences"] = table
        proxies = [r["proxy"]["bytes"] for r in reports if r.get("proxy")]
        sheets = [r["contact_sheet"]["bytes"] for r in reports]
        summary.extra["proxy bytes"] = proxies
        summary.extra["contact sheet bytes"] = sheets
        summary.flow(
            "sequence reports with proxy and contact sheet",
            len(reports) == 3 and len(proxies) == 3 and max(proxies + sheets) < 5 * 1024 * 1024,
            f"{len(reports)} sequence(s), {report.get('flagged_frames')} flagged frame(s)",
        )
    with step("check the Deadline Cloud job and the recheck"):
        jobs = cloud.deadline.finished()
        recheck = output.get("recheck") or {}
        render = output.get("render") or {}
        summary.extra["deadline jobs"] = jobs
        summary.extra["render polls"] = render.get("polls")
        summary.extra["recheck"] = {
            k: recheck.get(k) for k in ("render_state", "frames_fixed", "frames_still_bad")
        }
        summary.flow(
            "re-render on Deadline Cloud and recheck",
            bool(jobs)
            and all(s == "SUCCEEDED" for s in jobs.values())
            and recheck.get("render_state") == "SUCCEEDED"
            and recheck.get("frames_fixed") == report.get("frames_to_render"),
            f"{len(jobs)} job(s), {recheck.get('frames_fixed')} of "
            f"{report.get('frames_to_render')} frame(s) fixed",
        )
    with step("outputs are in the output bucket only"):
        written_to_volume = set(cloud.list_keys(access_point.bucket)) - seeded
        rerendered = {k for k in written_to_volume if k.endswith((".exr", ".dpx"))}
        summary.flow(
            "nothing but re-rendered frames reached the volume",
            written_to_volume == rerendered,
            f"{len(rerendered)} new frame key(s) from the render farm, nothing else",
        )
    with step("run again: every frame version has its result, so nothing is processed"):
        again = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        idle = again.succeeded and again.states_entered().get("NothingToDo") == 1
        summary.flow("a second run finds nothing new", idle, again.status)
    with step("a template that is not Open Job Description is rejected"):
        from botocore.exceptions import ClientError

        try:
            cloud.client("deadline").create_job(
                farmId=FARM,
                queueId=QUEUE,
                template=json.dumps({"frames": [1, 2], "command": "render"}),
                templateType="JSON",
                priority=50,
            )
            rejected = False
        except ClientError as error:
            rejected = error.response["Error"]["Code"] == "ValidationException"
        summary.flow("a non-OpenJD template is rejected", rejected)
    with step("a frame removed and a renderer that fails: the job ends FAILED and the run says so"):
        cloud.deadline.register_renderer(_renderer(cloud, access_point, fail=True))
        cloud.client("s3").delete_object(Bucket=access_point.arn, Key=f"{samples.SH030}0002.dpx")
        cloud.client("s3").put_object(
            Bucket=access_point.arn,
            Key=f"{samples.SH030}0007.dpx",
            Body=samples.good_frame(f"{samples.SH030}####.dpx", 7, 4)[1],
        )
        failing = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        out = failing.output if isinstance(failing.output, dict) else {}
        state = (out.get("recheck") or {}).get("render_state")
        summary.extra["failure path render state"] = state
        summary.flow(
            "a failed render job is reported, not passed",
            failing.succeeded and state == "FAILED",
            f"{failing.status}, render {state}",
        )
    summary.extra["runs"] = 3
    summary.output_keys = sorted(cloud.list_keys(bucket))
    summary.extra["functions invoked"] = cloud.function_counts(stack)
    summary.extra["moderation calls"] = cloud.moderation.calls
