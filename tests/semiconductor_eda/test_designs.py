"""UC6 per-file step: a design file read whole, its result document and dataset rows; every error path."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from semiconductor_eda.designs import (
    DESIGNS,
    FINDINGS,
    LAYERS,
    DesignFile,
    ValidateConfig,
    db_unit,
    format_of,
    process_design,
    project_of,
)
from semiconductor_eda.samples import plan
from shared.errors import FAILED, SUCCEEDED
from shared.polling.keys import output_key
from shared.s3ap import S3AccessPoint

NOW = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


def test_format_and_project_of_a_key() -> None:
    assert format_of("a/b/TOP.GDS") == "gdsii" and format_of("x.gds2") == "gdsii"
    assert format_of("x.oas") == "oasis" and format_of("x.oasis") == "oasis"
    assert format_of("x.gds.txt") is None
    assert project_of("soc-alpha/libs/alu.gds") == "soc-alpha"
    assert project_of("designs/soc-beta/x.oas", "designs/") == "soc-beta"
    assert project_of("loose.gds") == ""


def test_units_compare_equal_across_formats() -> None:
    assert db_unit(1e-6 / 1000.0) == db_unit(1e-9) == 1e-9
    assert db_unit(0.25e-9) != db_unit(1e-9)


@pytest.fixture
def stores(access_point: dict[str, Any]) -> tuple[S3AccessPoint, S3AccessPoint, Any]:
    s3 = access_point["client"]
    s3.create_bucket(Bucket="uc6-output")
    return S3AccessPoint(access_point["arn"], s3), S3AccessPoint("uc6-output", s3), s3


def _put(s3: Any, key: str, body: bytes) -> DesignFile:
    response = s3.put_object(Bucket="fsxn-volume", Key=key, Body=body)
    return DesignFile(key=key, etag=response["ETag"].strip('"'), size=len(body))


def _rows(s3: Any, prefix: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for obj in s3.list_objects_v2(Bucket="uc6-output", Prefix=f"datasets/{prefix}/").get("Contents", []):
        body = s3.get_object(Bucket="uc6-output", Key=obj["Key"])["Body"].read()
        rows.extend(json.loads(line) for line in gzip.decompress(body).splitlines())
    return rows


def _cfg(**overrides: Any) -> ValidateConfig:
    return ValidateConfig(
        use_case="semiconductor-eda", access_point="ap", output_bucket="uc6-output", **overrides
    )


def test_every_sample_gets_its_result_and_rows(stores: tuple[S3AccessPoint, S3AccessPoint, Any]) -> None:
    source, output, s3 = stores
    outcomes = {}
    for sample in plan():
        file = _put(s3, sample.key, sample.body)
        outcomes[sample.key] = process_design(source, output, file, run_id="run-1", cfg=_cfg(), now=NOW)
    for sample in plan():
        expected = FAILED if sample.expect == "broken" else SUCCEEDED
        assert outcomes[sample.key]["status"] == expected, sample.key
    designs = {r["source_key"]: r for r in _rows(s3, DESIGNS.prefix)}
    assert len(designs) == len(plan())
    alu = designs["soc-alpha/alu.gds"]
    assert alu["project"] == "soc-alpha" and alu["library"] == "ALU" and alu["cell_count"] == 3
    assert alu["db_unit_m"] == 1e-9 and alu["top_cell"] == "ALU_TOP"
    assert designs["soc-alpha/pll.oas"]["db_unit_m"] == 1e-9  # read from the OASIS START record
    assert designs["soc-beta/analog.gds"]["db_unit_m"] == 0.25e-9
    assert designs["broken/units_length.gds"]["error"] == "GdsiiRecordError"
    assert "offset 44" in designs["broken/units_length.gds"]["reason"]
    findings = {(r["source_key"], r["code"]) for r in _rows(s3, FINDINGS.prefix)}
    assert ("soc-alpha/io_ring.gds", "zero_area_boundary") in findings
    assert ("soc-alpha/chip_top.gds", "undefined_cell") in findings
    layers = [r for r in _rows(s3, LAYERS.prefix) if r["source_key"] == "soc-alpha/alu.gds"]
    assert {(r["layer"], r["datatype"]) for r in layers} == {(1, 0), (2, 0), (10, 0)}


def test_result_document_of_a_broken_file_names_record_and_offset(
    stores: tuple[S3AccessPoint, S3AccessPoint, Any],
) -> None:
    source, output, s3 = stores
    file = _put(s3, "p/bad.oas", b"not oasis at all")
    out = process_design(source, output, file, run_id="r", cfg=_cfg(), now=NOW)
    document = json.loads(
        s3.get_object(Bucket="uc6-output", Key=output_key(file.key, file.etag))["Body"].read()
    )
    assert out["status"] == document["status"] == FAILED
    assert document["error"] == "OasisMagicError"
    assert "offset 0" in document["reason"]


def test_a_file_above_the_size_limit_is_not_read(stores: tuple[S3AccessPoint, S3AccessPoint, Any]) -> None:
    source, output, _ = stores
    file = DesignFile(key="p/huge.gds", etag="abc", size=5 << 20)  # never put: it must not be read
    out = process_design(source, output, file, run_id="r", cfg=_cfg(max_design_mib=4), now=NOW)
    assert out["status"] == FAILED and "MAX_DESIGN_MIB=4" in out["reason"]


def test_an_unknown_suffix_is_failed_with_its_reason(
    stores: tuple[S3AccessPoint, S3AccessPoint, Any],
) -> None:
    source, output, s3 = stores
    file = _put(s3, "p/notes.txt", b"hello")
    out = process_design(source, output, file, run_id="r", cfg=_cfg(), now=NOW)
    assert out["status"] == FAILED and "suffix" in out["reason"]


def test_a_missing_object_raises_for_the_catch(stores: tuple[S3AccessPoint, S3AccessPoint, Any]) -> None:
    from shared.errors import PatternError

    source, output, _ = stores
    with pytest.raises(PatternError):
        process_design(source, output, DesignFile("p/gone.gds", "e", 100), run_id="r", cfg=_cfg(), now=NOW)


def test_validate_handler_checks_its_input(
    access_point: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.polling.contract import ContractError
    from tests.handlers import load_handler

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="uc6-output")
    monkeypatch.setenv("ACCESS_POINT", access_point["arn"])
    monkeypatch.setenv("OUTPUT_BUCKET", "uc6-output")
    monkeypatch.setenv("USE_CASE", "semiconductor-eda")
    module = load_handler("use-cases/semiconductor-eda/functions/validate/handler.py")
    with pytest.raises(ContractError):
        module.handler({"key": "x.gds"}, None)
