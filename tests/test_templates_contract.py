"""Every template the catalog lists parses and passes the checks ``make lint`` runs.

cfn-lint (with the serverless rules appended) runs in-process per template; checkov runs once over
all of them from its own tools environment, as ``make lint`` does.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from cfnlint.decode import decode

from scripts import catalog

ROOT = Path(__file__).resolve().parent.parent
CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"
IAM_TYPES = {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}
# Actions whose API offers no resource-level permission, so "*" is the only resource they can name.
ACTIONS_WITHOUT_RESOURCES = {
    "cloudwatch:PutMetricData",
    "ecr:GetAuthorizationToken",
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    "rekognition:DetectLabels",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
}
SERVERLESS_RULES = "cfn_lint_serverless.rules"
TEMPLATES = catalog.templates()


def _lint(path: Path) -> list[str]:
    matches = lint_file(path, config=ManualArgs(append_rules=[SERVERLESS_RULES], regions=["us-east-1"]))
    return [f"{m.rule.id} {m.filename}:{m.linenumber} {m.message}" for m in matches]


def test_serverless_rules_are_really_appended(tmp_path: Path) -> None:
    """A function with no log group is flagged only when the serverless rules are loaded."""
    template = tmp_path / "t.yaml"
    template.write_text(
        """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: handler.handler
      Role: !GetAtt Role.Arn
      Code: {ZipFile: "def handler(e, c): return e"}
"""
    )
    findings = _lint(template)
    assert any(f.split()[0].startswith(("ES", "WS", "E9", "W9")) for f in findings), findings


@pytest.mark.parametrize("template", TEMPLATES, ids=[str(t.relative_to(ROOT)) for t in TEMPLATES])
def test_template_parses_and_is_cfn_lint_clean(template: Path) -> None:
    parsed, errors = decode(str(template))
    assert not errors, errors
    assert parsed is not None and parsed.get("Resources"), f"{template} has no resources"
    assert _lint(template) == []


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(document: Any) -> list[dict[str, Any]]:
    """Every statement of a policy document, taking both branches of an ``Fn::If``."""
    found: list[dict[str, Any]] = []
    for statement in _as_list(document.get("Statement", [])):
        if isinstance(statement, dict) and "Fn::If" in statement:
            found += [s for s in statement["Fn::If"][1:] if isinstance(s, dict) and "Effect" in s]
        elif isinstance(statement, dict):
            found.append(statement)
    return found


def _iam_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for name, resource in template["Resources"].items():
        if resource.get("Type") not in IAM_TYPES:
            continue
        properties = resource.get("Properties", {})
        documents = [p.get("PolicyDocument", {}) for p in _as_list(properties.get("Policies", []))]
        documents.append(properties.get("PolicyDocument", {}))
        found += [
            (name, statement) for doc in documents if isinstance(doc, dict) for statement in _statements(doc)
        ]
    return found


@pytest.mark.parametrize("template", TEMPLATES, ids=[str(t.relative_to(ROOT)) for t in TEMPLATES])
def test_iam_names_star_only_where_the_api_has_no_resource_level_permission(template: Path) -> None:
    parsed, _ = decode(str(template))
    assert parsed is not None
    for name, statement in _iam_statements(parsed):
        actions = _as_list(statement.get("Action", []))
        assert not any(action == "*" or action.endswith(":*") for action in actions), (name, actions)
        if "*" in _as_list(statement.get("Resource", [])):
            assert set(actions) <= ACTIONS_WITHOUT_RESOURCES, (name, actions)


@pytest.mark.skipif(not TEMPLATES, reason="no template in the catalog exists yet")
def test_templates_are_checkov_clean() -> None:
    if not CHECKOV.exists():
        pytest.fail("checkov is missing: run `make setup` (it installs .venv-tools)")
    args = [
        str(CHECKOV),
        "--quiet",
        "--compact",
        "--skip-download",
        "--framework",
        "cloudformation",
        "--output",
        "json",
    ]
    for template in TEMPLATES:
        args += ["-f", str(template)]
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600)
    reports = json.loads(result.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{check['check_id']} {check['file_path']} {check['resource']}"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    assert failed == []
    assert result.returncode == 0, result.stderr[-2000:]
