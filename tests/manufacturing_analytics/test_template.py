"""UC3's template: Glue tables equal the record schemas, no ETL job, IAM scoped to what each step does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from manufacturing_analytics.datasets import TABLES
from scripts import catalog, cfn_template
from shared.analytics import glue_table_differences

UC = catalog.find("manufacturing-analytics")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn_template.load(UC.template)


def _statements(template: dict[str, Any], policy: str) -> list[dict[str, Any]]:
    return list(template["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"])


@pytest.mark.parametrize("logical_id", sorted(TABLES))
def test_each_glue_table_is_the_record_schema(template: dict[str, Any], logical_id: str) -> None:
    assert glue_table_differences(template["Resources"][logical_id], TABLES[logical_id]) == []


def test_every_glue_table_of_the_template_has_a_schema(template: dict[str, Any]) -> None:
    tables = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::Glue::Table"}
    assert tables == set(TABLES)


def test_no_glue_etl_job_or_crawler_is_declared(template: dict[str, Any]) -> None:
    # The functions write the datasets in their final form and partitions are projected: nothing
    # for a Glue job to transform, and no state that would call one.
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert not kinds & {"AWS::Glue::Job", "AWS::Glue::Crawler", "AWS::Glue::Trigger", "AWS::Glue::Workflow"}


def test_rekognition_gets_bytes_so_no_statement_lets_it_read_s3(template: dict[str, Any]) -> None:
    wildcard = [s for s in _statements(template, "InspectionPolicy") if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == ["rekognition:DetectLabels"]
    # The only S3 read is through the access point.
    reads = [s for s in _statements(template, "InspectionPolicy") if s["Action"] == "s3:GetObject"]
    assert ["accesspoint/${AccessPointName}/object/*" in json.dumps(s["Resource"]) for s in reads] == [True]


def test_the_report_reaches_only_its_workgroup_database_and_tables(template: dict[str, Any]) -> None:
    by_sid = {s["Sid"]: s for s in _statements(template, "ReportPolicy")}
    assert "workgroup/${AthenaWorkGroup}" in json.dumps(by_sid["RunTheWorkgroupsQueries"]["Resource"])
    glue = json.dumps(by_sid["ReadTheTablesDefinitions"]["Resource"])
    assert "database/${GlueDatabase}" in glue and "table/${GlueDatabase}/*" in glue
    for statement in _statements(template, "ReportPolicy"):
        assert statement["Resource"] != "*", statement["Sid"]


def test_the_per_file_steps_write_only_their_own_datasets(template: dict[str, Any]) -> None:
    sensor = json.dumps(_statements(template, "SensorLogPolicy"))
    image = json.dumps(_statements(template, "InspectionPolicy"))
    assert "/datasets/sensor/*" in sensor and "/datasets/inspection" not in sensor
    assert "/datasets/inspection/*" in image and "/datasets/sensor" not in image


def test_the_workgroup_caps_bytes_scanned_and_enforces_its_result_location(template: dict[str, Any]) -> None:
    configuration = template["Resources"]["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaBytesScannedCutoff"}


def test_the_functions_name_the_workgroup_and_database_as_the_resources_do(template: dict[str, Any]) -> None:
    env = template["Resources"]["ReportFunction"]["Properties"]["Environment"]["Variables"]
    database = template["Resources"]["GlueDatabase"]["Properties"]["DatabaseInput"]["Name"]
    workgroup = template["Resources"]["AthenaWorkGroup"]["Properties"]["Name"]
    assert env["GLUE_DATABASE"] == database
    assert env["ATHENA_WORKGROUP"] == workgroup
