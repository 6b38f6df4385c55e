"""UC5's per-file step without AWS: outcomes, region rules for free text, the copy, and PHI never logged."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from typing import Any

import pydicom
import pytest

from healthcare_dicom import demo
from healthcare_dicom.deidentify import DeidentifyConfig, Reading, free_text_phi, phi_region, process_instance
from healthcare_dicom.files import SourceFile
from healthcare_dicom.summary import summarise
from shared.errors import ObjectNotFoundError
from shared.polling.keys import output_key

CFG = DeidentifyConfig(
    use_case="healthcare-dicom", access_point="ap", output_bucket="out", region="us-east-1"
)
KEY = b"secret-key" * 4


class FakeOutput:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.target = "out"

    def put(self, key: str, body: bytes, *, content_type: str | None = None) -> str:
        self.objects[key] = body
        return key

    def get_bytes(self, key: str, **_: Any) -> bytes:
        if key not in self.objects:
            raise ObjectNotFoundError(key)
        return self.objects[key]


def fake_detect(text: str) -> dict[str, Any]:
    entities = []
    if "2026" in text:
        begin = text.index("2026")
        entities.append(
            {"Type": "DATE", "Score": 0.99, "BeginOffset": begin, "EndOffset": begin + 10, "Text": text}
        )
    return {"Entities": entities}


def run(
    sample: demo.Sample, cfg: DeidentifyConfig = CFG, detect: Any = fake_detect
) -> tuple[dict[str, Any], FakeOutput]:
    data = demo.body(sample)
    output = FakeOutput()
    file = SourceFile(sample.key, "etag-1", len(data))
    summary = process_instance(
        lambda f: Reading(io.BytesIO(data), lambda: {"bytes_fetched": 0}),
        lambda f, limit: data,
        output,  # type: ignore[arg-type]
        file,
        run_id="run-1",
        source="ap",
        cfg=cfg,
        deid_key=lambda: KEY,
        detect=detect,
        detect_reason="off",
    )
    return summary, output


PLAN = demo.plan(0)


@pytest.mark.parametrize("sample", PLAN, ids=[s.key for s in PLAN])
def test_every_variant_gets_its_outcome(sample: demo.Sample) -> None:
    summary, output = run(sample)
    document = json.loads(output.objects[output_key(sample.key, "etag-1")])
    outcome = document["status"] if document["status"] == "SUCCEEDED" else document["error"]
    assert outcome == sample.expect
    assert summary["output_key"] == output_key(sample.key, "etag-1")


def test_result_names_the_sop_uid_and_the_index_points_back() -> None:
    sample = PLAN[0]
    _, output = run(sample)
    document = json.loads(output.objects[output_key(sample.key, "etag-1")])
    assert document["sop_instance_uid"] == sample.instance.sop_uid
    index = json.loads(output.objects[f"index/by-sop/{sample.instance.sop_uid}.json"])
    assert index["key"] == sample.key and index["result"] == output_key(sample.key, "etag-1")


def test_the_copy_goes_to_the_output_bucket_without_phi() -> None:
    sample = PLAN[0]
    _, output = run(sample)
    copies = [k for k in output.objects if k.startswith("deidentified/")]
    assert len(copies) == 1
    data = output.objects[copies[0]]
    assert not any(v.encode() in data for v in demo.PHI_VALUES)
    ds = pydicom.dcmread(io.BytesIO(data))
    assert ds.PatientIdentityRemoved == "YES"
    assert copies[0] == f"deidentified/{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm"


def test_burned_in_annotation_gets_no_copy() -> None:
    sample = next(s for s in PLAN if s.defect == "burned_in")
    _, output = run(sample)
    document = json.loads(output.objects[output_key(sample.key, "etag-1")])
    assert document["deidentified"]["status"] == "SKIPPED"
    assert "BurnedInAnnotation" in document["deidentified"]["reason"]
    assert not [k for k in output.objects if k.startswith("deidentified/")]


def test_lenient_reads_a_file_without_preamble_and_flags_it() -> None:
    sample = next(s for s in PLAN if s.defect == "no_preamble")
    _, output = run(sample, dataclasses.replace(CFG, lenient_preamble=True))
    document = json.loads(output.objects[output_key(sample.key, "etag-1")])
    assert document["status"] == "SUCCEEDED"
    assert document["dicom"]["flags"] == ["no_preamble"]


def test_free_text_findings_keep_types_and_offsets_never_text() -> None:
    found = free_text_phi({"ImageComments": "seen 2026-11-30 by Dr X"}, fake_detect, "")
    assert found["entities"]["ImageComments"] == [{"type": "DATE", "score": 0.99, "begin": 5, "end": 15}]
    assert "Dr X" not in json.dumps(found)
    calls: list[str] = []

    def counting(text: str) -> dict[str, Any]:
        calls.append(text)
        return fake_detect(text)

    many = free_text_phi(
        {"StudyDescription": "CT CHEST", "ImageComments": "on 2026-11-30", "ProtocolName": "P"}, counting, ""
    )
    assert len(calls) == 1 and many["calls"] == 1
    assert many["entities"]["ImageComments"] == [{"type": "DATE", "score": 0.99, "begin": 3, "end": 13}]
    assert many["phi_attributes"] == ["ImageComments"]
    skipped = free_text_phi({"ImageComments": "x"}, None, "not offered")
    assert skipped["status"] == "SKIPPED" and skipped["reason"] == "not offered"


def test_cross_region_is_off_by_default() -> None:
    assert phi_region(CFG) == ("us-east-1", "")
    abroad = dataclasses.replace(CFG, region="eu-central-1")
    region, reason = phi_region(abroad)
    assert region == "" and "ALLOW_CROSS_REGION is off" in reason
    allowed = dataclasses.replace(abroad, allow_cross_region=True, comprehend_medical_region="eu-west-1")
    assert phi_region(allowed) == ("eu-west-1", "")
    assert phi_region(dataclasses.replace(CFG, detect_free_text_phi=False))[0] == ""


def test_phi_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        for sample in PLAN:
            run(sample)
    assert caplog.records  # the failures are logged, by key and error type
    assert not any(value in caplog.text for value in demo.PHI_VALUES)


def test_summary_counts_without_phi() -> None:
    documents = []
    for sample in PLAN:
        _, output = run(sample)
        documents.append(json.loads(output.objects[output_key(sample.key, "etag-1")]))
    summary = summarise("run-1", documents, pending=["x.dcm"])
    assert (summary["studies"], summary["series"]) == (2, 4)
    assert summary["failed"] == 3 and summary["pending"] == 1
    assert summary["free_text_phi_entity_types"] == {"DATE": 4}
    assert not any(value in json.dumps(summary) for value in demo.PHI_VALUES)
