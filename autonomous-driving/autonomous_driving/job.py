"""Segmentation of one run: stage its clouds, then start a Batch Transform job (or run its mock).

The invoke function runs this behind a ``.waitForTaskToken`` task. Both modes stage every point
cloud of the run that passed QC (``results.passed_clouds``) as transform input (KITTI float32 rows,
``application/x-kitti-bin``) under ``runs/<run-id>/segmentation/input/`` in the output bucket,
and write a job manifest next to it.

* Real mode: the task token goes into the DynamoDB token store under a short correlation id, and
  ``CreateTransformJob`` runs with that id as its ``CorrelationId`` tag (never the token: a tag
  value holds 256 characters). The execution then waits for the callback function.
* Mock mode: no SageMaker job. This function runs the reference segmentation on each staged input,
  writes the outputs where the job would (``<input>.out`` under ``.../output/``), verifies them
  exactly as the callback does, and calls ``SendTaskSuccess`` itself. As it settles the job, it
  also emits the callback's job metrics (``TransformJobsCompleted``, ``TransformJobsFailed``,
  ``TransformJobDuration``).

Nothing to segment (zero clouds, or none passed QC) is a SKIPPED success. Any error is reported at
once with ``SendTaskFailure`` and its reason, so the execution takes its Catch path instead of
waiting out ``TimeoutSeconds``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from autonomous_driving.results import SourceFile, passed_clouds
from autonomous_driving.transformjob import (
    JobManifest,
    RunLayout,
    StagedItem,
    record_failure,
    s3_uri,
    settle_outputs,
)
from shared.config import CommonConfig, env
from shared.errors import (
    SKIPPED,
    ObjectNotFoundError,
    ObjectTooLargeError,
    PatternError,
    StorageError,
    failed_result,
)
from shared.formats.pointcloud import (
    INPUT_CONTENT_TYPE,
    LABELS_CONTENT_TYPE,
    PointCloudError,
    detect_format,
    encode_transform_input,
    read,
)
from shared.observability import stats, xray_subsegment
from shared.s3ap import S3AccessPoint

if TYPE_CHECKING:
    from shared.tasktokens import TaskTokenStore

logger = logging.getLogger(__name__)

MOCK = "mock"
SAGEMAKER = "sagemaker"
MAX_PAYLOAD_MB = 100  # Batch Transform's per-request ceiling; one cloud is one request
MAX_CAUSE = 32_768
MAX_ERROR = 256
HEARTBEAT_INTERVAL_SECONDS = 60.0


class Heartbeat:
    """Sends SendTaskHeartbeat at most every ``interval`` seconds while this function works.

    Staging and, in mock mode, segmenting many large clouds can outlast ``HeartbeatSeconds``
    (at least 10 minutes; a function runs up to 15). A heartbeat that fails is logged, not fatal:
    the final SendTaskSuccess or SendTaskFailure reports whether the token is still valid.
    """

    def __init__(self, sfn: Any, token: str, interval: float = HEARTBEAT_INTERVAL_SECONDS) -> None:
        self.sfn, self.token, self.interval = sfn, token, interval
        self.last = time.monotonic()
        self.sent = 0

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        try:
            self.sfn.send_task_heartbeat(taskToken=self.token)
            self.sent += 1
        except ClientError as error:
            logger.warning("SendTaskHeartbeat failed (%s); carrying on", error)


class SegmentationError(PatternError):
    """The segmentation step cannot go on; reported to Step Functions with SendTaskFailure."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class InvokeConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    mock_mode: bool = env("MOCK_MODE", True)
    token_table: str = env("TOKEN_TABLE", "")
    model_name: str = env("MODEL_NAME", "")
    job_name_prefix: str = env("JOB_NAME_PREFIX", "uc9seg")
    instance_type: str = env("TRANSFORM_INSTANCE_TYPE", "ml.m5.xlarge")
    instance_count: int = env("TRANSFORM_INSTANCE_COUNT", 1)
    invocation_timeout_seconds: int = env("INVOCATION_TIMEOUT_SECONDS", 600)
    callback_timeout_seconds: int = env("CALLBACK_TIMEOUT_SECONDS", 86_400)
    max_pointcloud_mib: int = env("MAX_POINTCLOUD_MIB", 512)


