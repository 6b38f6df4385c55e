"""One botocore Config and one client per service per process (``shared.clients``)."""

from __future__ import annotations

import ast
from pathlib import Path

from shared import clients

ROOT = Path(__file__).resolve().parents[2]


def test_config_has_explicit_timeouts_and_standard_retries() -> None:
    cfg = clients.client_config()
    assert cfg.connect_timeout == clients.CONNECT_TIMEOUT_SECONDS
    assert cfg.read_timeout == clients.READ_TIMEOUT_SECONDS
    assert cfg.retries == {"mode": "standard", "total_max_attempts": clients.TOTAL_MAX_ATTEMPTS}


def test_client_is_created_once_per_service_and_region() -> None:
    s3 = clients.aws_client("s3")
    assert clients.aws_client("s3") is s3
    assert clients.aws_client("s3", "eu-west-1") is not s3
    assert clients.aws_client("dynamodb") is not s3
    assert s3.meta.config.connect_timeout == clients.CONNECT_TIMEOUT_SECONDS
    assert s3.meta.config.retries["mode"] == "standard"
    clients.reset()
    assert clients.aws_client("s3") is not s3


def _boto3_client_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text())
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"client", "resource"}
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "boto3"
    ]


def test_no_handler_or_shared_module_creates_its_own_client() -> None:
    paths = sorted(ROOT.glob("*/functions/*/handler.py")) + sorted((ROOT / "shared").rglob("*.py"))
    offenders = {
        str(p.relative_to(ROOT)): lines
        for p in paths
        if p.name != "clients.py" and (lines := _boto3_client_calls(p))
    }
    # The CloudFormation-side notifier ships alone (no shared/ in its zip), so it keeps its own.
    offenders.pop("shared/cfn/functions/slack_notifier/handler.py", None)
    assert offenders == {}
