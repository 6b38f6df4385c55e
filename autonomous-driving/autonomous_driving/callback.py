"""Settling a Batch Transform job: resume the execution that waits for it when the job ends.

Two triggers:

* The EventBridge rule for ``SageMaker Transform Job State Change`` (scoped to this stack's
  job-name prefix). The token is found by the ``CorrelationId`` tag carried in the event, or by the
  job name when the event has no tags. On ``Completed`` every output is verified (it exists, parses,
  and has one label per input point) before ``SendTaskSuccess`` with pointers and counts; a bad
  output, ``Failed`` or ``Stopped`` become ``SendTaskFailure`` with the reason. An unknown job is
  logged and ignored.
* A schedule (``{"action": "heartbeat"}``) that sweeps the tokens still waiting: a job still
  running earns a ``SendTaskHeartbeat`` (so ``HeartbeatSeconds`` means "the job is alive"), and a
  job that already ended is settled from ``DescribeTransformJob``, which covers a lost event.

Each token is settled once: the store's conditional update claims it first, so a duplicate event
is a logged no-op. If ``SendTask*`` then fails for a reason worth retrying, the claim is released
and the function raises, so Lambda's asynchronous retry delivers the event again.

SageMaker publishes no per-job outcome metric, so the settling is counted here:
``TransformJobsCompleted`` (outputs verified) and ``TransformJobsFailed`` (failed, stopped, missing,
or outputs that do not verify) per settled job, and ``TransformJobDuration`` from the job's start
and end times where the event or ``DescribeTransformJob`` has them. The dashboard's SageMaker
widget queries exactly these names.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from autonomous_driving.transformjob import (
    JobManifest,
    LayoutError,
    job_duration_ms,
    record_failure,
    settle_outputs,
)
from shared.config import CommonConfig, env
from shared.errors import SUCCEEDED, ObjectNotFoundError, aws_error_code
from shared.observability import stats
from shared.s3ap import S3AccessPoint
from shared.tasktokens import CORRELATION_TAG, TaskTokenStore, TokenRecord, tags_from_event

logger = logging.getLogger(__name__)

COMPLETED = "Completed"
FAILED_STATES = {"Failed", "Stopped"}
RUNNING_STATES = {"InProgress", "Stopping"}
# SendTask* errors that mean the execution no longer waits: retrying can never succeed.
_GONE = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}
IGNORED = "IGNORED"
DUPLICATE = "DUPLICATE"
MAX_CAUSE = 32_768


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallbackConfig(CommonConfig):
    output_bucket: str = env("OUTPUT_BUCKET")
    token_table: str = env("TOKEN_TABLE")
    job_name_prefix: str = env("JOB_NAME_PREFIX")
    callback_timeout_seconds: int = env("CALLBACK_TIMEOUT_SECONDS", 86_400)


@dataclasses.dataclass
class Clients:
    stepfunctions: Any
    sagemaker: Any
    store: TaskTokenStore
    output: S3AccessPoint


def find_record(store: TaskTokenStore, job_name: str, tags: dict[str, str]) -> TokenRecord | None:
    """The token record for a job: by correlation id from its tags, else by its name."""
    correlation_id = tags.get(CORRELATION_TAG)
    record = store.get(correlation_id=correlation_id) if correlation_id else store.get(job_name=job_name)
    if record is not None and record.job_name != job_name:
        logger.warning(
            "correlation id %s belongs to job %s, not %s; ignoring", correlation_id, record.job_name, job_name
        )
        return None
    return record


def _send(clients: Clients, record: TokenRecord, success: bool, output: str, error: str, cause: str) -> str:
    """Claim the token once, then SendTaskSuccess/Failure; release the claim if sending should be retried."""
    claimed = (
        clients.store.complete(record.correlation_id, output[:1024])
        if success
        else clients.store.fail(record.correlation_id, cause)
    )
    if not claimed:
        logger.warning("job %s was already settled; this callback is a no-op", record.job_name)
        return DUPLICATE
    try:
        if success:
            clients.stepfunctions.send_task_success(taskToken=record.token, output=output)
        else:
            clients.stepfunctions.send_task_failure(
                taskToken=record.token, error=error, cause=cause[:MAX_CAUSE]
            )
    except ClientError as exc:
        if aws_error_code(exc) in _GONE:
            logger.warning(
                "the execution waiting on job %s is gone (%s); nothing to resume",
                record.job_name,
                aws_error_code(exc),
            )
            return "EXECUTION_GONE"
        clients.store.release(record.correlation_id)
        raise
    return SUCCEEDED if success else "FAILED"


def count_outcome(succeeded: bool) -> None:
    """One settled job: 1 in TransformJobsCompleted or TransformJobsFailed, 0 in the other."""
    invocation = stats()
    invocation.put_metric("TransformJobsCompleted", 1 if succeeded else 0, "Count")
    invocation.put_metric("TransformJobsFailed", 0 if succeeded else 1, "Count")


def put_duration(durations: list[float]) -> None:
    """TransformJobDuration, once per invocation because ``stats()`` adds repeated values up: the
    job's own, or the longest when a heartbeat sweep settles several ended jobs at once."""
    if durations:
        stats().put_metric("TransformJobDuration", max(durations), "Milliseconds")


