"""Result documents, the FAILED document of a caught failure, and the discovery function's actions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import config
from shared.polling.contract import ContractError
from shared.polling.keys import output_key
from shared.polling.results import caught_reason, record_failure, result_document
from shared.polling.settings import PollingConfig
from shared.polling.steps import handle
from shared.s3ap import S3AccessPoint

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:uc-polling"
LAMBDA_CAUSE = json.dumps(
    {
        "errorMessage": "access denied: GetObject on ap key 'a/b.jpg'",
        "errorType": "AccessDeniedError",
        "stackTrace": [],
    }
)


def test_a_result_document_is_keyed_by_the_full_key_and_the_version() -> None:
    document = result_document(
        key="a/b.jpg", etag='"abc"', status="SUCCEEDED", sections={"labels": [1], "skipped": None},
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    assert document["output_key"] == output_key("a/b.jpg", "abc") == "results/by-key/a/b.jpg/abc.json"
    assert document["labels"] == [1] and "skipped" not in document and "reason" not in document


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "FAILED"}, "needs a reason"),
        ({"status": "DONE"}, "one of"),
        ({"status": "SUCCEEDED", "sections": {"status": "x"}}, "overwrite"),
    ],
)
def test_a_result_document_refuses_what_would_be_silently_wrong(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        result_document(key="a.jpg", etag="e", **kwargs)


def test_the_reason_of_a_caught_failure_comes_from_the_lambda_cause_or_says_there_was_none() -> None:
    assert caught_reason("AccessDeniedError", LAMBDA_CAUSE) == (
        "AccessDeniedError: access denied: GetObject on ap key 'a/b.jpg'"
    )
    assert caught_reason("States.Timeout", "the task timed out") == "States.Timeout: the task timed out"
    assert caught_reason("States.Runtime", "") == "States.Runtime (no cause given)"
    assert len(caught_reason("X", "y" * 10_000)) == 2000


def test_record_failure_writes_a_failed_document_with_reason_and_error_type(
    access_point: dict[str, Any],
) -> None:
    s3 = access_point["client"]
    s3.create_bucket(Bucket="out")
    output = S3AccessPoint("out", s3)
    event = {
        "key": "a/b.jpg",
        "etag": "e1",
        "run_id": "r",
        "caught": {"Error": "AccessDeniedError", "Cause": LAMBDA_CAUSE},
    }
    summary = record_failure(output, event, source="ap")
    stored = json.loads(s3.get_object(Bucket="out", Key=output_key("a/b.jpg", "e1"))["Body"].read())
    assert stored["status"] == summary["status"] == "FAILED"
    assert stored["error"] == "AccessDeniedError" and stored["reason"].startswith(
        "AccessDeniedError: access denied"
    )
    assert stored["source"] == {"key": "a/b.jpg", "etag": "e1", "access_point": "ap"}
    with pytest.raises(TypeError, match="caught"):
        record_failure(output, {**event, "caught": "AccessDeniedError"})


@pytest.fixture
def polling_env(access_point: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> PollingConfig:
    access_point["client"].create_bucket(Bucket="out")
    for name, value in {
        "USE_CASE": "uc",
        "ACCESS_POINT": access_point["arn"],
        "OUTPUT_BUCKET": "out",
    }.items():
        monkeypatch.setenv(name, value)
    config.reset()
    return config.from_environ(PollingConfig)


def test_the_discovery_function_answers_its_three_actions_and_refuses_others(
    access_point: dict[str, Any], polling_env: PollingConfig
) -> None:
    s3 = access_point["client"]
    s3.put_object(Bucket="fsxn-volume", Key="x/1.bin", Body=b"1")
    aps = {"source": S3AccessPoint(access_point["arn"], s3), "output": S3AccessPoint("out", s3)}
    found = handle({"run_id": "r1"}, polling_env, **aps)
    assert (found["listed"], found["files_to_process"], found["in_flight"]) == (1, 1, "")
    (chunk,) = json.loads(s3.get_object(Bucket="out", Key=found["chunks_key"])["Body"].read())
    loaded = handle({"action": "load_chunk", "run_id": "r1", "chunk": chunk}, polling_env, **aps)
    assert [f["key"] for f in loaded["files"]] == ["x/1.bin"]
    failed = handle(
        {"action": "record_failure", **loaded["files"][0], "run_id": "r1", "caught": {"Error": "E"}},
        polling_env,
        **aps,
    )
    assert failed["status"] == "FAILED" and failed["reason"] == "E (no cause given)"
    with pytest.raises(ContractError, match="unknown discovery action"):
        handle({"action": "discover_everything", "run_id": "r1"}, polling_env, **aps)
    with pytest.raises(ContractError, match="lacks"):
        handle({"action": "record_failure", "run_id": "r1"}, polling_env, **aps)


def test_a_run_with_an_earlier_run_in_flight_lists_nothing_and_writes_nothing(
    access_point: dict[str, Any], polling_env: PollingConfig
) -> None:
    s3 = access_point["client"]
    s3.put_object(Bucket="fsxn-volume", Key="x/1.bin", Body=b"1")

    class Running:
        def get_paginator(self, name: str) -> Any:
            class Paginator:
                def paginate(self, **kwargs: Any) -> Any:
                    yield {"executions": [{"executionArn": f"{MACHINE}:early", "name": "early",
                                           "startDate": datetime(2026, 1, 1, tzinfo=UTC)}]}  # fmt: skip

            return Paginator()

    event = {"run_id": "late", "state_machine_arn": MACHINE, "execution_arn": f"{MACHINE}:late",
             "started_at": "2026-01-01T00:05:00Z"}  # fmt: skip
    aps = {"source": S3AccessPoint(access_point["arn"], s3), "output": S3AccessPoint("out", s3)}
    result = handle(event, polling_env, sfn=Running(), **aps)
    assert result["in_flight"] == f"{MACHINE}:early"
    assert (result["listed"], result["chunk_count"], result["mode"]) == (0, 0, "in-flight")
    assert "Contents" not in s3.list_objects_v2(Bucket="out")
    with pytest.raises(ContractError, match="Step Functions client"):
        handle(event, polling_env, **aps)
