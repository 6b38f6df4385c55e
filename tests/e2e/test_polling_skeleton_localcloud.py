"""The polling skeleton's properties on the embedded cloud, through UC11's deployed state machine.

* Isolated: among 50 files, one the volume refuses to read (AccessDenied, as an ONTAP file
  permission gives it) and one over the decode pixel budget; the run SUCCEEDS with 48 results and
  2 FAILED results that carry their reasons, one of them written by the Catch on the per-file branch.
* Incremental: a second run processes nothing new.
* Never overlapping: a run started while another is in flight exits at discovery without
  processing, and says so.
* Budgeted: ``MaxFilesPerRun=5`` drains a backlog of 12 over three runs, each file once.
* A failure the Catch cannot turn into a result (its FAILED document cannot be written either)
  fails the chunk, and the Map Run's tolerance decides the run.
"""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from scripts import catalog
from scripts.localcloud import LocalCloud
from scripts.localcloud.cloud import local_layer_pip
from shared.formats.samples import images
from shared.polling.keys import output_key

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")]

DENIED = "products/restricted/locked.jpg"
OVERSIZE = "products/huge/poster.webp"
# 256 MiB of memory gives a decode budget of 5 M pixels; this WebP (always decoded for tagging)
# needs 6.76 M.
MEMORY_MIB = "256"
OVERSIZE_SIDE = 2600


def _params(access_point: Any, **extra: str) -> dict[str, str]:
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "EnableStreamingMode": "false",
        "EnableXRayTracing": "false",
        "EnableCloudWatchAlarms": "false",
        "ChunkSize": "10",
        "LambdaMemorySize": MEMORY_MIB,
        **extra,
    }


def _oversize_webp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (OVERSIZE_SIDE, OVERSIZE_SIDE), (200, 120, 40)).save(buffer, format="WEBP")
    return buffer.getvalue()


def _seed(cloud: LocalCloud, arn: str, count: int, prefix: str = "products/") -> dict[str, str]:
    rendered = images.sample_set(list(images.generated_specs(count, prefix=prefix, folders=4)))
    return images.upload(cloud.client("s3"), arn, rendered)


def _documents(cloud: LocalCloud, bucket: str) -> dict[str, dict[str, Any]]:
    s3 = cloud.client("s3")
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="results/"):
        for obj in page.get("Contents", []):
            found[obj["Key"]] = json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    return found


def _tagged_keys(cloud: LocalCloud, stack: Any, since: int = 0) -> Counter[str]:
    name = stack.physical_ids["ImageTaggingFunction"]
    return Counter(
        str(i.event["key"])
        for i in cloud.runtime.invocations[since:]
        if i.function_name == name and isinstance(i.event, dict)
    )


@pytest.fixture(scope="module")
def uc11() -> Iterator[dict[str, Any]]:
    with LocalCloud() as cloud:
        access_point = cloud.create_access_point()
        stack = cloud.deploy(
            str(catalog.find("retail-catalog").path),
            _params(access_point),
            stack_name="rc",
            pip=local_layer_pip,
        )
        etags = _seed(cloud, access_point.arn, 48)
        s3 = cloud.client("s3")
        etags[DENIED] = s3.put_object(Bucket=access_point.arn, Key=DENIED, Body=b"\xff\xd8 locked")[
            "ETag"
        ].strip('"')
        etags[OVERSIZE] = s3.put_object(Bucket=access_point.arn, Key=OVERSIZE, Body=_oversize_webp())[
            "ETag"
        ].strip('"')
        cloud.permissions.deny(DENIED)
        yield {"cloud": cloud, "stack": stack, "etags": etags, "bucket": stack.outputs["OutputBucketName"]}


def test_a_bad_file_becomes_a_failed_result_and_the_run_succeeds_then_nothing_is_redone(
    uc11: dict[str, Any],
) -> None:
    cloud, stack, etags = uc11["cloud"], uc11["stack"], uc11["etags"]
    assert len(etags) == 50
    first = cloud.run_state_machine("StateMachine", {"trigger": "test"})
    assert first.succeeded, (first.error, first.cause)
    documents = _documents(cloud, uc11["bucket"])
    assert set(documents) == {output_key(key, etag) for key, etag in etags.items()}
    by_status = Counter(document["status"] for document in documents.values())
    assert by_status == {"SUCCEEDED": 48, "FAILED": 2}

    denied = documents[output_key(DENIED, etags[DENIED])]
    assert denied["status"] == "FAILED" and denied["error"] == "AccessDeniedError"
    assert "AccessDenied" in denied["reason"] and denied["source"]["key"] == DENIED
    oversize = documents[output_key(OVERSIZE, etags[OVERSIZE])]
    assert oversize["status"] == "FAILED" and oversize["error"] == "DecodeBudgetError"
    assert f"{OVERSIZE_SIDE}x{OVERSIZE_SIDE}" in oversize["reason"]
    # The denied file went through the Catch; the oversize one was refused by the step itself.
    discovery = stack.physical_ids["DiscoveryFunction"]
    recorded = [
        i.event["key"]
        for i in cloud.runtime.invocations
        if i.function_name == discovery and i.event.get("action") == "record_failure"
    ]
    assert recorded == [DENIED]
    assert first.output["listed"] == 50 and first.output["files_to_process"] == 50

    since = len(cloud.runtime.invocations)
    second = cloud.run_state_machine("StateMachine", {"trigger": "test"})
    assert second.succeeded
    assert second.output["files_to_process"] == 0 and second.output["skipped"] == 50
    assert not _tagged_keys(cloud, stack, since)
    assert "ProcessChunks" not in second.states_entered()