def stage(
    source: S3AccessPoint,
    output: S3AccessPoint,
    layout: RunLayout,
    passed: list[tuple[SourceFile, dict[str, Any]]],
    beat: Callable[[], None] = lambda: None,
    *,
    max_bytes: int | None = None,
) -> tuple[list[StagedItem], list[dict[str, Any]]]:
    """Write each passed cloud as transform input; a cloud that cannot be staged is a FAILED item.

    ``max_bytes`` (MAX_POINTCLOUD_MIB) is checked from the object's length before its body is read.
    """
    staged: list[StagedItem] = []
    failures: list[dict[str, Any]] = []
    for index, (file, _qc) in enumerate(passed):
        beat()
        key = file.key
        try:
            data = source.get_bytes(key, if_match=file.etag or None, max_bytes=max_bytes)
            cloud = read(data, detect_format(key))
        except ObjectTooLargeError as error:
            failures.append(failed_result(f"{error.reason} (MAX_POINTCLOUD_MIB)", source_key=key))
            continue
        except (ObjectNotFoundError, PointCloudError) as error:
            failures.append(failed_result(f"could not be staged: {error.reason}", source_key=key))
            continue
        except StorageError as error:
            if error.details.get("code") != "PreconditionFailed":
                raise
            failures.append(
                failed_result("the file changed after QC; it is segmented next run", source_key=key)
            )
            continue
        body = encode_transform_input(cloud)
        if len(body) > MAX_PAYLOAD_MB * 1024 * 1024:
            reason = f"{cloud.count} points make a {len(body)}-byte request, above {MAX_PAYLOAD_MB} MB"
            failures.append(failed_result(reason, source_key=key))
            continue
        input_key, output_key = layout.input_key(index), layout.output_key(index)
        output.put(input_key, body, content_type=INPUT_CONTENT_TYPE)
        staged.append(StagedItem(index, key, input_key, output_key, cloud.count))
        stats().processed(files=1, bytes_=len(body))
    return staged, failures


def run_mock(output: S3AccessPoint, manifest: JobManifest, beat: Callable[[], None] = lambda: None) -> None:
    """What the transform container would do, in process: the reference model on every input."""
    from autonomous_driving import segmentation  # mock mode only: real mode never loads the model

    for item in manifest.items:
        beat()
        with xray_subsegment("reference_model", {"points": item.point_count}):
            labels = segmentation.reference_model(output.get_bytes(item.input_key), INPUT_CONTENT_TYPE)
        output.put(item.output_key, labels, content_type=LABELS_CONTENT_TYPE)


def mock_job(
    output: S3AccessPoint, manifest: JobManifest, beat: Callable[[], None] = lambda: None
) -> tuple[dict[str, Any], str | None]:
    """Run the mock job and verify it, counting its outcome as the callback counts a real job's.

    A model error counts as a failed job and still raises, so the task is failed with its reason.
    """
    started, completed = time.monotonic(), False
    try:
        run_mock(output, manifest, beat)
        payload, reason = settle_outputs(output, manifest, mode=MOCK)
        completed = reason is None
    finally:
        invocation = stats()
        invocation.put_metric("TransformJobsCompleted", 1 if completed else 0, "Count")
        invocation.put_metric("TransformJobsFailed", 0 if completed else 1, "Count")
        invocation.put_metric("TransformJobDuration", (time.monotonic() - started) * 1000, "Milliseconds")
    return payload, reason


