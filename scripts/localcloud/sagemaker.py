"""SageMaker Batch Transform jobs that run a registered local model on the job's S3 input.

moto records CreateTransformJob as Completed at once and writes nothing. This adapter keeps the job
``InProgress`` until :meth:`SageMakerAdapter.complete_pending` runs it (the local cloud does that
while it waits for a Step Functions execution, which is when a real job would finish), then:

* lists the input (``S3DataType: S3Prefix`` under ``S3Uri``, or a ``ManifestFile``) and calls the
  model registered for the job's ``ModelName`` (or the default model) once per object with the
  object's bytes and the job's ``ContentType``;
* writes each answer to ``<S3OutputPath>/<path of the input under the prefix>.out``, as Batch
  Transform names its output objects;
* sets the job to ``Completed``, or to ``Failed`` with a ``FailureReason`` when the model raised;
* puts the ``SageMaker Transform Job State Change`` event (``source: aws.sagemaker``) whose detail
  carries TransformJobName, TransformJobArn, TransformJobStatus, FailureReason, ModelName, the
  input/output configuration, the times and the job's Tags as a map; rules deliver it.

A model is a plain function ``(input bytes, content type) -> output bytes``; the use cases supply
their reference algorithm this way.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import posixpath
from collections.abc import Callable
from typing import Any

from moto.core.utils import utcnow

from scripts.localcloud.runtime import Patches

logger = logging.getLogger(__name__)

ModelFn = Callable[[bytes, str], bytes]

DETAIL_TYPE = "SageMaker Transform Job State Change"


def _split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _epoch_ms(value: Any) -> int | None:
    if isinstance(value, dt.datetime):
        return int(value.replace(tzinfo=value.tzinfo or dt.UTC).timestamp() * 1000)
    return None


class SageMakerAdapter:
    """Queues transform jobs on create and runs them with registered local models."""

    def __init__(self, session: Any, region: str, account_id: str) -> None:
        self.s3 = session.client("s3", region_name=region)
        self.events = session.client("events", region_name=region)
        self.region = region
        self.account_id = account_id
        self.models: dict[str | None, ModelFn] = {}
        self.pending: list[str] = []
        self.finished: dict[str, str] = {}
        self._patches = Patches()

    def register_model(self, model_name: str | None, fn: ModelFn) -> None:
        """Use ``fn`` for jobs of ``model_name`` (``None``: for any model without its own function)."""
        self.models[model_name] = fn

    def install(self) -> None:
        from moto.sagemaker.models import SageMakerModelBackend

        original = Patches.original(SageMakerModelBackend, "create_transform_job")
        adapter = self

        def create_transform_job(self: Any, *args: Any, **kwargs: Any) -> Any:
            job = original(self, *args, **kwargs)
            job.transform_job_status = "InProgress"
            job.transform_end_time = None
            adapter.pending.append(job.transform_job_name)
            return job

        self._patches.patch(SageMakerModelBackend, "create_transform_job", create_transform_job)

    def uninstall(self) -> None:
        self._patches.undo()

    def _backend(self) -> Any:
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[self.account_id][self.region]

    def complete_pending(self) -> bool:
        """Run every queued job; True if any ran."""
        ran = False
        while self.pending:
            self.run_job(self.pending.pop(0))
            ran = True
        return ran

    def _inputs(self, transform_input: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
        """The input bucket and (key, path relative to the prefix) of every input object."""
        source = transform_input["DataSource"]["S3DataSource"]
        kind = source.get("S3DataType", "S3Prefix")
        bucket, prefix = _split_uri(source["S3Uri"])
        if kind == "ManifestFile":
            manifest = json.loads(self.s3.get_object(Bucket=bucket, Key=prefix)["Body"].read())
            base_bucket, base = _split_uri(manifest[0]["prefix"])
            return base_bucket, [(base + rel, rel) for rel in manifest[1:]]
        if kind != "S3Prefix":
            raise ValueError(f"S3DataType {kind} is not supported locally")
        items = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                relative = obj["Key"][len(prefix) :].lstrip("/") if prefix else obj["Key"]
                items.append((obj["Key"], relative or posixpath.basename(obj["Key"])))
        return bucket, items

    def run_job(self, name: str) -> str:
        """Run one job now and put its state-change event; return the final status."""
        job = self._backend().transform_jobs[name]
        model = self.models.get(job.model_name) or self.models.get(None)
        status, reason = "Completed", ""
        try:
            if model is None:
                raise LookupError(f"no local model is registered for {job.model_name!r}")
            content_type = str(job.transform_input.get("ContentType") or "application/octet-stream")
            bucket, items = self._inputs(job.transform_input)
            if not items:
                raise LookupError("the input location holds no objects")
            out_bucket, out_prefix = _split_uri(job.transform_output["S3OutputPath"])
            accept = job.transform_output.get("Accept") or "application/octet-stream"
            for key, relative in items:
                body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                answer = model(body, content_type)
                out_key = posixpath.join(out_prefix, relative + ".out") if out_prefix else relative + ".out"
                self.s3.put_object(Bucket=out_bucket, Key=out_key, Body=answer, ContentType=accept)
        except Exception as error:  # noqa: BLE001 - a model failure fails the job, as on SageMaker
            status, reason = "Failed", f"AlgorithmError: {type(error).__name__}: {error}"
            logger.warning("transform job %s failed: %s", name, reason)
        job.transform_job_status = status
        job.failure_reason = reason
        job.transform_end_time = utcnow()
        job.last_modified_time = job.transform_end_time
        self.finished[name] = status
        self._put_event(job, status, reason)
        return status

    def _put_event(self, job: Any, status: str, reason: str) -> None:
        tags = {tag["Key"]: tag["Value"] for tag in (job.tags or [])} if isinstance(job.tags, list) else {}
        detail: dict[str, Any] = {
            "TransformJobName": job.transform_job_name,
            "TransformJobArn": job.arn,
            "TransformJobStatus": status,
            "ModelName": job.model_name,
            "TransformInput": job.transform_input,
            "TransformOutput": job.transform_output,
            "TransformResources": job.transform_resources,
            "CreationTime": _epoch_ms(job.creation_time),
            "TransformStartTime": _epoch_ms(job.transform_start_time),
            "TransformEndTime": _epoch_ms(job.transform_end_time),
            "Tags": tags,
        }
        if reason:
            detail["FailureReason"] = reason
        self.events.put_events(
            Entries=[
                {
                    "Source": "aws.sagemaker",
                    "DetailType": DETAIL_TYPE,
                    "Detail": json.dumps(detail, default=str),
                    "Resources": [job.arn],
                }
            ]
        )
