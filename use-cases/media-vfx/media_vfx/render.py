"""Re-rendering missing or bad frames on AWS Deadline Cloud, followed to its end by a Wait/Choice loop.

:func:`job_template` is an Open Job Description template (``specificationVersion:
jobtemplate-2023-09``): job parameters ``Sequence`` (the frame pattern), ``Frames`` (an OpenJD range
expression such as ``12,17-19``), ``Padding`` and ``RenderCommand``; one step ``RenderFrames``
whose ``parameterSpace`` has one INT task parameter ``Frame`` ranging over ``{{Param.Frames}}``, so
Deadline Cloud runs one task per frame. The frame list travels in CreateJob's separate
``parameters`` map, never baked into the template.

:func:`submit` creates one job per sequence of the run's render request (idempotent through a
client token derived from the run and the sequence version) and returns the jobs to follow.
:func:`status` reads each job (GetJob) and answers ``RUNNING`` until every job has reached a final
task-run status (SUCCEEDED, FAILED, CANCELED, SUSPENDED, NOT_COMPATIBLE) or failed to be created;
past the deadline it cancels the jobs still running and answers ``TIMED_OUT``. The state machine
waits ``RenderPollSeconds`` between calls; the recheck step then checks the frames again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from shared.config import CommonConfig, env

logger = logging.getLogger(__name__)

SPEC_VERSION = "jobtemplate-2023-09"
FINAL_TASK_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "SUSPENDED", "NOT_COMPATIBLE"})
FAILED_LIFECYCLE = frozenset({"CREATE_FAILED", "UPLOAD_FAILED"})
RUNNING, SUCCEEDED, FAILED, TIMED_OUT = "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RenderConfig(CommonConfig):
    output_bucket: str = env("OUTPUT_BUCKET")
    farm_id: str = env("DEADLINE_FARM_ID", "")
    queue_id: str = env("DEADLINE_QUEUE_ID", "")
    render_command: str = env("RENDER_COMMAND", "render-frame")
    render_deadline_seconds: int = env("RENDER_DEADLINE_SECONDS", 3600)
    job_priority: int = env("RENDER_JOB_PRIORITY", 50)
    max_retries_per_task: int = env("RENDER_MAX_RETRIES_PER_TASK", 2)


def job_template(name: str = "fsxn media-vfx re-render") -> dict[str, Any]:
    """The Open Job Description job template (one task per frame of ``Frames``)."""
    return {
        "specificationVersion": SPEC_VERSION,
        "name": name,
        "description": "Re-renders the missing or bad frames of one sequence, one task per frame.",
        "parameterDefinitions": [
            {
                "name": "Sequence",
                "type": "STRING",
                "description": "Frame pattern, #### for the number.",
                "minLength": 1,
            },
            {
                "name": "Frames",
                "type": "STRING",
                "description": "Frames to render, a range expression (12,17-19).",
                "minLength": 1,
            },
            {"name": "Padding", "type": "INT", "default": 4, "minValue": 1, "maxValue": 10},
            {
                "name": "RenderCommand",
                "type": "STRING",
                "default": "render-frame",
                "description": "The renderer's wrapper on the worker: <command> <pattern> <frame> <padding>.",
            },
        ],
        "steps": [
            {
                "name": "RenderFrames",
                "parameterSpace": {
                    "taskParameterDefinitions": [
                        {"name": "Frame", "type": "INT", "range": "{{Param.Frames}}"}
                    ]
                },
                "script": {
                    "actions": {
                        "onRun": {
                            "command": "{{Param.RenderCommand}}",
                            "args": ["{{Param.Sequence}}", "{{Task.Param.Frame}}", "{{Param.Padding}}"],
                            "timeout": 3600,
                        }
                    }
                },
            }
        ],
    }


def job_parameters(entry: Mapping[str, Any], render_command: str) -> dict[str, dict[str, str]]:
    """CreateJob's ``parameters`` map for one sequence of the render request."""
    return {
        "Sequence": {"string": str(entry["sequence"])},
        "Frames": {"string": str(entry["range"])},
        "Padding": {"int": str(max(int(entry["padding"]), 1))},
        "RenderCommand": {"string": render_command},
    }


def client_token(run_id: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(f"{run_id}\n{entry['sequence']}\n{entry['version']}".encode()).hexdigest()[:64]


def submit(
    deadline: Any, request: Mapping[str, Any], cfg: RenderConfig, *, now: float | None = None
) -> dict[str, Any]:
    """Create one job per sequence; the state the status loop carries (jobs, submission time)."""
    template = json.dumps(job_template())
    jobs = []
    for entry in request["sequences"]:
        answer = deadline.create_job(
            farmId=cfg.farm_id,
            queueId=cfg.queue_id,
            template=template,
            templateType="JSON",
            priority=cfg.job_priority,
            parameters=job_parameters(entry, cfg.render_command),
            maxRetriesPerTask=cfg.max_retries_per_task,
            targetTaskRunStatus="READY",
            clientToken=client_token(str(request["run_id"]), entry),
        )
        jobs.append({"job_id": answer["jobId"], "sequence": entry["sequence"], "frames": entry["range"]})
        logger.info(
            "submitted re-render job %s for %s frames %s", answer["jobId"], entry["sequence"], entry["range"]
        )
    return {
        "state": RUNNING,
        "jobs": jobs,
        "submitted_at": int(now if now is not None else time.time()),
        "polls": 0,
    }


def _job_state(job: Mapping[str, Any]) -> str:
    if job.get("lifecycleStatus") in FAILED_LIFECYCLE:
        return FAILED
    status = str(job.get("taskRunStatus", ""))
    if status == "SUCCEEDED":
        return SUCCEEDED
    if status in FINAL_TASK_STATUSES:
        return FAILED
    return RUNNING


def status(
    deadline: Any, render: Mapping[str, Any], cfg: RenderConfig, *, now: float | None = None
) -> dict[str, Any]:
    """One poll of the run's jobs: RUNNING, SUCCEEDED, FAILED (any job failed) or TIMED_OUT."""
    jobs: list[dict[str, Any]] = []
    for job in render["jobs"]:
        answer = deadline.get_job(farmId=cfg.farm_id, queueId=cfg.queue_id, jobId=job["job_id"])
        jobs.append(
            {
                **job,
                "state": _job_state(answer),
                "task_run_status": answer.get("taskRunStatus", ""),
                "lifecycle_status": answer.get("lifecycleStatus", ""),
                "task_counts": answer.get("taskRunStatusCounts", {}),
            }
        )
    states = {j["state"] for j in jobs}
    elapsed = int((now if now is not None else time.time()) - int(render["submitted_at"]))
    if RUNNING in states and elapsed >= cfg.render_deadline_seconds:
        for job in jobs:
            if job["state"] == RUNNING:
                deadline.update_job(
                    farmId=cfg.farm_id,
                    queueId=cfg.queue_id,
                    jobId=job["job_id"],
                    targetTaskRunStatus="CANCELED",
                )
                job["state"] = "CANCELED"
        state = TIMED_OUT
    elif RUNNING in states:
        state = RUNNING
    else:
        state = SUCCEEDED if states <= {SUCCEEDED} else FAILED
    return {
        "state": state,
        "jobs": jobs,
        "submitted_at": render["submitted_at"],
        "polls": int(render.get("polls", 0)) + 1,
        "elapsed_seconds": elapsed,
    }