def start_job(
    cfg: InvokeConfig,
    sagemaker: Any,
    store: TaskTokenStore,
    token: str,
    execution_id: str,
    layout: RunLayout,
) -> dict[str, Any]:
    """Store the token, then create the transform job tagged with the correlation id."""
    from shared.tasktokens import CORRELATION_TAG, job_name_for

    if not cfg.model_name:
        raise SegmentationError("MODEL_NAME is empty: real mode needs the stack's SageMaker model")
    job_name = job_name_for(cfg.job_name_prefix, execution_id, token)
    correlation_id = store.put(
        token,
        job_name,
        context={"manifest_key": layout.job_manifest, "bucket": cfg.output_bucket, "run_id": layout.run_id},
    )
    try:
        with xray_subsegment("create_transform_job", {"job_name": job_name}):
            sagemaker.create_transform_job(
                TransformJobName=job_name,
                ModelName=cfg.model_name,
                BatchStrategy="SingleRecord",
                MaxPayloadInMB=MAX_PAYLOAD_MB,
                ModelClientConfig={
                    "InvocationsTimeoutInSeconds": cfg.invocation_timeout_seconds,
                    "InvocationsMaxRetries": 1,
                },
                TransformInput={
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": s3_uri(cfg.output_bucket, layout.segmentation_input_prefix),
                        }
                    },
                    "ContentType": INPUT_CONTENT_TYPE,
                    "SplitType": "None",
                },
                TransformOutput={
                    "S3OutputPath": s3_uri(cfg.output_bucket, layout.segmentation_output_prefix),
                    "Accept": LABELS_CONTENT_TYPE,
                    "AssembleWith": "None",
                },
                TransformResources={"InstanceType": cfg.instance_type, "InstanceCount": cfg.instance_count},
                Tags=[
                    {"Key": CORRELATION_TAG, "Value": correlation_id},
                    {"Key": "RunId", "Value": layout.run_id},
                ],
            )
    except ClientError as error:
        reason = f"CreateTransformJob {job_name} failed: {error}"
        store.fail(correlation_id, reason)
        raise SegmentationError(reason, job_name=job_name) from error
    logger.info("started transform job %s (correlation id %s)", job_name, correlation_id)
    return {"status": "SUBMITTED", "mode": SAGEMAKER, "job_name": job_name, "correlation_id": correlation_id}


def segment(
    *, token: str, run_id: str, execution_id: str, cfg: InvokeConfig, clients: dict[str, Any]
) -> dict[str, Any]:
    """Stage the run's passed clouds, then run the mock or start the job. Returns what was done."""
    sfn = clients["stepfunctions"]
    layout = RunLayout(run_id)
    mode = MOCK if cfg.mock_mode else SAGEMAKER
    source = S3AccessPoint(cfg.access_point)
    output = S3AccessPoint(cfg.output_bucket)
    passed = list(passed_clouds(output, run_id))
    if not passed:
        result: dict[str, Any] = {
            "status": SKIPPED,
            "mode": mode,
            "reason": "no point cloud of this run passed QC",
            "count": 0,
        }
        sfn.send_task_success(taskToken=token, output=json.dumps(result))
        return result
    beat = Heartbeat(sfn, token)
    max_bytes = cfg.max_pointcloud_mib * 1024 * 1024
    staged, failures = stage(source, output, layout, passed, beat, max_bytes=max_bytes)
    if not staged:
        raise SegmentationError(
            f"none of {len(passed)} passed clouds could be staged; first: {failures[0]['reason']}"
        )
    manifest = JobManifest(
        layout.run_id, cfg.output_bucket, INPUT_CONTENT_TYPE, tuple(staged), tuple(failures)
    )
    output.put(layout.job_manifest, manifest.to_json(), content_type="application/json")
    if mode == SAGEMAKER:
        from shared.tasktokens import TaskTokenStore  # real mode only

        store = TaskTokenStore(
            cfg.token_table, client=clients["dynamodb"], ttl_seconds=cfg.callback_timeout_seconds
        )
        return start_job(cfg, clients["sagemaker"], store, token, execution_id, layout)
    payload, reason = mock_job(output, manifest, beat)
    if reason is not None:
        raise SegmentationError(reason)
    sfn.send_task_success(taskToken=token, output=json.dumps(payload))
    return payload


def report_failure(
    sfn: Any,
    token: str,
    error: BaseException,
    output: S3AccessPoint | None = None,
    run_id: str = "",
    mode: str = "",
) -> dict[str, Any]:
    """SendTaskFailure with the error's type and reason, so the execution's Catch runs now.

    The reason is also written as the run's segmentation result when possible, because the Catch
    output is only promised to carry the error name.
    """
    reason = error.reason if isinstance(error, PatternError) else f"{type(error).__name__}: {error}"
    name = f"Segmentation.{type(error).__name__}"[:MAX_ERROR]
    if output is not None and run_id:
        try:
            record_failure(output, run_id, reason, mode=mode)
        except PatternError as write_error:
            logger.warning("could not record the segmentation failure in S3: %s", write_error.reason)
    sfn.send_task_failure(taskToken=token, error=name, cause=reason[:MAX_CAUSE])
    stats().failed()
    return failed_result(reason, error=name)