def test_a_run_started_while_another_is_in_flight_exits_without_processing(
    uc11: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud, stack = uc11["cloud"], uc11["stack"]
    _seed(cloud, stack.parameters["AccessPointAlias"], 3, prefix="products/arrivals/")
    # Hold the first run at its per-file work (before the local runtime takes its one-call-at-a-time
    # lock) until the second run is over.
    entered, release = threading.Event(), threading.Event()
    tagging, run = stack.physical_ids["ImageTaggingFunction"], cloud.runtime.run

    def held(function: Any, event: Any = None) -> Any:
        if function.function_name == tagging and not release.is_set():
            entered.set()
            assert release.wait(120), "the second run never finished"
        return run(function, event)

    monkeypatch.setattr(cloud.runtime, "run", held)
    try:
        first_arn = cloud.start_execution("StateMachine", {"trigger": "test"})
        assert entered.wait(60), "the first run never reached its files"
        since = len(cloud.runtime.invocations)
        second = cloud.run_state_machine("StateMachine", {"trigger": "test"})
        assert second.succeeded
        assert second.output["in_flight"] == first_arn
        assert second.output["files_to_process"] == 0 and second.output["listed"] == 0
        assert second.states_entered()["AnotherRunInFlight"] == 1
        assert not _tagged_keys(cloud, stack, since)
        logs = [line for line in cloud.log_lines("DiscoveryFunction") if "another run is in flight" in line]
        assert logs, "discovery did not say why it stopped"
    finally:
        release.set()
    first = cloud.stepfunctions.wait(first_arn)
    assert first.succeeded and first.output["files_to_process"] == 3


def test_max_files_per_run_drains_a_backlog_over_runs_each_file_once(uc11: dict[str, Any]) -> None:
    cloud = uc11["cloud"]
    access_point = cloud.create_access_point("backlog-volume", "backlog-ap")
    stack = cloud.deploy(
        str(catalog.find("retail-catalog").path),
        _params(access_point, MaxFilesPerRun="5", ChunkSize="2"),
        stack_name="budget",
        pip=local_layer_pip,
    )
    etags = _seed(cloud, access_point.arn, 12, prefix="backlog/")
    since = len(cloud.runtime.invocations)
    outputs = []
    for _ in range(4):
        result = cloud.run_state_machine(stack.outputs["StateMachineArn"], {"trigger": "test"})
        assert result.succeeded, (result.error, result.cause)
        outputs.append((result.output["files_to_process"], result.output["deferred"]))
    assert outputs == [(5, 7), (5, 2), (2, 0), (0, 0)]
    assert _tagged_keys(cloud, stack, since) == Counter(dict.fromkeys(etags, 1))
    assert set(_documents(cloud, stack.outputs["OutputBucketName"])) == {
        output_key(key, etag) for key, etag in etags.items()
    }


@pytest.mark.parametrize(("tolerated", "status"), [("0", "FAILED"), ("30", "SUCCEEDED")])
def test_a_failure_that_cannot_be_recorded_fails_the_run_unless_tolerated(
    uc11: dict[str, Any], tolerated: str, status: str
) -> None:
    cloud = uc11["cloud"]
    access_point = cloud.create_access_point(f"tolerance-{tolerated}-volume", f"tolerance-{tolerated}-ap")
    etags = _seed(cloud, access_point.arn, 4, prefix=f"tolerance-{tolerated}/")
    victim = sorted(etags)[0]
    cloud.permissions.deny(victim)
    # Its FAILED document cannot be written either: the chunk holding it fails.
    cloud.permissions.deny(output_key(victim, etags[victim]), operations=("PutObject",))
    stack = cloud.deploy(
        str(catalog.find("retail-catalog").path),
        _params(access_point, ChunkSize="1", ToleratedFailurePercentage=tolerated),
        stack_name=f"tolerance-{tolerated}",
        pip=local_layer_pip,
    )
    result = cloud.run_state_machine(stack.outputs["StateMachineArn"], {"trigger": "test"})
    assert result.status == status, (result.error, result.cause)
    if status == "FAILED":
        assert result.error == "States.ExceedToleratedFailureThreshold"
    documents = _documents(cloud, stack.outputs["OutputBucketName"])
    # The three other files have their results either way.
    assert set(documents) == {output_key(key, etag) for key, etag in etags.items() if key != victim}
