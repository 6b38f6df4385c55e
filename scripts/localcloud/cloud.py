"""The embedded local cloud: moto in-process plus the adapters that make a deployed use case run.

``with LocalCloud() as cloud:`` starts moto (Step Functions executing ASL), installs every adapter
and gives one object to drive a use case:

* :meth:`LocalCloud.deploy` packages and deploys with the same code as ``make deploy``
  (:func:`scripts.deploy.deploy`, so the same zips are uploaded), then creates the resources moto
  skips, copies the state machines to the executing backend and attaches the stream poller;
* :meth:`invoke`, :meth:`run_state_machine`, :meth:`tick`, :meth:`run_minutes`,
  :meth:`poll_streams`, :meth:`put_events` drive the flows;
* :meth:`metrics`, :meth:`log_lines` and the adapters' records show what happened.

Nothing here talks to AWS: moto patches botocore for the whole process while the cloud is open.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from scripts.localcloud import delivery
from scripts.localcloud.ai_standins import AIStandIns
from scripts.localcloud.async_invoke import AsyncInvoker
from scripts.localcloud.athena import AthenaStandIn
from scripts.localcloud.comprehend import ComprehendStandIn
from scripts.localcloud.emf import EmfExtractor
from scripts.localcloud.eventbridge import EventBridgeAdapter
from scripts.localcloud.kinesis_poller import KinesisPoller, MappingStats
from scripts.localcloud.ontap import OntapStandIn
from scripts.localcloud.permissions import FilePermissions
from scripts.localcloud.resources import StackInfo, create_skipped, describe_stack
from scripts.localcloud.runtime import Invocation, LambdaRuntime
from scripts.localcloud.sagemaker import ModelFn, SageMakerAdapter
from scripts.localcloud.scheduler import Firing, Scheduler
from scripts.localcloud.stepfunctions import (
    EarlyCallbackFix,
    ExecutionResult,
    MapFailureThresholdFix,
    StepFunctions,
    sync_state_machines,
)
from scripts.localcloud.textract import TextractStandIn, sns_delivery
from scripts.localcloud.validation import ValidationAdapter

logger = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}


@dataclass(frozen=True)
class AccessPoint:
    """A bucket standing in for an FSx for ONTAP volume, reached through an access point ARN."""

    bucket: str
    name: str
    arn: str


class LocalCloud:
    """moto in-process with the local adapters installed; use it as a context manager."""

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        work_dir: Path | None = None,
        out: Callable[[str], None] | None = None,
        enforce_timeout: bool = True,
        clock: Callable[[], float] = time.time,
        build_root: Path | None = None,
    ) -> None:
        self.region = region
        self._own_work_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="localcloud-"))
        self.out = out or (lambda line: None)
        # Packaging output is cached by content, so a shared build root makes repeated runs fast.
        self.build_root = build_root or self.work_dir / "build"
        self.enforce_timeout = enforce_timeout
        self.clock = clock
        self.stacks: dict[str, StackInfo] = {}
        self.account_id = ""
        self._mock: Any = None

    # -- lifecycle --

    def __enter__(self) -> LocalCloud:
        from moto import mock_aws

        self._mock = mock_aws(config=MOTO_CONFIG)  # type: ignore[call-overload]
        self._mock.start()
        try:
            self._setup()
        except BaseException:
            for adapter in reversed(getattr(self, "_installed", [])):
                adapter.uninstall()
            self._mock.stop()
            raise
        return self

    def _setup(self) -> None:
        # The stand-ins register with botocore's built-in handlers, which apply to sessions created
        # afterwards: install them before the first session.
        self.ai = AIStandIns(self._read_s3)
        self.ai.install()
        self.permissions = FilePermissions()
        self.permissions.install()
        self._installed: list[Any] = [self.ai, self.permissions]
        # Athena queries run with DuckDB over the dataset files in moto's S3 (scripts/localcloud/athena.py).
        self.athena = AthenaStandIn(self.client)
        self.athena.install()
        self._installed.append(self.athena)
        self.comprehend = ComprehendStandIn()  # Comprehend detect calls (scripts/localcloud/comprehend.py)
        self.comprehend.install()
        self._installed.append(self.comprehend)
        # Textract and Rekognition DetectText (scripts/localcloud/textract.py).
        self.textract = TextractStandIn(self._read_s3, self._sns_delivery)
        self.textract.install()
        self._installed.append(self.textract)
        self.session = boto3.Session(region_name=self.region)
        self._clients: dict[str, Any] = {}
        self.account_id = self.client("sts").get_caller_identity()["Account"]
        self.runtime = LambdaRuntime(self.work_dir, enforce_timeout=self.enforce_timeout)
        self.stepfunctions = StepFunctions(self.client("stepfunctions"), pump=self._pump)
        self.async_invoker = AsyncInvoker(self.session, self.region, self.invoke)
        dead_letter = functools.partial(delivery.send, self.session, self.region)
        self.eventbridge = EventBridgeAdapter(self.invoke_async, self.start_execution, dead_letter)
        self.sagemaker = SageMakerAdapter(self.session, self.region, self.account_id)
        self.emf = EmfExtractor(self.session, self.region)
        self.poller = KinesisPoller(self.session, self.region, clock=self.clock)
        self.scheduler = Scheduler(
            self.session,
            self.region,
            self.account_id,
            self.invoke_async,
            self.start_execution,
            self._deliver_rule_target,
        )
        for adapter in (
            self.runtime,
            self.eventbridge,
            self.sagemaker,
            ValidationAdapter(),
            EarlyCallbackFix(),
            MapFailureThresholdFix(),
        ):
            adapter.install()
            self._installed.append(adapter)
        self.runtime.log_listeners.append(self.emf)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            for adapter in reversed(self._installed):
                adapter.uninstall()
        finally:
            self._mock.stop()
            if self._own_work_dir:
                shutil.rmtree(self.work_dir, ignore_errors=True)

    def client(self, service: str) -> Any:
        """A boto3 client of the cloud's session, created once per service."""
        cached = self._clients.get(service)
        if cached is None:
            cached = self.session.client(service, region_name=self.region)
            self._clients[service] = cached
        return cached

    # -- setting up a use case --

    def create_access_point(self, bucket: str = "fsxn-volume", name: str = "fsxn-ap") -> AccessPoint:
        """A bucket exposed through an access point; pass ``arn`` as the AccessPointAlias parameter."""
        self.client("s3").create_bucket(Bucket=bucket)
        self.client("s3control").create_access_point(AccountId=self.account_id, Name=name, Bucket=bucket)
        return AccessPoint(bucket, name, f"arn:aws:s3:{self.region}:{self.account_id}:accesspoint/{name}")

    def deploy(
        self,
        uc: Any,
        params: Mapping[str, str] | None = None,
        *,
        stack_name: str | None = None,
        pip: Any = None,
    ) -> StackInfo:
        """Package and deploy ``uc`` with the project's deploy code, then make the stack runnable."""
        from scripts import deploy as deployer
        from scripts import isolated_import, packaging
        from scripts.localcloud.target import MotoTarget

        # Handlers run in this process, beside the project's packages. First prove that each
        # function imports with only its zip, its layer (host build), the runtime SDK and the
        # standard library, as on Lambda; the deploy below reuses the zips built here. The function
        # zips do not depend on the layer builder, so the offline one serves this check, and the
        # deploy still reports its own layer build's failure (which the demo falls back from).
        isolated_import.check_packaged(packaging.package(uc, self.build_root, pip=pip or local_layer_pip))
        with _quiet_moto_skips():
            result = deployer.deploy(
                uc,
                stack_name=stack_name,
                params=dict(params or {}),
                session=self.session,
                region=self.region,
                out=self.out,
                build_root=self.build_root,
                poll_seconds=0.0,
                pip=pip,
                target=MotoTarget(),
            )
            info = describe_stack(self.session, self.region, result.stack_name)
        info.outputs.update(result.outputs)
        created = create_skipped(self.session, self.region, self.account_id, info)
        for logical_id, name in created.items():
            self.out(f"  created locally (skipped by moto): {logical_id} -> {name}")
        sync_state_machines(self.account_id, self.region)
        self.poller.attach()
        self.stacks[info.name] = info
        return info

    def physical_id(self, logical_or_name: str) -> str:
        """The physical id of a logical id in any deployed stack, or the input unchanged.

        The newest stack is searched first: a demo drives the stack it has just deployed, also when
        others, with the same logical ids, share the cloud (``make demo UC=all``).
        """
        for info in reversed(self.stacks.values()):
            if logical_or_name in info.physical_ids:
                return info.physical_ids[logical_or_name]
            if logical_or_name in info.created:
                return info.created[logical_or_name]
        return logical_or_name

    # -- Lambda --

    def invoke(self, function: str, event: Any = None) -> Invocation:
        """Invoke a function (logical id, name or ARN) synchronously through the Lambda API."""
        name = self.physical_id(function)
        before = len(self.runtime.invocations)
        response = self.client("lambda").invoke(
            FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(event or {}).encode()
        )
        raw = response["Payload"].read()
        # The outer invocation ends last; calls it made synchronously were recorded before it.
        mine = threading.get_ident()
        invocation = [i for i in self.runtime.invocations[before:] if i.thread_id == mine][-1]
        invocation.payload = json.loads(raw) if raw else None
        invocation.function_error = response.get("FunctionError")
        return invocation

    def invoke_async(self, function: str, payload: Any) -> str | None:
        """An asynchronous invoke with Lambda's retries and destinations; the error type if it failed."""
        return self.async_invoker(self.physical_id(function), payload)

    def invocation_counts(self) -> dict[str, int]:
        """How many times each function ran (every invoke path), by function name."""
        counts: dict[str, int] = {}
        for invocation in self.runtime.invocations:
            counts[invocation.function_name] = counts.get(invocation.function_name, 0) + 1
        return counts

    def log_lines(self, function: str) -> list[str]:
        """Every line in the function's log group, oldest first."""
        logs = self.client("logs")
        group = f"/aws/lambda/{self.physical_id(function)}"
        lines: list[str] = []
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        for stream in streams:
            events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])
            lines.extend(event["message"] for event in events["events"])
        return lines

    # -- Step Functions --

    def start_execution(self, state_machine: str, payload: Any = None) -> str:
        return self.stepfunctions.start(self.physical_id(state_machine), payload)

    def run_state_machine(
        self, state_machine: str, payload: Any = None, *, timeout_seconds: float = 120.0
    ) -> ExecutionResult:
        """Start an execution (logical id, name or ARN) and wait for it to end."""
        return self.stepfunctions.run(
            self.physical_id(state_machine), payload, timeout_seconds=timeout_seconds
        )

    def wait_for_executions(self, timeout_seconds: float = 120.0) -> list[ExecutionResult]:
        """Wait for every execution started so far (by schedules, rules or handlers) to end."""
        client = self.client("stepfunctions")
        done = {result.arn for result in self.stepfunctions.results}
        results = []
        for machine in client.list_state_machines()["stateMachines"]:
            for execution in client.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
                if execution["executionArn"] not in done:
                    results.append(self.stepfunctions.wait(execution["executionArn"], timeout_seconds))
        return results

    def _pump(self) -> bool:
        return self.sagemaker.complete_pending() | self.textract.complete_pending()

    def _sns_delivery(self, topic_arn: str, message: str) -> None:
        sns_delivery(self.session, self.region)(topic_arn, message)

    # -- schedules, rules, streams, events --

    def tick(self, schedule: str) -> list[Firing]:
        return self.scheduler.tick(self.physical_id(schedule))

    def run_minutes(self, minutes: int) -> list[Firing]:
        return self.scheduler.run_minutes(minutes)

    def poll_streams(self) -> dict[str, MappingStats]:
        """Deliver everything waiting on every enabled stream mapping."""
        return self.poller.drain()

    def put_events(self, *entries: Mapping[str, Any]) -> list[dict[str, Any]]:
        """PutEvents; ``Detail`` may be a mapping. Matching rules deliver to their targets."""
        prepared = [
            {
                **entry,
                "Detail": entry["Detail"]
                if isinstance(entry["Detail"], str)
                else json.dumps(entry["Detail"]),
            }
            for entry in entries
        ]
        return list(self.client("events").put_events(Entries=prepared)["Entries"])

    def _deliver_rule_target(self, rule: str, target: dict[str, Any], event: dict[str, Any]) -> Any:
        from moto.events.utils import EventTemplateParser

        return self.eventbridge.deliver(rule, target, event, EventTemplateParser)

    # -- ONTAP REST --

    def start_ontap(self, seed: Mapping[str, Any], secret_name: str = "fsxn-ontap-admin") -> OntapStandIn:
        """Start the ONTAP stand-in (HTTPS on loopback) and store its credentials as a secret.

        The returned stand-in has ``endpoint``, ``ca_pem`` and ``secret_arn``; a function reaches it
        with ``ONTAP_ENDPOINT``, ``ONTAP_SECRET_ID`` and ``ONTAP_CA_BUNDLE_PEM`` (``docs/ontap.md``).
        It stops when the cloud closes.
        """
        ontap = OntapStandIn(seed)
        ontap.install()
        self._installed.append(ontap)
        credentials = {"username": ontap.seed.username, "password": ontap.seed.password}
        secret = self.client("secretsmanager").create_secret(
            Name=secret_name, SecretString=json.dumps(credentials)
        )
        ontap.secret_arn = secret["ARN"]
        return ontap

    # -- SageMaker, S3 --

    def register_model(self, model_name: str | None, fn: ModelFn) -> None:
        self.sagemaker.register_model(model_name, fn)

    def _read_s3(self, bucket: str, key: str) -> bytes:
        return bytes(self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())

    # -- metrics --

    def metrics(
        self,
        namespace: str,
        metric_name: str,
        dimensions: Mapping[str, str] | None = None,
        *,
        statistic: str = "Sum",
        minutes: int = 60,
    ) -> float:
        """The statistic of a metric over the last ``minutes``, queried with GetMetricData."""
        now = time.time()
        response = self.client("cloudwatch").get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "m",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": metric_name,
                            "Dimensions": [{"Name": k, "Value": v} for k, v in (dimensions or {}).items()],
                        },
                        "Period": minutes * 60,
                        "Stat": statistic,
                    },
                }
            ],
            StartTime=now - minutes * 60,
            EndTime=now + 60,
        )
        return float(sum(response["MetricDataResults"][0]["Values"]))


