"""The local cloud's deploy target: where ``scripts.deploy`` meets moto, and only there.

``scripts.deploy`` is written for AWS; :mod:`scripts.localcloud.target` supplies moto's
differences. Each workaround is tested here on moto itself, and the AWS target is tested not to
apply any of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from scripts import deploy as deploy_module
from scripts.deploy import DeployError, Target, delete
from scripts.localcloud.target import MotoTarget, is_moto, target_for
from tests.scripts.test_deploy import REGION, Lines, mini, run

__all__ = ["mini", "run"]  # fixtures, used by name below

ROOT = Path(__file__).resolve().parents[3]


def test_the_target_follows_the_endpoint() -> None:
    assert isinstance(target_for("http://127.0.0.1:5000"), MotoTarget)
    assert isinstance(target_for("http://localhost:4566"), MotoTarget)
    assert target_for("https://cloudformation.eu-west-1.amazonaws.com") is None
    assert target_for(None) is None
    assert deploy_module.target_for(None).name == "AWS"


def test_moto_in_this_process_is_moto(aws: None) -> None:
    assert is_moto(None) and deploy_module.target_for(None).name == "moto"


def test_a_deploy_to_aws_loads_neither_moto_nor_the_local_cloud() -> None:
    probe = (
        "import sys\n"
        "from scripts import deploy\n"
        "assert deploy.target_for('https://cloudformation.us-east-1.amazonaws.com').name == 'AWS'\n"
        "print(sorted(m for m in sys.modules if m == 'moto' or m == 'scripts.localcloud.cloud'))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


class _Cfn:
    """CloudFormation that lost a stack's outputs until an UpdateStack rebuilds them (moto 5.2.5)."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update_stack(self, **kwargs: Any) -> None:
        self.updates.append(kwargs)

    def describe_stacks(self, **_: Any) -> dict[str, Any]:
        outputs = [{"OutputKey": "Name", "OutputValue": "x"}] if self.updates else []
        return {"Stacks": [{"StackId": "id", "Outputs": outputs}]}


TEMPLATE = {"Outputs": {"Name": {"Value": "x"}}}


def test_moto_outputs_are_re_read_through_a_same_template_update() -> None:
    cfn, out = _Cfn(), Lines()
    redo = {"TemplateBody": "{}", "Parameters": [], "Capabilities": []}
    assert MotoTarget().outputs(cfn, {"StackId": "id"}, TEMPLATE, redo, out) == {"Name": "x"}
    assert cfn.updates == [{"StackName": "id", **redo}]
    assert "re-reading them" in out.text


def test_aws_never_re_reads_outputs() -> None:
    cfn = _Cfn()
    assert Target().outputs(cfn, {"StackId": "id"}, TEMPLATE, {}, Lines()) == {}
    assert cfn.updates == []


def test_on_moto_the_artifact_bucket_goes_without_the_tls_policy(aws: None, run: Callable[..., Any]) -> None:
    out = Lines()
    result = run(out=out)
    assert "no TLS policy on moto" in out.text
    with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
        boto3.client("s3", region_name=REGION).get_bucket_policy(Bucket=result.artifact_bucket)
    assert Target().artifact_bucket_policy({"Statement": []}) == {"Statement": []}


def test_moto_crashes_updating_a_function_with_a_layer_and_deploy_says_so(
    aws: None, run: Callable[..., Any], mini: Path
) -> None:
    """moto 5.2.5 breaks on any change set that modifies a function using a layer; if this test
    fails after a moto upgrade, the gap is closed and docs/deploy.md can drop the warning."""
    run(mini)
    handler = mini / "functions" / "report_daily" / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    with pytest.raises(DeployError, match=r"crashed: AttributeError.*delete the stack and deploy again"):
        run(mini)
    assert Target().crash_hint() == ""


def test_delete_gets_past_a_tls_policy_that_moto_reads_as_deny_all(
    aws: None, run: Callable[..., Any]
) -> None:
    bucket = run().outputs["OutputBucketName"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=bucket, Key="a.json", Body=b"{}")
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    out = Lines()
    deleted = run(fn=delete, out=out)
    assert deleted.status == "DELETE_COMPLETE" and deleted.emptied == {bucket: 1}
    assert "removing the policy first" in out.text


def test_aws_does_not_drop_a_bucket_policy_when_access_is_denied() -> None:
    def denied(_s3: Any, bucket: str) -> int:
        raise deploy_module.AccessDeniedError(f"cannot empty {bucket}: AccessDenied")

    with pytest.raises(deploy_module.AccessDeniedError):
        Target().empty_bucket(object(), "b", denied, Lines())
