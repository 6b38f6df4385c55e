"""The per-file step and the report on moto with the Textract, Rekognition and Converse stand-ins."""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from logistics_ocr import samples
from logistics_ocr.process import SUFFIXES, Services, SourceFile, fit_for_rekognition, process_file
from logistics_ocr.report import SHIPMENTS, build_report
from scripts.localcloud.ai_standins import AIStandIns
from scripts.localcloud.textract import TextractStandIn
from shared.documents.textract import Classified
from shared.formats.samples import documents as docs
from shared.language.extraction import StructuredExtractor
from shared.s3ap import S3AccessPoint
from tests.conftest import REGION

MAX = 50 * 1024 * 1024


@pytest.fixture
def env(aws: None) -> Iterator[dict[str, Any]]:
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("volume", "output"):
        s3.create_bucket(Bucket=bucket)

    def read(b: str, k: str) -> bytes:
        return bytes(s3.get_object(Bucket=b, Key=k)["Body"].read())

    textract, ai = TextractStandIn(read), AIStandIns(read)
    textract.install()
    ai.install()
    try:
        services = Services(
            textract=Classified(boto3.client("textract", region_name=REGION)),
            rekognition=boto3.client("rekognition", region_name=REGION),
            extractor=StructuredExtractor(
                "amazon.nova-lite-v1:0", boto3.client("bedrock-runtime", region_name=REGION)
            ),
        )
        yield {
            "s3": s3,
            "source": S3AccessPoint("volume", s3),
            "output": S3AccessPoint("output", s3),
            "services": services,
            "textract": textract,
            "ai": ai,
        }
    finally:
        ai.uninstall()
        textract.uninstall()


def _put(env: dict[str, Any], key: str, body: bytes) -> SourceFile:
    env["s3"].put_object(Bucket="volume", Key=key, Body=body)
    head = env["s3"].head_object(Bucket="volume", Key=key)
    return SourceFile(key, head["ETag"], head["ContentLength"])


def _run(env: dict[str, Any], file: SourceFile) -> dict[str, Any]:
    summary = process_file(
        env["source"], env["output"], file, run_id="r1", services=env["services"], max_bytes=MAX
    )
    return dict(json.loads(env["s3"].get_object(Bucket="output", Key=summary["output_key"])["Body"].read()))


@pytest.mark.parametrize("sample", samples.plan(), ids=lambda s: s.key)
def test_each_planned_file_gets_its_reader_type_extractor_and_findings(
    env: dict[str, Any], sample: samples.Sample
) -> None:
    file = _put(env, sample.key, sample.make())
    document = _run(env, file)
    assert document["source"] == {"key": sample.key, "etag": file.etag, "access_point": "volume"}
    if sample.error:
        assert (document["status"], document["error"]) == ("FAILED", sample.error)
        assert document["reason"]
        return
    assert document["status"] == "SUCCEEDED"
    assert (document["document"]["type"], document["ocr"]["reader"]) == (sample.doc_type, sample.reader)
    failed = sorted(f["rule"] for f in document["findings"] if f["status"] == "FAIL")
    assert failed == sorted(sample.failed)
    assert document["needs_review"] == bool(sample.failed)
    if sample.doc_type == "inventory_photo":
        assert (document["inventory"]["label_count"], document["inventory"]["location"]) == (
            sample.labels,
            sample.location,
        )
    else:
        assert document["extracted_by"] == sample.extracted_by


def test_a_waybill_record_is_typed_and_checked(env: dict[str, Any]) -> None:
    document = _run(env, _put(env, "wb.pdf", docs.text_pdf([samples.waybill_page(2, with_container=True)])))
    record = document["record"]
    shipper, consignee = samples.PEOPLE[2], samples.PEOPLE[4]
    assert record["shipper"] == {"name": shipper[0], "address": shipper[1]}
    assert record["consignee"] == {"name": consignee[0], "address": consignee[1]}
    assert (record["tracking_scheme"], record["carrier"], record["weight_unit"]) == (
        "upu-s10",
        "Harbor Express",
        "kg",
    )
    assert record["pieces"] == sum(i["quantity"] for i in record["items"])
    assert record["container_number"] == samples.container(300_002)
    rules = {f["rule"]: f["status"] for f in document["findings"]}
    assert rules == {
        "s10_check_digit": "PASS",
        "iso6346_check_digit": "PASS",
        "weight_has_unit": "PASS",
        "pieces_match_items": "PASS",
        "weight_matches_items": "PASS",
    }
    assert document["ocr"]["calls"] == 0 and document["ocr"]["pages_skipping_ocr"] == 1


