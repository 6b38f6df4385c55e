"""The streaming resources of the template: the producer never overlaps itself.

The resources themselves are shared snippets (``shared/cfn/blocks/streaming``), held generic by
the contract suite.

Read from the expanded template (what CloudFormation creates after ``AWS::LanguageExtensions``), then
checked on a stack the embedded cloud deployed: the producer's reserved concurrency, its event
invoke config, the schedule's retry policy, and a failed cycle that is tried once and recorded.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from scripts import cfn_template

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "retail-catalog/template.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn_template.load(TEMPLATE)


def _seconds(rate: str) -> int:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours)\)", rate)
    assert match, f"{rate!r} is not a rate expression"
    return int(match.group(1)) * (60 if match.group(2).startswith("minute") else 3600)


def test_the_producer_reserves_one_and_only_the_ai_callers_reserve_more(template: dict[str, Any]) -> None:
    functions = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    reserved = {k: r["Properties"].get("ReservedConcurrentExecutions") for k, r in functions.items()}
    assert int(reserved.pop("StreamProducerFunction")) == 1
    ai_callers = {"ImageTaggingFunction", "CatalogMetadataFunction", "StreamConsumerFunction"}
    assert {json.dumps(reserved.pop(name)) for name in ai_callers} == {json.dumps({"Ref": "AiConcurrency"})}
    assert set(map(json.dumps, reserved.values())) == {json.dumps({"Ref": "AWS::NoValue"})}


def test_a_producer_event_is_never_retried_and_expires_before_the_next_tick(template: dict[str, Any]) -> None:
    resources, parameters = template["Resources"], template["Parameters"]
    interval = _seconds(parameters["StreamingScheduleExpression"]["Default"])
    invoke = resources["StreamProducerInvokeConfig"]["Properties"]
    assert invoke["MaximumRetryAttempts"] == 0
    assert 60 <= invoke["MaximumEventAgeInSeconds"] <= interval  # 60 s is Lambda's least
    assert invoke["FunctionName"] == {"Ref": "StreamProducerFunction"} and invoke["Qualifier"] == "$LATEST"
    assert "OnFailure" in invoke["DestinationConfig"]
    retry = resources["StreamingSchedule"]["Properties"]["Target"]["RetryPolicy"]
    assert retry["MaximumRetryAttempts"] == 0 and 60 <= retry["MaximumEventAgeInSeconds"] <= interval


def test_the_producer_suppressions_say_how_it_is_really_invoked(template: dict[str, Any]) -> None:
    skips = template["Resources"]["StreamProducerFunction"]["Metadata"]["checkov"]["skip"]
    reasons = {skip["id"]: skip["comment"] for skip in skips}
    assert "asynchronously by Scheduler" in reasons["CKV_AWS_116"]
    assert "synchronously" not in reasons["CKV_AWS_116"].replace("asynchronously", "")
    assert "stream producer, 1" in reasons["CKV_AWS_115"]


@pytest.mark.e2e
def test_the_deployed_producer_runs_alone_and_a_failed_cycle_is_tried_once() -> None:
    from retail_catalog.demo import parameters
    from scripts.localcloud import LocalCloud
    from scripts.localcloud.cloud import local_layer_pip

    with LocalCloud() as cloud:
        ap = cloud.create_access_point(bucket="overlap-volume", name="overlap-ap")
        params = {**parameters(ap), "QuietPolls": "0", "EnableXRayTracing": "false"}
        stack = cloud.deploy("retail-catalog", params, stack_name="overlap", pip=local_layer_pip)
        ids = stack.physical_ids
        lambda_ = cloud.client("lambda")
        producer = ids["StreamProducerFunction"]
        assert lambda_.get_function_concurrency(FunctionName=producer)["ReservedConcurrentExecutions"] == 1
        # The consumer calls Rekognition and Bedrock: AiConcurrency (default 20) bounds it.
        consumer = lambda_.get_function_concurrency(FunctionName=ids["StreamConsumerFunction"])
        assert consumer["ReservedConcurrentExecutions"] == 20
        discovery = lambda_.get_function_concurrency(FunctionName=ids["DiscoveryFunction"])
        assert "ReservedConcurrentExecutions" not in discovery
        invoke = lambda_.get_function_event_invoke_config(FunctionName=producer)
        assert (invoke["MaximumRetryAttempts"], invoke["MaximumEventAgeInSeconds"]) == (0, 60)
        schedule = cloud.client("scheduler").get_schedule(Name="overlap-stream-producer")
        assert schedule["Target"]["RetryPolicy"] == {
            "MaximumRetryAttempts": 0,
            "MaximumEventAgeInSeconds": 60,
        }

        # A cycle that fails (its stream is gone) runs once and lands in the failure queue.
        cloud.client("s3").put_object(Bucket=ap.arn, Key="products/a.jpg", Body=b"\xff\xd8\xff")
        cloud.client("kinesis").delete_stream(StreamName=ids["ChangeStream"], EnforceConsumerDeletion=True)
        before = cloud.invocation_counts().get(producer, 0)
        (firing,) = cloud.tick("overlap-stream-producer")
        assert not firing.ok and "ShardsFailedError" in str(firing.error)
        assert cloud.invocation_counts()[producer] - before == 1
        sqs = cloud.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=stack.outputs["StreamFailureQueueUrl"], MaxNumberOfMessages=10
        )
        (message,) = messages["Messages"]
        record = json.loads(message["Body"])
        assert record["requestContext"]["approximateInvokeCount"] == 1
        assert record["requestContext"]["condition"] == "RetriesExhausted"
