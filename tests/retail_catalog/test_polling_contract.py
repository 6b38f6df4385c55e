"""The polling state machine's data contract, statically and on moto's ASL interpreter.

The static walk reads the definition from the template and checks that every path a state reads
(``$.x`` in Parameters, ItemReader, ItemSelector, ItemsPath, Choice) was produced by the state
before it, using the step contracts the handlers enforce at runtime. The run deploys the template
on moto, runs the handlers in-process behind moto's Lambda, and executes the real definition
(Distributed Map with ItemReader included) over the sample images.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from retail_catalog.contract import FILE_ITEM, STEPS
from scripts import cfn_template
from shared import config
from shared.formats.samples.images import sample_set
from shared.polling.keys import output_key
from tests.handlers import load_handler

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "retail-catalog" / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"
CHUNK_FIELDS = ("manifest_key", "offset", "count", "first_byte", "last_byte")


def definition() -> dict[str, Any]:
    """statemachine/polling.asl.json with its DefinitionSubstitutions, as Step Functions receives it."""
    concurrency = {"MapConcurrency": "7", "FileConcurrency": "7"}
    return cfn_template.definition_document(
        cfn_template.load(TEMPLATE), "StateMachine", parameters=concurrency
    )


def paths(node: Any) -> Iterator[str]:
    """Every JSONPath a Parameters/ItemSelector block reads."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith(".$") and isinstance(value, str):
                yield value
            else:
                yield from paths(value)
    elif isinstance(node, list):
        for value in node:
            yield from paths(value)


def selector_output(node: dict[str, Any]) -> set[str]:
    return {key.removesuffix(".$") for key in node}


def check_reads(state: str, block: Any, available: set[str], item: set[str] | None = None) -> None:
    for path in paths(block):
        if path == "$":
            continue
        if path.startswith("$$.Map.Item.Value"):
            field = path.removeprefix("$$.Map.Item.Value").lstrip(".")
            assert item is not None, f"{state} reads the map item outside a Map"
            assert not field or field in item, (
                f"{state} reads item field {field!r}, items carry {sorted(item)}"
            )
            continue
        if path.startswith("$$."):
            assert path in {
                "$$.Execution.Name",
                "$$.Execution.Id",
                "$$.Execution.StartTime",
                "$$.StateMachine.Id",
            }, path
            continue
        key = path.removeprefix("$.").split(".")[0]
        assert key in available, (
            f"{state} reads {path} but the state before produced only {sorted(available)}"
        )


def walk(
    states: dict[str, Any], start: str, available: set[str], item: set[str] | None, seen: list[str]
) -> None:
    name: str | None = start
    while name is not None:
        state = states[name]
        seen.append(name)
        kind = state["Type"]
        if kind == "Task":
            params = state["Parameters"]
            check_reads(name, params, available, item)
            contract = STEPS[name]
            payload = params.get("Payload")
            received = available if params.get("Payload.$") == "$" else selector_output(payload)
            missing = set(contract.requires) - received
            assert not missing, f"{name} requires {sorted(missing)} which its input lacks"
            assert state["OutputPath"] == "$.Payload"
            for catch in state.get("Catch", ()):
                caught = {catch["ResultPath"].removeprefix("$.")}
                walk(states, catch["Next"], available | caught, item, seen)
            # Later states may rely only on keys present in every output.
            available = set(contract.produces)
        elif kind == "Choice":
            for choice in state["Choices"]:
                key = choice["Variable"].removeprefix("$.")
                assert key in available, f"{name} tests {key}, which may be missing (a runtime error)"
            for choice in state["Choices"]:
                walk(states, choice["Next"], available, item, seen)
            name = state.get("Default")
            continue
        elif kind == "Map":
            if "ItemReader" in state:
                check_reads(name, state["ItemReader"]["Parameters"], available, item)
                map_item = set(CHUNK_FIELDS)
            else:
                key = state["ItemsPath"].removeprefix("$.")
                assert key in available, f"{name} iterates {key}, which the state before did not produce"
                map_item = set(FILE_ITEM)
            check_reads(name, state["ItemSelector"], available, map_item)
            processor = state["ItemProcessor"]
            walk(
                processor["States"],
                processor["StartAt"],
                selector_output(state["ItemSelector"]),
                map_item,
                seen,
            )
            assert state["ResultPath"] is None, f"{name} must not pull every result into the state payload"
        if name in seen[:-1] and kind == "Task" and state.get("End"):
            break
        name = None if state.get("End") or kind in {"Succeed", "Fail"} else state.get("Next")


def test_every_state_reads_only_what_the_state_before_produced() -> None:
    asl = definition()
    seen: list[str] = []
    walk(asl["States"], asl["StartAt"], {"trigger"}, None, seen)
    assert set(seen) >= {"Discover", "AnyFiles", "ProcessChunks", "LoadChunk", "ProcessFiles"} | set(STEPS)