def settle(
    clients: Clients, record: TokenRecord, status: str, job: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Resume the execution for a job that reached a final status.

    ``job`` is the event's ``detail`` or the ``DescribeTransformJob`` answer: it carries the failure
    reason and the start and end times. The result has ``duration_ms`` when those times are known.
    """
    job = job or {}
    if not record.waiting:
        logger.warning("job %s already settled as %s; ignoring %s", record.job_name, record.state, status)
        return {"status": DUPLICATE, "job_name": record.job_name}
    result = _settle(clients, record, status, str(job.get("FailureReason") or ""))
    if result["status"] != DUPLICATE:
        count_outcome("result_key" in result)  # only a verified output carries its result key
        duration = job_duration_ms(job)
        if duration is not None:
            result["duration_ms"] = duration
    return result


def _settle(clients: Clients, record: TokenRecord, status: str, failure_reason: str) -> dict[str, Any]:
    if status in FAILED_STATES:
        reason = failure_reason or f"the transform job was {status.lower()} without a reason"
        return _fail(clients, record, status, f"SageMaker.TransformJob{status}", reason)
    try:
        manifest = JobManifest.from_json(clients.output.get_bytes(record.context["manifest_key"]))
    except (KeyError, ObjectNotFoundError, LayoutError) as error:
        missing = f"the job manifest of {record.job_name} cannot be read: {error}"
        return _fail(clients, record, status, "Segmentation.ManifestMissing", missing)
    payload, invalid = settle_outputs(clients.output, manifest, mode="sagemaker", job_name=record.job_name)
    stats().processed(files=len(manifest.items))
    if invalid is not None:
        stats().failed()
        sent = _send(clients, record, False, "", "Segmentation.OutputInvalid", invalid)
        return {"status": sent, "job_name": record.job_name, "job_status": status, "reason": invalid}
    sent = _send(clients, record, True, json.dumps(payload), "", "")
    return {
        "status": sent,
        "job_name": record.job_name,
        "job_status": status,
        "result_key": payload["result_key"],
    }


def _fail(clients: Clients, record: TokenRecord, status: str, error: str, reason: str) -> dict[str, Any]:
    """Keep the reason in the run's segmentation result, fail the task with it, count the error."""
    run_id = record.context.get("run_id")
    if run_id:
        record_failure(clients.output, run_id, reason, mode="sagemaker", job_name=record.job_name)
    sent = _send(clients, record, False, "", error, reason)
    stats().failed()
    return {"status": sent, "job_name": record.job_name, "job_status": status, "reason": reason}


def on_state_change(clients: Clients, cfg: CallbackConfig, event: dict[str, Any]) -> dict[str, Any]:
    detail = event.get("detail") or {}
    job_name = str(detail.get("TransformJobName", ""))
    status = str(detail.get("TransformJobStatus", ""))
    if not job_name.startswith(f"{cfg.job_name_prefix}-"):
        logger.info("job %r is not one of this stack's (prefix %s); ignoring", job_name, cfg.job_name_prefix)
        return {"status": IGNORED, "job_name": job_name, "reason": "not this stack's job"}
    if status != COMPLETED and status not in FAILED_STATES:
        logger.info("job %s is %s; waiting for a final state", job_name, status)
        return {"status": IGNORED, "job_name": job_name, "reason": f"status {status} is not final"}
    record = find_record(clients.store, job_name, tags_from_event(detail))
    if record is None:
        logger.warning("no task token for job %s; an unknown or foreign job, ignored", job_name)
        return {"status": IGNORED, "job_name": job_name, "reason": "unknown job"}
    result = settle(clients, record, status, detail)
    put_duration([result["duration_ms"]] if "duration_ms" in result else [])
    return result


def heartbeat(clients: Clients) -> dict[str, Any]:
    """Heartbeat running jobs and settle ended ones whose event never arrived."""
    outcomes: dict[str, int] = {}
    durations: list[float] = []
    for record in clients.store.waiting():
        try:
            job = clients.sagemaker.describe_transform_job(TransformJobName=record.job_name)
        except ClientError as error:
            if aws_error_code(error) not in {"ValidationException", "ResourceNotFound"}:
                raise
            reason = f"transform job {record.job_name} does not exist"
            outcome = _fail(clients, record, "Missing", "SageMaker.TransformJobMissing", reason)["status"]
            if outcome != DUPLICATE:
                count_outcome(False)
        else:
            status = job.get("TransformJobStatus", "")
            if status in RUNNING_STATES:
                outcome = _beat(clients, record)
            else:
                result = settle(clients, record, status, job)
                outcome = result["status"]
                durations += [result["duration_ms"]] if "duration_ms" in result else []
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    put_duration(durations)
    return {"status": SUCCEEDED, "action": "heartbeat", "outcomes": outcomes}


def _beat(clients: Clients, record: TokenRecord) -> str:
    try:
        clients.stepfunctions.send_task_heartbeat(taskToken=record.token)
    except ClientError as error:
        if aws_error_code(error) not in _GONE:
            raise
        clients.store.fail(record.correlation_id, f"execution no longer waits: {aws_error_code(error)}")
        return "EXECUTION_GONE"
    return "HEARTBEAT"
