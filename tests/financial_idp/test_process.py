"""The per-file step and the async path on moto with the Textract stand-in: routes, results, failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from financial_idp import samples
from financial_idp.process import (
    WAITING_FOR_JOB,
    SourceFile,
    collect_file,
    process_file,
    staging_key,
    start_async,
)
from financial_idp.report import build_report
from scripts.localcloud.textract import TextractStandIn
from shared.documents.asyncjobs import AsyncSettings, settle_notifications
from shared.documents.textract import Classified
from shared.polling.errors import FileRejectedError
from shared.s3ap import S3AccessPoint
from shared.tasktokens import TaskTokenStore, table_definition
from tests.conftest import REGION

MAX = 100 * 1024 * 1024
TOPIC = "arn:aws:sns:us-east-1:123456789012:done"
ROLE = "arn:aws:iam::123456789012:role/publish"


@pytest.fixture
def env(aws: None) -> Iterator[dict[str, Any]]:
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("volume", "output", "staging"):
        s3.create_bucket(Bucket=bucket)
    delivered: list[str] = []
    standin = TextractStandIn(
        lambda b, k: bytes(s3.get_object(Bucket=b, Key=k)["Body"].read()), lambda t, m: delivered.append(m)
    )
    standin.install()
    try:
        yield {
            "s3": s3,
            "source": S3AccessPoint("volume", s3),
            "output": S3AccessPoint("output", s3),
            "textract": Classified(boto3.client("textract", region_name=REGION)),
            "standin": standin,
            "delivered": delivered,
        }
    finally:
        standin.uninstall()


def _put(env: dict[str, Any], key: str, body: bytes) -> SourceFile:
    env["s3"].put_object(Bucket="volume", Key=key, Body=body)
    head = env["s3"].head_object(Bucket="volume", Key=key)
    return SourceFile(key, head["ETag"], head["ContentLength"])


def _result(env: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(env["s3"].get_object(Bucket="output", Key=summary["output_key"])["Body"].read()))


@pytest.mark.parametrize("sample", [s for s in samples.plan() if s.mode != "async"], ids=lambda s: s.key)
def test_each_planned_document_gets_its_route_type_and_findings(
    env: dict[str, Any], sample: samples.Sample
) -> None:
    file = _put(env, sample.key, sample.make())
    summary = process_file(
        env["source"], env["output"], file, run_id="r1", textract=env["textract"], max_bytes=MAX
    )
    document = _result(env, summary)
    assert document["source"] == {"key": sample.key, "etag": file.etag, "access_point": "volume"}
    if sample.error:
        assert (document["status"], document["error"]) == ("FAILED", sample.error)
        assert document["reason"]
        return
    assert document["status"] == "SUCCEEDED"
    assert (document["ocr"]["mode"], document["document"]["type"]) == (sample.mode, sample.doc_type)
    assert document["needs_review"] == sample.needs_review
    if sample.mode == "text-layer":
        assert document["ocr"]["textract_calls"] == 0
        assert all("OCR skipped" in d["reason"] for d in document["ocr"]["decisions"])


def test_a_mixed_pdf_sends_only_its_scanned_page_to_textract(env: dict[str, Any]) -> None:
    sample = next(s for s in samples.plan() if "mixed" in s.key)
    file = _put(env, sample.key, sample.make())
    document = _result(
        env,
        process_file(
            env["source"], env["output"], file, run_id="r1", textract=env["textract"], max_bytes=MAX
        ),
    )
    assert [d["skip_ocr"] for d in document["ocr"]["decisions"]] == [True, False]
    assert document["ocr"]["textract_calls"] == 1
    assert env["standin"].calls["textract.AnalyzeDocument"] == 1
    assert {t["page"] for t in document["extraction"]["transactions"]} == {1, 2}


def test_a_document_over_the_size_setting_fails_without_being_read(env: dict[str, Any]) -> None:
    file = SourceFile("big.pdf", '"x"', MAX + 1)
    summary = process_file(
        env["source"], env["output"], file, run_id="r1", textract=env["textract"], max_bytes=MAX
    )
    assert summary["status"] == "FAILED" and "MaxDocumentMiB" in summary["reason"]


def test_textract_refusing_a_page_is_a_per_file_rejection(env: dict[str, Any]) -> None:
    """A scan the sync call refuses (a 41-inch page) raises FileRejectedError for the Catch."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (4100, 200), 255).save(out, "PNG", dpi=(100, 100))
    file = _put(env, "scans/wide.png", out.getvalue())
    summary = process_file(
        env["source"], env["output"], file, run_id="r1", textract=env["textract"], max_bytes=MAX
    )
    assert summary["status"] == "FAILED" and "41.0 in" in summary["reason"]
    with pytest.raises(FileRejectedError, match="UnsupportedDocumentException"):
        env["textract"].analyze_expense(Document={"Bytes": out.getvalue()})


