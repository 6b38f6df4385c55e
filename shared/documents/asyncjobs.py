"""An asynchronous Textract job behind a Step Functions task token, both ends (as UC9 waits).

The invoke side (:func:`start_with_token`, run by a ``lambda:invoke.waitForTaskToken`` task):
stage the pages that need OCR in the staging bucket, store the task token in the
:class:`~shared.tasktokens.TaskTokenStore` (the job name is derived from the execution and the
token, so a retried invocation with the same token gets the same name), and start the job with
the store's correlation id as ``JobTag`` (and ``ClientRequestToken``, so a retried start returns
the same job). A start that fails settles the token as FAILED and deletes the staged copy.

The callback side (:func:`settle_notifications`, subscribed to the job's SNS topic): for each
completion message, find the token by the ``JobTag``, claim it once (a duplicate message is a
logged no-op), and ``SendTaskSuccess`` with pointers (job id, staged copy, page map) or, on a
failed job, delete the staged copy and ``SendTaskFailure`` with Textract's ``StatusMessage``.
The step after the wait :func:`~shared.documents.textract.collect` s the results and unstages.
Nothing here logs document content.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared.documents.inspect import DocumentInfo
from shared.documents.textract import (
    ANALYSIS,
    DEFAULT_FEATURES,
    EXPENSE,
    SUCCEEDED,
    StagedDocument,
    parse_notification,
    stage,
    start_job,
    unstage,
)
from shared.errors import aws_error_code
from shared.tasktokens import TaskTokenStore, job_name_for

logger = logging.getLogger(__name__)

_GONE = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}
MAX_CAUSE = 32_768


@dataclass(frozen=True)
class AsyncSettings:
    staging_bucket: str
    topic_arn: str
    role_arn: str
    job_name_prefix: str
    kms_key_id: str = ""


def start_with_token(
    *,
    token: str,
    execution_id: str,
    data: bytes,
    info: DocumentInfo,
    pages: Sequence[int],
    kind: str,
    staging_key: str,
    settings: AsyncSettings,
    textract: Any,
    s3: Any,
    store: TaskTokenStore,
    features: Sequence[str] = DEFAULT_FEATURES,
) -> dict[str, Any]:
    """Stage, store the token, start the job; returns the job id and correlation id."""
    staged = stage(s3, data, info, pages, settings.staging_bucket, staging_key)
    job_name = job_name_for(settings.job_name_prefix, execution_id, token)
    correlation_id = store.put(
        token,
        job_name,
        context={
            "staging_bucket": staged.bucket,
            "staging_key": staged.key,
            "page_map": ",".join(str(p) for p in staged.page_map),
            "kind": kind,
        },
    )
    try:
        job_id = start_job(
            textract,
            staged,
            kind,
            topic_arn=settings.topic_arn,
            role_arn=settings.role_arn,
            job_tag=correlation_id,
            request_token=correlation_id,
            features=features,
            kms_key_id=settings.kms_key_id,
        )
    except Exception as error:
        store.fail(correlation_id, f"start failed: {type(error).__name__}")
        unstage(s3, staged)
        raise
    logger.info("started Textract %s job %s (correlation id %s)", kind, job_id, correlation_id)
    return {
        "status": "STARTED",
        "job_id": job_id,
        "correlation_id": correlation_id,
        "pages": len(staged.page_map),
    }


def staged_from(context: Mapping[str, str]) -> StagedDocument:
    page_map = tuple(int(p) for p in context.get("page_map", "").split(",") if p)
    return StagedDocument(context["staging_bucket"], context["staging_key"], page_map)


def _status_message(textract: Any, job_id: str, kind: str) -> str:
    try:
        if kind == EXPENSE:
            answer = textract.get_expense_analysis(JobId=job_id, MaxResults=1)
        else:
            answer = textract.get_document_analysis(JobId=job_id, MaxResults=1)
    except ClientError as error:
        return f"status unreadable ({aws_error_code(error)})"
    return str(answer.get("StatusMessage") or "no status message")


def settle_notifications(
    event: Mapping[str, Any], *, store: TaskTokenStore, sfn: Any, textract: Any, s3: Any
) -> list[dict[str, Any]]:
    """Resume the execution waiting for each job in an SNS event; one outcome per message."""
    outcomes = []
    for note in parse_notification(event):
        record = store.get(correlation_id=note.job_tag) if note.job_tag else None
        if record is None:
            logger.warning(
                "Textract job %s has no waiting token (JobTag %r); ignored", note.job_id, note.job_tag
            )
            outcomes.append({"job_id": note.job_id, "outcome": "IGNORED"})
            continue
        if not record.waiting:
            logger.warning("Textract job %s was already settled; duplicate message ignored", note.job_id)
            outcomes.append({"job_id": note.job_id, "outcome": "DUPLICATE"})
            continue
        staged = staged_from(record.context)
        kind = record.context.get("kind", ANALYSIS)
        success = note.status == SUCCEEDED
        payload = {
            "job_id": note.job_id,
            "status": note.status,
            "kind": kind,
            "staging_bucket": staged.bucket,
            "staging_key": staged.key,
            "page_map": list(staged.page_map),
        }
        cause = ""
        if not success:
            message = _status_message(textract, note.job_id, kind)
            cause = f"Textract job {note.job_id} ended {note.status}: {message}"
        claimed = (
            store.complete(record.correlation_id, note.job_id)
            if success
            else store.fail(record.correlation_id, cause)
        )
        if not claimed:
            outcomes.append({"job_id": note.job_id, "outcome": "DUPLICATE"})
            continue
        if not success:
            unstage(s3, staged)
        try:
            if success:
                sfn.send_task_success(taskToken=record.token, output=json.dumps(payload))
            else:
                sfn.send_task_failure(
                    taskToken=record.token, error="Textract.JobFailed", cause=cause[:MAX_CAUSE]
                )
        except ClientError as error:
            if aws_error_code(error) in _GONE:
                logger.warning("the execution waiting on Textract job %s is gone", note.job_id)
                outcomes.append({"job_id": note.job_id, "outcome": "EXECUTION_GONE"})
                continue
            store.release(record.correlation_id)
            raise
        outcomes.append({"job_id": note.job_id, "outcome": note.status})
    return outcomes
