"""The UC7 template's own contracts: Glue tables match the schemas, every setting a handler reads is
set, the Athena workgroup's name is the one the functions get, and the report caller is bounded."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from genomics_pipeline.datasets import SCHEMAS
from genomics_pipeline.qc import QcConfig
from genomics_pipeline.summary import SummaryConfig
from scripts import cfn_template
from shared.analytics import glue_table_differences
from shared.report import ReportConfig

ROOT = Path(__file__).resolve().parents[2]
T = cfn_template.load(ROOT / "use-cases" / "genomics-pipeline" / "template.yaml")
RESOURCES: dict[str, Any] = T["Resources"]
RUNTIME_VARIABLES = {"AWS_LAMBDA_FUNCTION_NAME", "ATHENA_OUTPUT_LOCATION"}


def _table(schema_name: str) -> dict[str, Any]:
    return next(
        r for r in RESOURCES.values()
        if r["Type"] == "AWS::Glue::Table" and r["Properties"]["TableInput"]["Name"] == schema_name
    )  # fmt: skip


@pytest.mark.parametrize("schema", SCHEMAS, ids=[s.name for s in SCHEMAS])
def test_each_glue_table_is_its_schema(schema: Any) -> None:
    assert glue_table_differences(_table(schema.name), schema) == []


def test_no_glue_table_points_where_nothing_writes() -> None:
    tables = [r for r in RESOURCES.values() if r["Type"] == "AWS::Glue::Table"]
    assert len(tables) == len(SCHEMAS)


@pytest.mark.parametrize(
    ("function", "configs"),
    [
        ("QualityControlFunction", [QcConfig]),
        ("SummarizeFunction", [SummaryConfig]),
        ("ReportFunction", [ReportConfig]),
    ],
)
def test_every_variable_a_handler_reads_is_set(function: str, configs: list[type]) -> None:
    variables = set(RESOURCES[function]["Properties"]["Environment"]["Variables"])
    for config in configs:
        for field in dataclasses.fields(config):
            name = field.metadata.get("env")
            if name and field.default is dataclasses.MISSING and name not in RUNTIME_VARIABLES:
                assert name in variables, f"{function} lacks {name}"


def test_the_functions_name_the_workgroup_and_database_the_stack_creates() -> None:
    variables = RESOURCES["SummarizeFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["ATHENA_WORKGROUP"] == RESOURCES["AthenaWorkGroup"]["Properties"]["Name"]
    assert variables["GLUE_DATABASE"] == RESOURCES["GlueDatabase"]["Properties"]["DatabaseInput"]["Name"]
    configuration = RESOURCES["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"


def test_only_the_report_function_calls_bedrock_and_it_is_bounded() -> None:
    assert "ReservedConcurrentExecutions" in RESOURCES["ReportFunction"]["Properties"]
    callers = [
        name for name, r in RESOURCES.items()
        if r["Type"] == "AWS::IAM::Policy" and "bedrock:InvokeModel" in str(r["Properties"]["PolicyDocument"])
    ]  # fmt: skip
    assert callers == ["ReportPolicy"]


def test_the_qc_function_only_reads_the_access_point() -> None:
    statements = RESOURCES["QualityControlPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {"s3:ListBucket", "s3:GetObject", "s3:PutObject"}
    puts = [s for s in statements if s["Action"] == "s3:PutObject"]
    assert all("accesspoint" not in str(s["Resource"]) for s in puts)  # never written to the volume