def local_layer_pip(args: Sequence[str]) -> None:
    """A pip stand-in for building the dependencies layer zip without downloading Linux wheels.

    The local runtime never imports the arm64 layer: functions run on the project's environment,
    after the deploy checked that each one imports with only its zip, the same locked packages
    built for this host, the runtime SDK and the standard library (``scripts.isolated_import``).
    Packaging for the local cloud stays offline and fast; the layer zip holds one marker file per
    locked distribution instead of the packages.
    """
    arguments = list(args)
    target = Path(arguments[arguments.index("--target") + 1])
    target.mkdir(parents=True, exist_ok=True)
    pins = [a for a in arguments if "==" in a]
    if "-r" in arguments:  # the hash-pinned layer lock: one `name==version \` line per distribution
        lock = Path(arguments[arguments.index("-r") + 1]).read_text(encoding="utf-8")
        pins += [line.split()[0] for line in lock.splitlines() if "==" in line and not line.startswith("#")]
    for pin in pins:
        (target / f"{pin.replace('==', '-')}.local-layer").write_text(pin + "\n", encoding="utf-8")


@contextmanager
def _quiet_moto_skips() -> Iterator[None]:
    """Hide moto's notes about the resource types it skips: :mod:`resources` creates those."""
    moto_logger = logging.getLogger("moto")
    level = moto_logger.level
    moto_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Tried to parse AWS::")
            yield
    finally:
        moto_logger.setLevel(level)


@contextmanager
def local_cloud(**kwargs: Any) -> Iterator[LocalCloud]:
    """``with local_cloud() as cloud:`` (the same as ``with LocalCloud() as cloud:``)."""
    with LocalCloud(**kwargs) as cloud:
        yield cloud
