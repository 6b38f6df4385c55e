"""UC10 per-file step: IFC summaries and revision diffs, drawings with the page limit first, Revit files."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from construction_bim.models import ProcessConfig, SourceFile, kind_of, previous_revision, process_file
from construction_bim.samples import RVT, drawing, ifc_model, plan
from shared.errors import FAILED, SUCCEEDED
from shared.polling.keys import output_key
from shared.s3ap import S3AccessPoint

CFG = ProcessConfig(use_case="construction-bim", access_point="ap", output_bucket="uc10-output")


@pytest.fixture
def stores(access_point: dict[str, Any]) -> tuple[S3AccessPoint, S3AccessPoint, Any]:
    s3 = access_point["client"]
    s3.create_bucket(Bucket="uc10-output")
    return S3AccessPoint(access_point["arn"], s3), S3AccessPoint("uc10-output", s3), s3


def _put(s3: Any, key: str, body: bytes) -> SourceFile:
    etag = s3.put_object(Bucket="fsxn-volume", Key=key, Body=body)["ETag"].strip('"')
    return SourceFile(key=key, etag=etag, size=len(body))


def _doc(s3: Any, file: SourceFile) -> dict[str, Any]:
    body = s3.get_object(Bucket="uc10-output", Key=output_key(file.key, file.etag))["Body"].read()
    return dict(json.loads(body))


def test_kind_of_a_key() -> None:
    assert [kind_of(k) for k in ("a.IFC", "b.pdf", "c.rvt", "d.rfa", "e.dwg")] == [
        "ifc",
        "drawing",
        "revit",
        "revit",
        "other",
    ]


def test_every_sample_gets_the_outcome_it_should(stores: tuple[S3AccessPoint, S3AccessPoint, Any]) -> None:
    source, output, s3 = stores
    for sample in plan():
        file = _put(s3, sample.key, sample.body)
        out = process_file(source, output, file, run_id="r1", cfg=CFG)
        expected = {"read": "read", "unsupported": "unsupported", "failed": "failed"}[sample.expect]
        assert out["outcome"] == expected, (sample.key, out)


def test_a_model_summary(stores: tuple[S3AccessPoint, S3AccessPoint, Any]) -> None:
    source, output, s3 = stores
    file = _put(s3, "t/model.ifc", ifc_model(revision=1))
    process_file(source, output, file, run_id="r1", cfg=CFG)
    doc = _doc(s3, file)
    model = doc["model"]
    assert doc["status"] == SUCCEEDED and model["schema"] == "IFC4"
    assert model["project_name"] == "Résidence Tower A"
    assert model["project_description"] == "Eight storeys of offices over retail"
    assert model["units"]["LENGTHUNIT"] == "MILLIMETRE"
    assert [s["name"] for s in model["storeys"]] == ["Level 0", "Level 1", "Level 2", "Roof"]
    assert model["entity_counts"]["IFCWALL"] == 12 and model["entity_counts"]["IFCDOOR"] == 6
    rules = {f["rule"]: f["count"] for f in model["findings"]}
    assert rules == {"door_without_fire_rating": 2, "storey_without_elevation": 1}
    assert doc["diff"] == {"previous_etag": None, "first_revision": True}
    snapshot = json.loads(
        gzip.decompress(s3.get_object(Bucket="uc10-output", Key=model["snapshot_key"])["Body"].read())
    )
    assert len(snapshot) == model["rooted_entities"]


def test_a_new_revision_is_diffed_with_the_previous_one_of_its_key(
    stores: tuple[S3AccessPoint, S3AccessPoint, Any],
) -> None:
    source, output, s3 = stores
    first = _put(s3, "t/model.ifc", ifc_model(revision=1))
    process_file(source, output, first, run_id="r1", cfg=CFG, now=datetime(2026, 12, 1, tzinfo=UTC))
    other = _put(s3, "t/other.ifc", ifc_model(revision=2))  # another key: never the previous revision
    process_file(source, output, other, run_id="r1", cfg=CFG)
    second = _put(s3, "t/model.ifc", ifc_model(revision=2))
    out = process_file(source, output, second, run_id="r2", cfg=CFG, now=datetime(2026, 12, 2, tzinfo=UTC))
    assert out["diff"] == {"added": 2, "removed": 1, "changed": 2}
    diff = _doc(s3, second)["diff"]
    assert diff["previous_etag"] == first.etag
    assert diff["added_by_type"] == {"IFCDOOR": 2}
    assert diff["removed_by_type"] == {"IFCWINDOW": 1}
    assert diff["changed_by_type"] == {"IFCRELDEFINESBYPROPERTIES": 1, "IFCWALL": 1}  # the door set grew
    previous = previous_revision(output, second)
    assert previous is not None and previous["source"]["etag"] == first.etag


def test_the_page_limit_is_checked_before_textract(stores: tuple[S3AccessPoint, S3AccessPoint, Any]) -> None:
    source, output, s3 = stores

    class NoTextract:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"Textract was called ({name}) for an oversize sheet")

    file = _put(s3, "t/site.pdf", drawing("Site", "A-001", "B", width_in=48, height_in=36))
    out = process_file(source, output, file, run_id="r", cfg=CFG, textract=NoTextract())
    assert out["status"] == FAILED
    assert "48.0 in" in out["reason"] and "40 in" in out["reason"]


def test_a_born_digital_drawing_is_read_from_its_text_layer(
    stores: tuple[S3AccessPoint, S3AccessPoint, Any],
) -> None:
    source, output, s3 = stores
    file = _put(s3, "t/A-101.pdf", drawing("Level 1 plan", "A-101", "C"))
    process_file(source, output, file, run_id="r", cfg=CFG, textract=None)
    drawing_section = _doc(s3, file)["drawing"]
    assert drawing_section["route"] == "text-layer"
    assert drawing_section["title_block"]["DRAWING NO"] == "A-101"
    assert drawing_section["title_block"]["REVISION"] == "C"


def test_revit_is_unsupported_with_a_reason_not_invalid(
    stores: tuple[S3AccessPoint, S3AccessPoint, Any],
) -> None:
    source, output, s3 = stores
    file = _put(s3, "t/model.rvt", RVT)
    out = process_file(source, output, file, run_id="r", cfg=CFG)
    doc = _doc(s3, file)
    assert out["outcome"] == doc["outcome"] == "unsupported"
    assert doc["status"] == SUCCEEDED and "export" in doc["reason"] and "error" not in doc


def test_a_broken_model_names_where(stores: tuple[S3AccessPoint, S3AccessPoint, Any]) -> None:
    source, output, s3 = stores
    model = ifc_model(revision=1)
    file = _put(s3, "t/cut.ifc", model[: len(model) // 2])
    out = process_file(source, output, file, run_id="r", cfg=CFG)
    doc = _doc(s3, file)
    assert out["status"] == FAILED and doc["error"] == "IfcTruncatedError" and "offset" in doc["reason"]


def test_size_limits(stores: tuple[S3AccessPoint, S3AccessPoint, Any]) -> None:
    source, output, _ = stores
    cfg = ProcessConfig(
        use_case="construction-bim",
        access_point="ap",
        output_bucket="uc10-output",
        max_model_mib=1,
        max_drawing_mib=1,
    )
    big_model = process_file(source, output, SourceFile("t/big.ifc", "e", 2 << 20), run_id="r", cfg=cfg)
    big_drawing = process_file(source, output, SourceFile("t/big.pdf", "e", 2 << 20), run_id="r", cfg=cfg)
    assert "MAX_MODEL_MIB=1" in big_model["reason"] and "MAX_DRAWING_MIB=1" in big_drawing["reason"]