def test_the_async_path_end_to_end_without_a_state_machine(env: dict[str, Any]) -> None:
    sample = next(s for s in samples.plan() if s.key.endswith("acct-7002-scan.pdf"))
    file = _put(env, sample.key, sample.make())
    first = process_file(
        env["source"], env["output"], file, run_id="r1", textract=env["textract"], max_bytes=MAX
    )
    assert (first["status"], first["ocr_pages"], first["textract_kind"]) == (
        WAITING_FOR_JOB,
        [1, 2, 3],
        "analysis",
    )
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(**table_definition("tokens"))
    store = TaskTokenStore("tokens", client=dynamodb)
    started = start_async(
        env["source"],
        file,
        run_id="r1",
        token="token-1",
        execution_id="exec-1",
        ocr_pages=first["ocr_pages"],
        textract_kind="analysis",
        settings=AsyncSettings("staging", TOPIC, ROLE, "uc2"),
        textract=env["textract"],
        s3=env["s3"],
        store=store,
        max_bytes=MAX,
    )
    assert env["s3"].head_object(Bucket="staging", Key=staging_key("r1", file))
    env["standin"].complete_pending()

    class Sfn:
        def __init__(self) -> None:
            self.answers: list[tuple[str, dict[str, Any]]] = []

        def send_task_success(self, taskToken: str, output: str) -> None:  # noqa: N803 - boto3's name
            self.answers.append((taskToken, json.loads(output)))

    sfn = Sfn()
    event = {"Records": [{"Sns": {"Message": m}} for m in env["delivered"]]}
    outcomes = settle_notifications(event, store=store, sfn=sfn, textract=env["textract"], s3=env["s3"])
    assert outcomes == [{"job_id": started["job_id"], "outcome": "SUCCEEDED"}]
    again = settle_notifications(event, store=store, sfn=sfn, textract=env["textract"], s3=env["s3"])
    assert again[0]["outcome"] == "DUPLICATE" and len(sfn.answers) == 1
    ((token, job),) = sfn.answers
    assert token == "token-1"
    summary = collect_file(
        env["source"],
        env["output"],
        file,
        run_id="r1",
        job=job,
        textract=env["textract"],
        s3=env["s3"],
        max_bytes=MAX,
    )
    document = _result(env, summary)
    assert document["ocr"]["mode"] == "async" and len(document["extraction"]["transactions"]) == 18
    assert document["needs_review"] is False
    assert env["s3"].list_objects_v2(Bucket="staging").get("KeyCount") == 0


def test_a_failed_job_fails_the_token_with_textracts_reason_and_unstages(env: dict[str, Any]) -> None:
    file = _put(env, "scan.tiff", samples.docs.scan(samples.invoice_pages(3, 2), "TIFF"))
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(**table_definition("tokens"))
    store = TaskTokenStore("tokens", client=dynamodb)
    start_async(
        env["source"],
        file,
        run_id="r1",
        token="t",
        execution_id="e",
        ocr_pages=[1, 2],
        textract_kind="expense",
        settings=AsyncSettings("staging", TOPIC, ROLE, "uc2"),
        textract=env["textract"],
        s3=env["s3"],
        store=store,
        max_bytes=MAX,
    )
    env["s3"].put_object(Bucket="staging", Key=staging_key("r1", file), Body=b"not a document")
    env["standin"].complete_pending()

    class Sfn:
        def __init__(self) -> None:
            self.failures: list[dict[str, str]] = []

        def send_task_failure(self, **kwargs: str) -> None:
            self.failures.append(kwargs)

    sfn = Sfn()
    event = {"Records": [{"Sns": {"Message": m}} for m in env["delivered"]]}
    assert (
        settle_notifications(event, store=store, sfn=sfn, textract=env["textract"], s3=env["s3"])[0][
            "outcome"
        ]
        == "FAILED"
    )
    assert (
        sfn.failures[0]["error"] == "Textract.JobFailed"
        and "unsupported document format" in sfn.failures[0]["cause"]
    )
    assert env["s3"].list_objects_v2(Bucket="staging").get("KeyCount") == 0


def test_the_report_reads_the_runs_results_and_writes_dataset_rows(env: dict[str, Any]) -> None:
    from shared.polling.discovery import discover

    for sample in samples.plan()[:3] + samples.plan()[-2:]:
        _put(env, sample.key, sample.make())
    found = discover(env["source"], env["output"], run_id="r1")
    from financial_idp.report import run_files

    for item in run_files(env["output"], found.chunks_key):
        file = SourceFile(item["key"], item["etag"], item["size"])
        process_file(env["source"], env["output"], file, run_id="r1", textract=env["textract"], max_bytes=MAX)
    summary = build_report(env["output"], run_id="r1", chunks_key=found.chunks_key)
    assert summary["by_status"] == {"SUCCEEDED": 3, "FAILED": 2}
    assert summary["missing_results"] == [] and summary["needs_review"] == ["invoices/2026-11/INV-00002.pdf"]
    assert summary["dataset"]["records"] == {"financial_documents": 5}
