"""The Glue table a template declares is rendered from, and checked against, the record schema."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shared.analytics.schema import Column, RecordSchema, glue_table_differences, glue_table_input

ACL = RecordSchema(
    "acl_entries",
    (Column("path", "string", nullable=False), Column("user", "string"), Column("rights", "bigint")),
    prefix="acl",
    first_date="2026-01-01",
)


def resource(**overrides: Any) -> dict[str, Any]:
    table = glue_table_input(ACL, {"Fn::Sub": "s3://${OutputBucket}/datasets/acl/"})
    return {
        "Type": "AWS::Glue::Table",
        "Properties": {"CatalogId": {"Ref": "AWS::AccountId"}, "DatabaseName": "db", "TableInput": table},
    }


def test_rendered_table_uses_the_json_serde_and_projects_dt_partitions() -> None:
    table = glue_table_input(ACL, "s3://b/datasets/acl/")
    assert (
        table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
        == "org.openx.data.jsonserde.JsonSerDe"
    )
    assert table["StorageDescriptor"]["Columns"] == [
        {"Name": "path", "Type": "string"},
        {"Name": "user", "Type": "string"},
        {"Name": "rights", "Type": "bigint"},
    ]
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert table["Parameters"]["projection.dt.range"] == "2026-01-01,NOW"
    assert table["Parameters"]["projection.enabled"] == "true"


def test_a_template_rendered_from_the_schema_matches_it() -> None:
    assert glue_table_differences(resource(), ACL) == []


def _break(path: list[Any], value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(resource())
    node: Any = broken["Properties"]["TableInput"]
    for step in path[:-1]:
        node = node[step]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return broken


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["StorageDescriptor", "Columns", 2, "Type"],
            "int",
            "Columns[2].Type: 'int', the schema says 'bigint'",
        ),
        (["StorageDescriptor", "Columns", 1, "Name"], "owner", "Columns[1].Name: 'owner'"),
        (
            ["StorageDescriptor", "Columns"],
            [{"Name": "path", "Type": "string"}],
            "1 entries, the schema has 3",
        ),
        (
            ["StorageDescriptor", "SerdeInfo", "SerializationLibrary"],
            "org.apache.hive.hcatalog.data.JsonSerDe",
            "Ser",
        ),
        (["PartitionKeys"], [], "PartitionKeys: 0 entries"),
        (["Parameters", "projection.dt.format"], "yyyy/MM/dd", "projection.dt.format"),
        (["Parameters", "projection.enabled"], _DELETE, "projection.enabled: missing"),
        (["Parameters", "extra"], "1", "extra: not in the schema"),
        (
            ["StorageDescriptor", "Location"],
            {"Fn::Sub": "s3://${OutputBucket}/datasets/"},
            "must end with '/acl/'",
        ),
    ],
)
def test_every_difference_from_the_schema_is_reported(path: list[Any], value: Any, message: str) -> None:
    problems = glue_table_differences(_break(path, value), ACL)
    assert any(message in problem for problem in problems), problems


def test_a_table_of_another_type_is_refused() -> None:
    assert "not AWS::Glue::Table" in glue_table_differences({"Type": "AWS::S3::Bucket"}, ACL)[0]
