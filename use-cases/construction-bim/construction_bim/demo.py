"""UC10 construction-bim on the embedded local cloud: models, drawings, Revit, and a revision diff.

Runs: the first processes every seeded file (IFC models summarised with their rule findings, a
drawing read from its text layer, a 48-inch sheet refused before Textract, a Revit file reported
unsupported, broken models FAILED with the statement and offset); the second finds nothing new;
the third follows a new revision of the architecture model and diffs it with the previous one,
found through the key's own result history.
"""

from __future__ import annotations

import logging
from typing import Any

from construction_bim.samples import ifc_model, plan

logger = logging.getLogger(__name__)

MODEL = "tower-a/architecture.ifc"


def parameters(access_point: Any) -> dict[str, str]:
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "MaxFilesPerRun": "100",
    }


def seed(cloud: Any, access_point: Any, files: int) -> int:
    s3 = cloud.client("s3")
    samples = plan()
    for sample in samples:
        s3.put_object(Bucket=access_point.arn, Key=sample.key, Body=sample.body)
    s3.put_object(Bucket=access_point.arn, Key="tower-a/notes.txt", Body=b"not a model")
    return len(samples)


def _results(cloud: Any, bucket: str) -> list[dict[str, Any]]:
    return [cloud.read_json(bucket, key) for key in cloud.list_keys(bucket, "results/")]


def _line(body: dict[str, Any]) -> str:
    if body["status"] == "FAILED":
        return f"FAILED: {body.get('reason')}"
    if body.get("outcome") == "unsupported":
        return f"UNSUPPORTED: {body.get('reason')}"
    if "model" in body:
        m = body["model"]
        counts = m["entity_counts"]
        return (
            f"{m['schema']} project {m['project_name']!r} ({m['project_description']!r}), units "
            f"{m['units'].get('LENGTHUNIT')}, storeys {[s['name'] for s in m['storeys']]}, "
            f"walls {counts.get('IFCWALL', 0)}, doors {counts.get('IFCDOOR', 0)}, "
            f"windows {counts.get('IFCWINDOW', 0)}, spaces {counts.get('IFCSPACE', 0)}, "
            f"rules {[(f['rule'], f['count']) for f in m['findings']]}"
        )
    drawing = body.get("drawing") or {}
    return (
        f"drawing {drawing.get('page_size_in')} in via {drawing.get('route')}: {drawing.get('title_block')}"
    )


def drive(cloud: Any, stack: Any, access_point: Any, summary: Any, step: Any) -> None:
    bucket = stack.outputs.get("OutputBucketName") or stack.physical_ids.get("OutputBucket", "")
    with step("tick the pipeline schedule and wait for the execution"):
        firings = cloud.tick("PipelineSchedule")
        executions = cloud.wait_for_executions(timeout_seconds=300)
        result = executions[0] if executions else None
        ok = bool(firings) and all(f.ok for f in firings) and result is not None and result.succeeded
        detail = f"{result.status} {result.error or ''}".strip() if result else "no execution started"
        summary.flow("pipeline state machine", ok, detail)
    if result is None:
        return
    summary.items_per_state = dict(result.states_entered())
    with step("read the per-file results"):
        bodies = {b["source"]["key"]: b for b in _results(cloud, bucket)}
        summary.files_detected = len(bodies)
        summary.extra["files"] = {key: _line(body) for key, body in sorted(bodies.items())}
        expected = {s.key: s.expect for s in plan()}
        got = {
            key: "failed"
            if b["status"] == "FAILED"
            else ("unsupported" if b.get("outcome") == "unsupported" else "read")
            for key, b in bodies.items()
        }
        summary.flow("every file has the outcome it should", got == expected, f"{got}")
        model = (bodies.get(MODEL) or {}).get("model") or {}
        summary.extra["project"] = [model.get("project_name"), model.get("project_description")]
        summary.extra["rules"] = {f["rule"]: f["count"] for f in model.get("findings", [])}
        oversize = bodies.get("tower-a/drawings/A-001-site-48in.pdf", {})
        summary.flow(
            "the 48-inch sheet is refused before Textract",
            "40 in" in str(oversize.get("reason")),
            str(oversize.get("reason")),
        )
    with step("run again: every version has its result, nothing is read"):
        again = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        summary.flow(
            "a second run finds nothing new",
            again.succeeded and again.states_entered().get("NothingToDo") == 1,
            again.status,
        )
    with step("a new revision of the architecture model: diff with the previous one"):
        cloud.client("s3").put_object(Bucket=access_point.arn, Key=MODEL, Body=ifc_model(revision=2))
        third = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        latest = [
            b
            for b in _results(cloud, bucket)
            if b["source"]["key"] == MODEL and b.get("diff", {}).get("previous_etag")
        ]
        diff = latest[0]["diff"] if latest else {}
        summary.extra["revision diff"] = {
            k: diff.get(k) for k in ("added_by_type", "removed_by_type", "changed_by_type")
        }
        summary.flow(
            "revision diff by GlobalId",
            third.succeeded
            and diff.get("added_by_type") == {"IFCDOOR": 2}
            and diff.get("removed_by_type") == {"IFCWINDOW": 1}
            and diff.get("changed_by_type") == {"IFCRELDEFINESBYPROPERTIES": 1, "IFCWALL": 1},
            f"{diff.get('added')} added, {diff.get('removed')} removed, {diff.get('changed')} changed",
        )
    summary.extra["runs"] = 3
    summary.output_keys = sorted(cloud.list_keys(bucket, "results/") + cloud.list_keys(bucket, "models/"))
