"""The per-file step on moto with the Textract stand-in and a recording Rekognition: photos, estimates,
policy documents, broken files, and what reaches DetectLabels (JPEG bytes under 5 MB, never S3Object)."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from PIL import Image

from insurance_claims import samples
from insurance_claims.evidence import (
    DOCUMENT,
    ESTIMATE,
    PHOTO,
    BrokenPhotoError,
    EvidenceConfig,
    NotAClaimFileError,
    SourceFile,
    claim_id_of,
    kind_of,
    policy_facts,
    prepare_photo,
    process_file,
)
from scripts.localcloud.textract import TextractStandIn
from shared.documents.textract import Classified
from shared.s3ap import S3AccessPoint
from tests.conftest import REGION


class RecordingRekognition:
    """Answers DetectLabels with fixed labels and keeps what it was sent."""

    def __init__(self, labels: tuple[str, ...] = ("Car", "Wreck", "Road")) -> None:
        self.labels = labels
        self.requests: list[dict[str, Any]] = []

    def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        return {"Labels": [{"Name": name, "Confidence": 90.0 - i} for i, name in enumerate(self.labels)]}


@pytest.fixture
def env(aws: None) -> Iterator[dict[str, Any]]:
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("volume", "output"):
        s3.create_bucket(Bucket=bucket)
    standin = TextractStandIn(
        lambda b, k: bytes(s3.get_object(Bucket=b, Key=k)["Body"].read()), lambda t, m: None
    )
    standin.install()
    try:
        yield {
            "s3": s3,
            "source": S3AccessPoint("volume", s3),
            "output": S3AccessPoint("output", s3),
            "textract": Classified(boto3.client("textract", region_name=REGION)),
            "rekognition": RecordingRekognition(),
            "standin": standin,
        }
    finally:
        standin.uninstall()


def _run(env: dict[str, Any], key: str, body: bytes) -> dict[str, Any]:
    env["s3"].put_object(Bucket="volume", Key=key, Body=body)
    head = env["s3"].head_object(Bucket="volume", Key=key)
    file = SourceFile(key, head["ETag"], head["ContentLength"])
    summary = process_file(
        env["source"],
        env["output"],
        file,
        run_id="r1",
        cfg=EvidenceConfig(use_case="insurance-claims", access_point="volume", output_bucket="output"),
        rekognition=env["rekognition"],
        textract=env["textract"],
    )
    return dict(json.loads(env["s3"].get_object(Bucket="output", Key=summary["output_key"])["Body"].read()))


@pytest.mark.parametrize("sample", samples.files(), ids=lambda s: s.key)
def test_every_sample_file_becomes_its_evidence_or_its_typed_failure(
    env: dict[str, Any], sample: Any
) -> None:
    document = _run(env, sample.key, sample.make())
    assert document["claim_id"] == sample.key.split("/")[1]
    if sample.error:
        assert (document["status"], document["error"]) == ("FAILED", sample.error)
        assert document["reason"]
        return
    assert document["status"] == "SUCCEEDED"
    facts = document["evidence"]
    if document["kind"] == PHOTO:
        assert facts["damage_labels"] == ["Car", "Wreck"] and facts["resized"] is False
    elif document["kind"] == ESTIMATE:
        assert facts["total"] and facts["currency"] == "USD" and facts["line_items"]
    else:
        assert facts["policy_number"].startswith("POL-") and facts["policy_status"] in {"active", "lapsed"}


def test_estimates_are_read_from_the_text_layer_or_by_analyze_expense_on_one_page(
    env: dict[str, Any],
) -> None:
    digital = _run(env, "claims/C1/estimate.pdf", samples.files()[2].make())["evidence"]
    assert (digital["ocr_mode"], digital["textract_calls"], digital["pages_skipping_ocr"]) == (
        "text-layer",
        0,
        1,
    )
    assert digital["total"] == samples.estimate_total(1, 3)
    scanned = _run(env, "claims/C2/estimate-scan.pdf", samples.files()[6].make())["evidence"]
    assert (scanned["ocr_mode"], scanned["textract_calls"]) == ("sync", 1)
    assert scanned["total"] == samples.estimate_total(2, 5, scale=4)
    assert scanned["policy_number"] == samples.POLICIES["CLM-1002"]
    assert env["standin"].calls["textract.AnalyzeExpense"] == 1


def test_rekognition_gets_jpeg_bytes_never_an_s3_object(env: dict[str, Any]) -> None:
    _run(env, "claims/C1/photo.png", _png(800, 600))
    request = env["rekognition"].requests[-1]
    assert set(request["Image"]) == {"Bytes"}
    with Image.open(io.BytesIO(request["Image"]["Bytes"])) as image:
        assert image.format == "JPEG"


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, "PNG")
    return out.getvalue()


def test_a_photo_over_5_mb_is_resized_to_jpeg_bytes_under_5_mb() -> None:
    noisy = _png(3000, 2200)  # random pixels: about 20 MB as PNG, and large as JPEG too
    assert len(noisy) > 5 * 1024 * 1024
    prepared = prepare_photo(noisy, "claims/C1/big.png")
    assert prepared.resized and len(prepared.payload) < 5 * 1024 * 1024
    with Image.open(io.BytesIO(prepared.payload)) as image:
        assert image.format == "JPEG" and image.size == (prepared.width, prepared.height)
    small = samples.damage_photo(9)
    assert prepare_photo(small).payload is small  # a JPEG under the limit goes as it is


def test_broken_photos_raise_a_typed_error_naming_the_file() -> None:
    for data in (samples.damage_photo(1)[:4000], b"%PDF-1.7 not an image", b""):
        with pytest.raises(BrokenPhotoError, match=r"claims/C1/x\.jpg cannot be decoded"):
            prepare_photo(data, "claims/C1/x.jpg")


def test_files_are_grouped_by_the_claim_folder_and_sorted_by_name() -> None:
    assert claim_id_of("claims/CLM-7/photos/a.jpg") == "CLM-7"
    for key in ("claims/a.jpg", "other/CLM-7/a.jpg", "claims//a.jpg", "claims/CLM 7/a.jpg"):
        with pytest.raises(NotAClaimFileError):
            claim_id_of(key)
    assert kind_of("claims/C/front.JPG") == PHOTO
    assert kind_of("claims/C/Estimate-scan.jpg") == ESTIMATE
    assert kind_of("claims/C/letter.pdf") == DOCUMENT


def test_a_file_outside_a_claim_folder_is_a_failed_result(env: dict[str, Any]) -> None:
    document = _run(env, "claims/stray.jpg", samples.damage_photo(1))
    assert (document["status"], document["error"]) == ("FAILED", "NotAClaimFileError")


def test_policy_facts_are_read_from_labelled_text() -> None:
    assert policy_facts("Policy No.: pol-12345\nPolicy status: Lapsed") == {
        "policy_number": "POL-12345",
        "policy_status": "lapsed",
    }
    assert policy_facts("Total: 10.00") == {}