def test_the_model_is_asked_once_more_with_the_errors_and_then_the_file_fails(env: dict[str, Any]) -> None:
    retried = _run(
        env,
        _put(
            env, "bol-1.pdf", docs.text_pdf([samples.bill_of_lading_page(1, "[stand-in: invalid-json-once]")])
        ),
    )
    assert retried["extracted_by"] == "model" and retried["model"]["attempts"] == 2
    assert retried["model"]["rules_missed"] == ["shipper_name", "consignee_name", "weight"]
    failed = _run(
        env,
        _put(
            env, "bol-2.pdf", docs.text_pdf([samples.bill_of_lading_page(2, "[stand-in: schema-violation]")])
        ),
    )
    assert (failed["status"], failed["error"]) == ("FAILED", "ExtractionError")
    assert "shipment schema after 2 attempts" in failed["reason"]
    assert env["ai"].calls["bedrock-runtime.Converse"] == 4


def test_pii_never_reaches_the_logs(env: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for sample in samples.plan():
        _run(env, _put(env, sample.key, sample.make()))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "waybills/2026-11/WB-0001.pdf" in logged  # the keys are logged, so the logs were captured
    for name, address in samples.PEOPLE:
        assert name not in logged and address not in logged
        assert name.split()[-1] not in logged


def test_images_are_selected_by_suffix_whatever_their_folder(env: dict[str, Any]) -> None:
    for sample in samples.plan():
        env["s3"].put_object(Bucket="volume", Key=sample.key, Body=b"x")
    env["s3"].put_object(Bucket="volume", Key="labels/notes.txt", Body=b"x")
    listed = {o.key for o in env["source"].iter_objects("", suffixes=SUFFIXES)}
    assert listed == {s.key for s in samples.plan()}
    assert {"labels/IMG_0001.JPG", "images/dock-3/label-0002.png", "scans/raw/label-0003.jpeg"} <= listed


def test_a_photo_over_rekognitions_limit_is_scaled_under_it_keeping_its_text_record() -> None:
    from PIL import Image

    photo = docs.scan([samples.label_page(1)], "PNG", dpi=150)
    small = fit_for_rekognition(photo, max_bytes=len(photo) // 3)
    assert len(small) <= len(photo) // 3
    with Image.open(io.BytesIO(small)) as image:
        assert image.format == "JPEG"
    assert docs.read_layout(small) == docs.read_layout(photo)
    assert fit_for_rekognition(photo) is photo  # already under 5 MB: sent as it is


def test_a_file_over_the_stack_limit_is_failed_before_it_is_read(env: dict[str, Any]) -> None:
    file = _put(env, "big.pdf", docs.text_pdf([samples.waybill_page(1)]))
    summary = process_file(
        env["source"], env["output"], file, run_id="r1", services=env["services"], max_bytes=100
    )
    assert (summary["status"], summary["error"]) == ("FAILED", "DocumentLimitError")


def test_the_report_counts_labels_per_location_from_the_results_and_keeps_pii_out_of_the_dataset(
    env: dict[str, Any],
) -> None:
    from logistics_ocr.report import run_files
    from shared.polling.discovery import discover

    for sample in samples.plan():
        _put(env, sample.key, sample.make())
    env["s3"].put_object(Bucket="volume", Key="waybills/deleted-before-processing.pdf", Body=b"%PDF-1.7")
    found = discover(env["source"], env["output"], run_id="r1", suffixes=SUFFIXES)
    for item in run_files(env["output"], found.chunks_key):
        if item["key"] != "waybills/deleted-before-processing.pdf":
            _run(env, SourceFile(item["key"], item["etag"], item["size"]))
    summary = build_report(env["output"], run_id="r1", chunks_key=found.chunks_key)
    assert summary["labels_per_location"] == {
        "dc-east/aisle-01/bay-02": {"photos": 2, "labels": 8},
        "dc-east/aisle-04/bay-01": {"photos": 1, "labels": 4},
    }
    assert summary["missing_results"] == ["waybills/deleted-before-processing.pdf"]
    assert summary["by_status"] == {
        "SUCCEEDED": sum(1 for s in samples.plan() if not s.error),
        "FAILED": sum(1 for s in samples.plan() if s.error),
    }
    assert summary["failed_findings"] == {"s10_check_digit": 3, "pieces_match_items": 1, "weight_has_unit": 1}
    columns = {c.name for c in SHIPMENTS.columns}
    assert not columns & {"shipper", "consignee", "shipper_name", "consignee_name", "address"}
    assert summary["dataset"]["records"] == {"shipments": len(samples.plan())}
    objects = env["s3"].list_objects_v2(Bucket="output", Prefix="datasets/logistics/shipments/")["Contents"]
    text = "".join(
        gzip.decompress(env["s3"].get_object(Bucket="output", Key=o["Key"])["Body"].read()).decode()
        for o in objects
    )
    assert len(text.splitlines()) == len(samples.plan())
    for name, address in samples.PEOPLE:
        assert name not in text and address not in text
