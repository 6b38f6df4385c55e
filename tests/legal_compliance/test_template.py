"""UC1's template: the Glue tables are the record schemas, IAM is scoped, every setting is set."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from legal_compliance.analyze import AnalyzeConfig
from legal_compliance.collect import CollectConfig
from legal_compliance.contract import STEPS
from legal_compliance.records import ACL_ENTRIES, FILES, FINDINGS
from scripts import cfn_template
from shared.analytics import AthenaSettings, glue_table_differences
from shared.ontap import OntapConfig
from shared.report import ReportConfig

ROOT = Path(__file__).resolve().parents[2]
UC = ROOT / "use-cases" / "legal-compliance"
T = cfn_template.load(UC / "template.yaml")
RESOURCES: dict[str, Any] = T["Resources"]
TABLES = {"FilesTable": FILES, "AclEntriesTable": ACL_ENTRIES, "FindingsTable": FINDINGS}


@pytest.mark.parametrize(("logical_id", "schema"), TABLES.items())
def test_each_glue_table_is_its_record_schema(logical_id: str, schema: Any) -> None:
    assert glue_table_differences(RESOURCES[logical_id], schema) == []


def test_a_table_that_drifts_from_its_schema_is_caught() -> None:
    drifted = copy.deepcopy(RESOURCES["AclEntriesTable"])
    columns = drifted["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    columns[6]["Type"] = "string"  # unresolved_sid: boolean in the schema
    assert glue_table_differences(drifted, ACL_ENTRIES) != []
    columns.pop()
    assert glue_table_differences(drifted, ACL_ENTRIES) != []


def statements(fn: str) -> list[dict[str, Any]]:
    document = RESOURCES[f"{fn}Policy"]["Properties"]["PolicyDocument"]
    return list(document["Statement"])


def resources_of(statement: dict[str, Any]) -> list[str]:
    value = statement["Resource"]
    return [json.dumps(v) for v in (value if isinstance(value, list) else [value])]


def test_no_function_gets_a_wildcard_resource() -> None:
    for fn in ("Discovery", "CollectAcl", "Analyze", "Report"):
        for statement in statements(fn):
            assert '"*"' not in resources_of(statement), (fn, statement["Sid"])


def test_the_collector_reads_only_the_ontap_secret_and_writes_only_results() -> None:
    by_sid = {s["Sid"]: s for s in statements("CollectAcl")}
    assert by_sid["TheOntapCredentials"]["Resource"] == {"Ref": "OntapSecretArn"}
    assert by_sid["TheOntapCredentials"]["Action"] == "secretsmanager:GetSecretValue"
    assert set(by_sid) == {"TheOntapCredentials", "WriteResults"}


def test_the_analysis_is_scoped_to_its_workgroup_database_and_tables() -> None:
    by_sid = {s["Sid"]: s for s in statements("Analyze")}
    workgroup = (
        "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/${AWS::StackName}-audit"
    )
    assert resources_of(by_sid["QueriesInTheAuditWorkGroup"]) == [json.dumps({"Fn::Sub": workgroup})]
    glue = " ".join(resources_of(by_sid["TheAuditTables"]))
    for table in ("files", "acl_entries", "findings"):
        assert f"table/${{GlueDatabaseName}}/{table}" in glue
    assert "table/${GlueDatabaseName}/*" not in glue
    assert RESOURCES["AuditWorkGroup"]["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-audit"}
    assert RESOURCES["AuditDatabase"]["Properties"]["DatabaseInput"]["Name"] == {"Ref": "GlueDatabaseName"}


def test_discovery_lists_only_the_access_point() -> None:
    listing = next(s for s in statements("Discovery") if s["Sid"] == "ListAccessPoint")
    assert "accesspoint/${AccessPointName}" in json.dumps(listing["Resource"])


def test_the_report_model_is_scoped_to_the_model_or_its_inference_profile() -> None:
    by_sid = {s["Sid"]: s for s in statements("Report")}
    chosen = " ".join(resources_of(by_sid["TheChosenModelOrInferenceProfile"]))
    assert "foundation-model/${ReportModelId}" in chosen and "inference-profile/${ReportModelId}" in chosen
    routed = by_sid["FoundationModelsReachedThroughThatProfile"]["Condition"]["StringEquals"]
    assert "inference-profile/${ReportModelId}" in json.dumps(routed["bedrock:InferenceProfileArn"])
    notify = RESOURCES["ReportNotificationPolicy"]
    assert notify["Condition"] == "NotifiesReports"
    (publish,) = notify["Properties"]["PolicyDocument"]["Statement"]
    assert publish["Action"] == "sns:Publish"
    topic = RESOURCES["ReportFunction"]["Properties"]["Environment"]["Variables"]["REPORT_TOPIC_ARN"]
    refs = ('"Ref": "ReportTopicArn"', '"Ref": "AlertTopic"', '"Ref": "AlertTopicArn"')
    assert all(ref in json.dumps(publish["Resource"]) and ref in json.dumps(topic) for ref in refs)


def test_every_setting_a_handler_reads_is_in_the_environment() -> None:
    variables = RESOURCES["AnalyzeFunction"]["Properties"]["Environment"]["Variables"]
    for cls in (CollectConfig, AnalyzeConfig, ReportConfig, OntapConfig, AthenaSettings):
        for field in dataclasses.fields(cls):
            name = field.metadata.get("env")
            if name is None or name == "AWS_LAMBDA_FUNCTION_NAME":
                continue
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                assert name in variables, (cls.__name__, name)
    for name in (
        "ONTAP_CA_BUNDLE_PEM",
        "RETENTION_DAYS",
        "SENSITIVE_PREFIXES",
        "REPORT_MODEL_ID",
        "REPORT_PROMPT_BUDGET_BYTES",
        "REPORT_TOPIC_ARN",
    ):
        assert name in variables


def test_the_report_function_is_bounded_as_an_ai_caller() -> None:
    assert RESOURCES["ReportFunction"]["Properties"]["ReservedConcurrentExecutions"] == {
        "Ref": "AiConcurrency"
    }


def test_the_state_machine_steps_have_contracts() -> None:
    assert {"Discover", "LoadChunk", "RecordFailure", "CollectAcl", "Analyze", "Report"} <= set(STEPS)
