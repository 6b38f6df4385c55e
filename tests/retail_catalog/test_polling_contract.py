"""The retail polling state machine's shape, and the sample events against the step contracts.

The data-flow walk over every use case's state machines is in
``tests/contract/test_state_machine_dataflow.py``; running the definition is the embedded cloud's
job (``tests/e2e/test_polling_skeleton_localcloud.py`` and the demo), not a second runner here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from retail_catalog.contract import STEPS
from scripts import cfn_template, deploy_params
from shared.formats.samples.images import sample_set

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "retail-catalog" / "template.yaml"


def definition() -> dict[str, Any]:
    """statemachine/polling.asl.json with its DefinitionSubstitutions, as Step Functions receives it."""
    concurrency = {"MapConcurrency": "7", "FileConcurrency": "7", "ToleratedFailurePercentage": "5"}
    return cfn_template.definition_document(
        cfn_template.load(TEMPLATE), "StateMachine", parameters=concurrency
    )


def test_the_fan_out_is_a_distributed_map_over_the_chunk_list_in_s3() -> None:
    fan_out = definition()["States"]["ProcessChunks"]
    assert fan_out["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert fan_out["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert fan_out["ItemReader"]["ReaderConfig"] == {"InputType": "JSON"}
    assert fan_out["MaxConcurrency"] == 7
    assert fan_out["ToleratedFailurePercentage"] == 5


def test_every_per_file_step_is_caught_into_a_failed_result() -> None:
    per_file = definition()["States"]["ProcessChunks"]["ItemProcessor"]["States"]["ProcessFiles"][
        "ItemProcessor"
    ]
    tasks = [
        name
        for name, state in per_file["States"].items()
        if state["Type"] == "Task" and name != "RecordFailure"
    ]
    assert tasks == ["ImageTagging", "CatalogMetadata", "QualityCheck"]
    for name in tasks:
        (catch,) = per_file["States"][name]["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "RecordFailure"}
    record = per_file["States"]["RecordFailure"]
    assert record["Parameters"]["Payload"]["action"] == "record_failure"
    assert "Catch" not in record, "a failure to record a failure must fail the chunk, not vanish"


def test_an_execution_ends_before_the_next_scheduled_run_starts() -> None:
    template = cfn_template.load(TEMPLATE)
    defaults = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    timeout = definition()["TimeoutSeconds"]
    assert timeout == int(defaults["PollingTimeoutSeconds"])
    interval = deploy_params.schedule_interval_seconds(defaults["PollingScheduleExpression"])
    assert interval is not None and timeout < interval
    deploy_params.check_run_timeouts(defaults)


@pytest.mark.parametrize("step", ["Discover", "ImageTagging", "CatalogMetadata", "QualityCheck"])
def test_sample_events_satisfy_their_step_contract(step: str) -> None:
    folder = {"Discover": "discovery", "ImageTagging": "image_tagging", "CatalogMetadata": "catalog_metadata",
              "QualityCheck": "quality_check"}[step]  # fmt: skip
    event = json.loads((ROOT / "retail-catalog" / "events" / f"{folder}.json").read_text())
    assert not set(STEPS[step].requires) - set(event)
    if "etag" in event:
        # The sample events name a generated sample image by its real ETag (MD5 of its bytes).
        data = {image.key: image.data for image in sample_set()}[event["key"]]
        assert event["etag"] == hashlib.md5(data).hexdigest()