def test_the_fan_out_is_a_distributed_map_over_the_chunk_list_in_s3() -> None:
    fan_out = definition()["States"]["ProcessChunks"]
    assert fan_out["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert fan_out["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert fan_out["ItemReader"]["ReaderConfig"] == {"InputType": "JSON"}
    assert fan_out["MaxConcurrency"] == 7


def test_the_walk_catches_a_state_that_reads_a_missing_key() -> None:
    asl = definition()
    tagging = asl["States"]["ProcessChunks"]["ItemProcessor"]["States"]["ProcessFiles"]["ItemSelector"]
    tagging["thumbnail.$"] = "$.thumbnail"
    with pytest.raises(AssertionError, match="thumbnail"):
        walk(asl["States"], asl["StartAt"], {"trigger"}, None, [])


# -- the real definition on moto's interpreter ----------------------------------------------------------


class InProcessLambda:
    """Stands in for Lambda: runs this repository's handler for each moto function, in-process."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.modules: dict[str, Any] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, function: Any, event: str | bytes | dict[str, Any] | None) -> tuple[str, bool, str]:
        import os

        payload = event if isinstance(event, dict) else json.loads(event or "{}")
        folder = str(function.handler).rsplit("/", 1)[0]
        with self.lock:
            saved = dict(os.environ)
            os.environ.update({k: str(v) for k, v in function.environment_vars.items()})
            os.environ["AWS_LAMBDA_FUNCTION_NAME"] = function.function_name
            config.reset()
            try:
                module = self.modules.get(folder) or load_handler(
                    ROOT / "retail-catalog" / folder / "handler.py"
                )
                self.modules[folder] = module
                self.calls.append((folder, payload))
                result = module.handler(payload, None)
                return json.dumps(result), False, ""
            except Exception as error:  # noqa: BLE001 - reported to Step Functions as Lambda does
                body = {"errorType": type(error).__name__, "errorMessage": str(error)}
                return json.dumps(body), True, ""
            finally:
                os.environ.clear()
                os.environ.update(saved)
                config.reset()


class FakeBedrock:
    def converse(self, **kwargs: Any) -> dict[str, Any]:
        prompt = kwargs["messages"][0]["content"][0]["text"]
        name = prompt.split("File name: ")[1].split("\n")[0]
        answer = {"title": f"Product {name}", "description": "Generated.", "category": "General"}
        return {"output": {"message": {"content": [{"text": json.dumps(answer)}]}}, "stopReason": "end_turn"}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    from moto.awslambda.models import LambdaFunction

    from scripts.localcloud.stepfunctions import sync_state_machines

    runner = InProcessLambda()
    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", lambda self, event=None: runner(self, event))
    monkeypatch.setattr("retail_catalog.metadata.bedrock_client", FakeBedrock)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="artifacts")
        for folder in ("discovery", "image_tagging", "catalog_metadata", "quality_check"):
            s3.put_object(Bucket="artifacts", Key=f"functions/{folder}.zip", Body=_zip())
        s3.put_object(Bucket="artifacts", Key="layer.zip", Body=_zip())
        s3.create_bucket(Bucket="fsxn-volume")
        etags = {}
        for image in sample_set():
            etags[image.key] = s3.put_object(Bucket="fsxn-volume", Key=image.key, Body=image.data)[
                "ETag"
            ].strip('"')
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        parameters = {
            "ArtifactBucket": "artifacts",
            "AccessPointName": "fsxn-ap",
            "AccessPointAlias": "fsxn-volume",
            "EnableCloudWatchAlarms": "false",
            "EnableXRayTracing": "false",
            "ChunkSize": "5",
        }
        cloudformation.create_stack(
            StackName="rc",
            TemplateBody=cfn_template.dump(cfn_template.load(TEMPLATE)),  # moto runs no transforms
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
        outputs = {
            o["OutputKey"]: o["OutputValue"]
            for o in cloudformation.describe_stacks(StackName="rc")["Stacks"][0]["Outputs"]
        }
        sync_state_machines(ACCOUNT, REGION)
        yield {"s3": s3, "etags": etags, "outputs": outputs, "runner": runner}


def run(machine_arn: str, name: str) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    execution = sfn.start_execution(stateMachineArn=machine_arn, name=name, input='{"trigger": "test"}')
    for _ in range(600):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError("the execution did not finish")


def test_the_polling_run_processes_every_image_and_the_next_run_finds_nothing(
    deployed: dict[str, Any],
) -> None:
    s3, etags, outputs = deployed["s3"], deployed["etags"], deployed["outputs"]
    first = run(outputs["StateMachineArn"], "run-1")
    assert first["status"] == "SUCCEEDED", first
    bucket = outputs["OutputBucketName"]
    for key, etag in etags.items():
        document = json.loads(s3.get_object(Bucket=bucket, Key=output_key(key, etag))["Body"].read())
        assert document["source"]["key"] == key
        expected = "FAILED" if key.endswith("readme-011.jpg") else "SUCCEEDED"
        assert document["status"] == expected, (key, document.get("reason"))
        if expected == "SUCCEEDED":
            assert document["metadata"]["title"] == f"Product {key.rsplit('/', 1)[1]}"
            assert "quality" in document and "tagging" in document
    calls = [folder for folder, _ in deployed["runner"].calls]
    assert calls.count("functions/discovery") == 1 + 3  # Discover, then one LoadChunk per chunk of 5
    assert calls.count("functions/image_tagging") == len(etags)
    # The execution's own payload never held the file list.
    assert "products/" not in (first.get("output") or "")

    second = run(outputs["StateMachineArn"], "run-2")
    assert second["status"] == "SUCCEEDED"
    assert json.loads(second["output"])["files_to_process"] == 0
    assert [folder for folder, _ in deployed["runner"].calls].count("functions/image_tagging") == len(etags)


@pytest.mark.parametrize("step", ["Discover", "ImageTagging", "CatalogMetadata", "QualityCheck"])
def test_sample_events_satisfy_their_step_contract(step: str) -> None:
    folder = {"Discover": "discovery", "ImageTagging": "image_tagging", "CatalogMetadata": "catalog_metadata",
              "QualityCheck": "quality_check"}[step]  # fmt: skip
    event = json.loads((ROOT / "retail-catalog" / "events" / f"{folder}.json").read_text())
    assert not set(STEPS[step].requires) - set(event)
    if "etag" in event:
        # The sample events name a generated sample image by its real ETag (MD5 of its bytes).
        import hashlib

        data = {image.key: image.data for image in sample_set()}[event["key"]]
        assert event["etag"] == hashlib.md5(data).hexdigest()
