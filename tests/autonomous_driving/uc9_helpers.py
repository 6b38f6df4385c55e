"""Helpers for the UC9 tests: names, stand-in clients, sample files and the test context."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from PIL import Image

from shared import clients
from shared.formats.samples import pointclouds as samples
from shared.formats.samples.video import write_mp4
from shared.tasktokens import TaskTokenStore, table_definition
from tests.handlers import load_handler

REGION = "us-east-1"
OUTPUT_BUCKET = "uc9-output"
TOKEN_TABLE = "uc9-task-tokens"
JOB_PREFIX = "uc9-1a2b3c4d"
FUNCTIONS = (
    "discovery",
    "video_metadata",
    "pointcloud_qc",
    "segmentation_invoke",
    "segmentation_callback",
    "annotation_manager",
)


def load(name: str) -> ModuleType:
    return load_handler(f"autonomous-driving/functions/{name}/handler.py")


# The six handlers, loaded once per test process and shared by the test modules.
discovery, video, qc, invoke, callback, annotate = (load(name) for name in FUNCTIONS)


@dataclass
class StepFunctionsRecorder:
    """Stands in for the Step Functions client: records SendTask* calls, or raises a chosen error."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    error: Exception | None = None

    def _record(self, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        self.calls.append((name, kwargs))
        return {}

    def send_task_success(self, **kwargs: Any) -> dict[str, Any]:
        json.loads(kwargs["output"])  # Step Functions refuses output that is not JSON
        assert len(kwargs["output"].encode()) <= 256 * 1024
        return self._record("success", kwargs)

    def send_task_failure(self, **kwargs: Any) -> dict[str, Any]:
        assert len(kwargs["error"]) <= 256
        return self._record("failure", kwargs)

    def send_task_heartbeat(self, **kwargs: Any) -> dict[str, Any]:
        return self._record("heartbeat", kwargs)

    def only(self) -> tuple[str, dict[str, Any]]:
        assert len(self.calls) == 1, self.calls
        return self.calls[0]


@dataclass
class Uc9:
    """Handles for one test: clients, buckets and helpers."""

    s3: Any
    volume: str
    ap_arn: str
    dynamodb: Any
    monkeypatch: pytest.MonkeyPatch

    @classmethod
    def create(cls, access_point: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Uc9:
        """The volume's access point plus the output bucket, the token table and the functions' settings."""
        s3 = access_point["client"]
        s3.create_bucket(Bucket=OUTPUT_BUCKET)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**table_definition(TOKEN_TABLE))
        context = cls(s3, access_point["bucket"], access_point["arn"], dynamodb, monkeypatch)
        context.env(
            USE_CASE="autonomous-driving",
            ENVIRONMENT="test",
            ENABLE_XRAY="false",
            ACCESS_POINT=access_point["arn"],
            OUTPUT_BUCKET=OUTPUT_BUCKET,
            TOKEN_TABLE=TOKEN_TABLE,
            JOB_NAME_PREFIX=JOB_PREFIX,
            QC_MIN_POINTS="100",
            MAX_FILES_PER_RUN="50",
        )
        return context

    def store(self) -> TaskTokenStore:
        return TaskTokenStore(TOKEN_TABLE, client=self.dynamodb)

    def discover(self, name: str = "run-1") -> dict[str, Any]:
        """The discover action, as a run started outside Step Functions (no overlap check)."""
        return dict(discovery.handler({"run_id": name}, None))

    def files(self, found: dict[str, Any]) -> list[dict[str, Any]]:
        """Every file of a run's manifest, loaded chunk by chunk as the Distributed Map does."""
        chunks = self.output_json(found["chunks_key"])
        files: list[dict[str, Any]] = []
        for chunk in chunks:
            loaded = discovery.handler(
                {"action": "load_chunk", "run_id": found["run_id"], "chunk": chunk}, None
            )
            files.extend({**file, "run_id": found["run_id"]} for file in loaded["files"])
        return files

    def analyse(self, name: str = "run-1") -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Discovery, then each file through its per-file step: (discovery, per-file results)."""
        found = self.discover(name)
        steps = {"video": video, "pointcloud": qc}
        return found, [steps[file["kind"]].handler(file, None) for file in self.files(found)]

    def result(self, key: str) -> dict[str, Any]:
        """The one result document of ``key`` (whatever its version)."""
        keys = self.output_keys(f"results/by-key/{key}/")
        assert len(keys) == 1, keys
        return dict(self.output_json(keys[0]))

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.volume, Key=key, Body=body)

    def output_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read())

    def output_keys(self, prefix: str = "") -> list[str]:
        response = self.s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix=prefix)
        return [item["Key"] for item in response.get("Contents", [])]

    def env(self, **values: str) -> None:
        for name, value in values.items():
            self.monkeypatch.setenv(name, value)

    def execution_id(self, name: str = "run-1") -> str:
        return f"arn:aws:states:{REGION}:123456789012:execution:uc9-pipeline:{name}"


def cloud_bytes(fmt: str, n: int = 2000, seed: int = 0) -> bytes:
    return samples.write(samples.synthetic_scene(n, seed), fmt)


def jpeg(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 140, 200)).save(out, format="JPEG")
    return out.getvalue()


def mp4(**kwargs: Any) -> bytes:
    return write_mp4(**kwargs)


TRANSFORM_METRICS = {"TransformJobsCompleted", "TransformJobsFailed", "TransformJobDuration"}


def emf_lines(stdout: str) -> list[dict[str, Any]]:
    """The EMF documents a handler printed (one JSON object per line with an ``_aws`` block)."""
    docs = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            docs.append(json.loads(line))
    return docs


def transform_metrics(stdout: str) -> dict[str, tuple[float, str]]:
    """Name -> (value, unit) of every transform-job metric in the printed EMF documents."""
    found: dict[str, tuple[float, str]] = {}
    for doc in emf_lines(stdout):
        for block in doc["_aws"]["CloudWatchMetrics"]:
            assert block["Namespace"] == "FSxN-S3AP-Patterns"
            assert block["Dimensions"] == [["UseCase", "FunctionName", "Environment"]]
            for metric in block["Metrics"]:
                if metric["Name"] in TRANSFORM_METRICS:
                    assert metric["Name"] not in found, "one value per metric per invocation"
                    found[metric["Name"]] = (doc[metric["Name"]], metric["Unit"])
    return found


def patch_clients(monkeypatch: pytest.MonkeyPatch, **stand_ins: Any) -> None:
    """Make ``boto3.client(<service>)`` return a stand-in for the named services only."""
    real: Callable[..., Any] = boto3.client

    def client(service: str, *args: Any, **kwargs: Any) -> Any:
        key = service.replace("-", "_")
        if key in stand_ins:
            return stand_ins[key]
        return real(service, *args, **kwargs)

    monkeypatch.setattr(boto3, "client", client)
    # Handlers keep one client per service per process: forget those made before the swap.
    clients.reset()
