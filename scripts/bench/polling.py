"""The cost of a steady polling run: nothing is processed again, and the requests stay at the floor.

A volume of files that all have results is polled the way the state machine does it (the overlap
check, then discovery). The figures: files sent to processing (must be 0); S3 requests of the run
against the floor of the design (one LIST per 1,000 source keys, one per 1,000 results, and the
manifest and chunk-list PUTs); Step Functions and DynamoDB requests; and the steady run's time
beside the first run's (which lists no results yet, so the steady run lists about twice as much).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from scripts.bench import Report, stopwatch

logger = logging.getLogger(__name__)

FILES = 3000
REGION = "us-east-1"


class RequestCounter:
    """Counts AWS requests by ``service.Operation`` through botocore's ``before-call`` event."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def service(self, name: str) -> int:
        return sum(count for call, count in self.calls.items() if call.startswith(f"{name}."))


def run(report: Report) -> None:
    import boto3
    from moto import mock_aws

    from shared.config import from_environ
    from shared.polling.results import result_document, write_result
    from shared.polling.settings import PollingConfig
    from shared.polling.steps import run_discovery
    from shared.s3ap import S3AccessPoint

    with mock_aws():
        session = boto3.Session(region_name=REGION)
        s3 = session.client("s3")
        s3.create_bucket(Bucket="volume")
        s3.create_bucket(Bucket="results")
        for index in range(FILES):
            s3.put_object(Bucket="volume", Key=f"dept-{index % 20:02d}/item-{index:06d}.jpg", Body=b"x")
        iam = session.client("iam")
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        sfn = session.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="bench-polling", roleArn=role, definition='{"StartAt":"S","States":{"S":{"Type":"Succeed"}}}'
        )["stateMachineArn"]
        cfg = from_environ(
            PollingConfig, {"USE_CASE": "bench", "ACCESS_POINT": "volume", "OUTPUT_BUCKET": "results"}
        )
        source, output = S3AccessPoint("volume", s3), S3AccessPoint("results", s3)

        def polling_run(name: str) -> dict[str, Any]:
            execution = sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"]
            event = {
                "run_id": name,
                "state_machine_arn": machine,
                "execution_arn": execution,
                "started_at": datetime.now(UTC).isoformat(),
            }
            result = run_discovery(event, cfg, source=source, output=output, sfn=sfn).to_dict()
            sfn.stop_execution(executionArn=execution)
            return result

        with stopwatch() as first_time:
            first = polling_run("first")
        # Every listed version gets its result, as the per-file steps would write it.
        for page in source.iter_pages("", suffixes=()):
            for obj in page:
                write_result(output, result_document(key=obj.key, etag=obj.etag, status="SUCCEEDED"))

        counter = RequestCounter()
        s3.meta.events.register("before-call.*.*", counter)
        sfn.meta.events.register("before-call.*.*", counter)
        with stopwatch() as steady_time:
            steady = polling_run("steady")
        s3.meta.events.unregister("before-call.*.*", counter)
        sfn.meta.events.unregister("before-call.*.*", counter)

    s3_floor = 2 * math.ceil(FILES / 1000) + 2  # both listings, the manifest and the chunk list
    report.add(
        f"steady run over {FILES} done files: files sent to processing",
        float(steady["files_to_process"]),
        "files",
        target="= 0 reprocessed",
        met=steady["files_to_process"] == 0 and steady["skipped"] == FILES,
    )
    report.add(
        "steady run: S3 requests (LIST source, LIST results, 2 PUT)",
        float(counter.service("s3")),
        "requests",
        baseline=float(s3_floor),
        target="≤ 1.0 of the listing floor",
        met=counter.service("s3") <= s3_floor,
    )
    report.add(
        "steady run: Step Functions requests (overlap check)",
        float(counter.service("stepfunctions") - 2),  # less the bench's own start and stop
        "requests",
        target="= 1 ListExecutions page",
        met=counter.calls["stepfunctions.ListExecutions"] == 1,
    )
    report.add(
        "steady run: DynamoDB requests (streaming off)", float(counter.service("dynamodb")), "requests"
    )
    report.add(
        "steady run time (baseline: the first run, no results yet)",
        steady_time(),
        "s",
        baseline=first_time(),
        target=f"first run listed {first['listed']}",
    )
    logger.info("steady run requests: %s", dict(counter.calls))
