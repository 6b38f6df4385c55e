"""Deploy and delete against moto in-process: artifact bucket, uploads, change sets, no-op, failures."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.cloudformation.models import cloudformation_backends

from scripts import deploy as deploy_module
from scripts import deploy_params
from scripts.deploy import DeployError, delete, deploy
from scripts.deploy_params import ParameterError, parse_overrides
from tests.fixtures.fake_pip import FakePip

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "fixtures" / "mini-uc"
ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = f"fsxn-s3ap-artifacts-{ACCOUNT}-{REGION}"


class Lines(list[str]):
    """Collects what deploy prints."""

    def __call__(self, line: str) -> None:
        self.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self)


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., Any]:
    """deploy() with a private build folder, the fake pip, no polling delay, and captured output."""

    def call(uc: Any = MINI, fn: Callable[..., Any] = deploy, **kwargs: Any) -> Any:
        kwargs.setdefault("out", Lines())
        kwargs.setdefault("poll_seconds", 0)
        if fn is deploy:
            kwargs.setdefault("build_root", tmp_path / "build")
            kwargs.setdefault("pip", FakePip())
        elif fn is delete and "confirm" not in kwargs:
            kwargs.setdefault("yes", True)
        return fn(uc, **kwargs)

    return call


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    target = tmp_path / "src" / "mini-uc"
    shutil.copytree(MINI, target)
    return target


# ------------------------------------------------------------------------------------------------
# PARAMS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("   ", {}),
        ("Environment=dev", {"Environment": "dev"}),
        ("A=1 B=2", {"A": "1", "B": "2"}),
        ('Name="two words"', {"Name": "two words"}),
        ("Name='two words' X=y", {"Name": "two words", "X": "y"}),
        ('"Name=two words"', {"Name": "two words"}),
        ("Filter=a=b", {"Filter": "a=b"}),
        ("Url='https://x.example/?a=1&b=2'", {"Url": "https://x.example/?a=1&b=2"}),
        ("Empty=", {"Empty": ""}),
        ("A=1 A=2", {"A": "2"}),
        ('Json=\'{"k": "v"}\'', {"Json": '{"k": "v"}'}),
    ],
)
def test_parameter_overrides_parse_like_the_aws_cli(text: str, expected: dict[str, str]) -> None:
    assert parse_overrides(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Environment", "expected Key=Value"),
        ("=value", "expected Key=Value"),
        ("Name='unclosed", "cannot be parsed"),
        ("my-param=1", "not a parameter name"),
    ],
)
def test_malformed_overrides_are_errors(text: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        parse_overrides(text)


def test_parameter_precedence_and_unknown_names() -> None:
    declared = {
        "ArtifactBucket": {"Type": "String"},
        "Environment": {"Type": "String", "Default": "prod"},
        "Flag": {"Type": "String", "Default": True},
        "Size": {"Type": "Number", "Default": 100},
        "Secret": {"Type": "String", "NoEcho": True, "Default": "x"},
    }
    resolved = deploy_params.resolve(
        declared,
        artifact_bucket="b",
        defaults={"Environment": "test", "Size": "5"},
        overrides={"Size": "7"},
        previous={"Environment": "stage", "Secret": "****"},
    )
    assert resolved.values == {"ArtifactBucket": "b", "Environment": "stage", "Flag": "true", "Size": "7"}
    assert resolved.keep_previous == {"Secret"}
    assert {"ParameterKey": "Secret", "UsePreviousValue": True} in resolved.api()

    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) Enviroment; the template declares: "):
        deploy_params.resolve(declared, artifact_bucket="b", overrides={"Enviroment": "dev"})
    with pytest.raises(ParameterError, match="ArtifactBucket, Environment, Flag, Secret, Size"):
        deploy_params.resolve(declared, artifact_bucket="b", defaults={"Nope": "1"})
    with pytest.raises(ParameterError, match="set by the deploy itself"):
        deploy_params.resolve(declared, artifact_bucket="b", overrides={"ArtifactBucket": "mine"})
    with pytest.raises(ParameterError, match='missing required parameter\\(s\\) Name; pass PARAMS="Name=…"'):
        deploy_params.resolve({"Name": {"Type": "String"}}, artifact_bucket="b")


def test_capabilities_are_explicit() -> None:
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}
    named = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}}
    assert deploy_module.required_capabilities({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}) == []
    assert deploy_module.required_capabilities({"Resources": {"R": role}}) == ["CAPABILITY_IAM"]
    assert deploy_module.required_capabilities({"Resources": {"R": role, "N": named}}) == [
        "CAPABILITY_IAM",
        "CAPABILITY_NAMED_IAM",
    ]


def test_roles_from_included_snippets_need_the_iam_capability() -> None:
    """The packaged template shows only Fn::Transform; the effective one holds the roles it includes."""
    include = {"Name": "AWS::Include", "Parameters": {"Location": "s3://b/uc/include/role/1.yaml"}}
    packaged = {"Transform": "AWS::LanguageExtensions", "Resources": {"R": {"Fn::Transform": include}}}
    effective = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {}}}}
    assert deploy_module.required_capabilities(packaged) == ["CAPABILITY_AUTO_EXPAND"]
    assert deploy_module.required_capabilities(packaged, effective) == [
        "CAPABILITY_AUTO_EXPAND",
        "CAPABILITY_IAM",
    ]


# ------------------------------------------------------------------------------------------------
# deploy


def test_deploy_creates_the_stack_from_content_addressed_artifacts(
    aws: None, run: Callable[..., Any]
) -> None:
    out = Lines()
    result = run(out=out, params="BatchSize=7")

    assert result.status == "CREATE_COMPLETE" and result.changed and result.uploaded == 3
    assert result.stack_name == "fsxn-mini-uc"
    assert result.outputs["IngestFunctionName"] == "fsxn-mini-uc-ingest"
    assert set(result.outputs) == {
        "IngestFunctionName",
        "ReportFunctionName",
        "StateTableName",
        "OutputBucketName",
    }
    assert "change set deploy-" in out.text and "Add      AWS::Lambda::Function" in out.text
    assert "CREATE_COMPLETE" in out.text

    function = boto3.client("lambda", region_name=REGION).get_function(FunctionName="fsxn-mini-uc-ingest")
    assert function["Configuration"]["Handler"] == "handler.handler"
    env = function["Configuration"]["Environment"]["Variables"]
    # moto passes a Number parameter on as an int
    assert str(env["BATCH_SIZE"]) == "7" and env["ENVIRONMENT"] == "test"  # PARAMS, then params.json
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert len(keys) == 3 and all(k.startswith("mini-uc/") and len(k.rsplit("/", 1)[1]) == 68 for k in keys)
    params = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in boto3.client("cloudformation").describe_stacks(StackName="fsxn-mini-uc")["Stacks"][0][
            "Parameters"
        ]
    }
    assert params["ArtifactBucket"] == BUCKET and params["AccessPointName"] == "fixture-ap"


def test_artifact_bucket_is_encrypted_private_and_tls_only_on_aws_shape(
    aws: None, run: Callable[..., Any]
) -> None:
    run()
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] is None
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values())


def test_artifact_bucket_outside_us_east_1_has_a_location_constraint(
    aws: None, run: Callable[..., Any]
) -> None:
    result = run(region="eu-west-1")
    assert result.artifact_bucket == f"fsxn-s3ap-artifacts-{ACCOUNT}-eu-west-1"
    location = boto3.client("s3", region_name="eu-west-1").get_bucket_location(Bucket=result.artifact_bucket)
    assert location["LocationConstraint"] == "eu-west-1"


def test_aws_region_is_honoured_over_the_default_region(
    aws: None, run: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "ap-northeast-1")
    result = run()
    assert result.artifact_bucket.endswith("-ap-northeast-1")
    assert ":ap-northeast-1:" in result.stack_id


def test_tls_policy_document_denies_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """On AWS the policy is put; its statement is the standard aws:SecureTransport deny."""
    calls: dict[str, Any] = {}

    class FakeS3:
        def head_bucket(self, **_: Any) -> None:
            raise deploy_module.ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadBucket")

        def __getattr__(self, name: str) -> Callable[..., None]:
            return lambda **kwargs: calls.__setitem__(name, kwargs)

    aws_ = deploy_module._Aws(boto3.Session(), "ap-southeast-2", ACCOUNT, "aws", None, deploy_module.Target())
    monkeypatch.setattr(aws_, "client", lambda service: FakeS3())
    bucket = deploy_module.ensure_artifact_bucket(aws_, Lines())

    assert calls["create_bucket"]["CreateBucketConfiguration"] == {"LocationConstraint": "ap-southeast-2"}
    statement = json.loads(calls["put_bucket_policy"]["Policy"])["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    assert statement["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


def test_unchanged_redeploy_uploads_nothing_and_changes_nothing(aws: None, run: Callable[..., Any]) -> None:
    first = run()
    cfn = boto3.client("cloudformation", region_name=REGION)
    change_sets_before = cfn.list_change_sets(StackName="fsxn-mini-uc")["Summaries"]
    out = Lines()
    again = run(out=out)

    assert again.uploaded == 0 and not again.changed
    assert again.outputs == first.outputs
    assert "no changes" in out.text and "artifacts: all 3 already in" in out.text
    assert cfn.list_change_sets(StackName="fsxn-mini-uc")["Summaries"] == change_sets_before


def _without_layer(folder: Path) -> Path:
    """The fixture without its dependencies layer (moto cannot update functions that use one)."""
    (folder / "requirements.txt").unlink()
    text = (folder / "template.yaml").read_text()
    text = text[: text.index("  DependenciesLayer:")] + text[text.index("  OutputBucket:") :]
    (folder / "template.yaml").write_text(text.replace("      Layers: [!Ref DependenciesLayer]\n", ""))
    return folder


def test_a_changed_function_uploads_only_its_zip(aws: None, run: Callable[..., Any], mini: Path) -> None:
    mini = _without_layer(mini)
    run(mini)
    (mini / "functions" / "report_daily" / "handler.py").write_text(
        (mini / "functions" / "report_daily" / "handler.py").read_text() + "\n# changed\n"
    )
    out = Lines()
    result = run(mini, out=out)
    assert result.uploaded == 1 and result.changed and result.status == "UPDATE_COMPLETE"
    assert "uploaded function report_daily" in out.text
    assert "Modify   AWS::Lambda::Function                ReportFunction" in out.text
    code = boto3.client("lambda").get_function(FunctionName="fsxn-mini-uc-report")["Code"]
    assert result.outputs["ReportFunctionName"] == "fsxn-mini-uc-report" and code


def test_large_template_goes_through_s3(
    aws: None, run: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deploy_module, "MAX_TEMPLATE_BODY", 100)
    result = run()
    assert result.status == "CREATE_COMPLETE" and result.uploaded == 4
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert any(k.startswith("mini-uc/templates/") and k.endswith(".yaml") for k in keys)


# ------------------------------------------------------------------------------------------------
# errors and failures


def test_unknown_parameter_lists_the_valid_names(aws: None, run: Callable[..., Any]) -> None:
    with pytest.raises(
        DeployError, match=r"unknown parameter.*AccessPointAlias, AccessPointName, ArtifactBucket"
    ):
        run(params="Enviroment=dev")


def test_unknown_parameter_fails_before_any_aws_call(run: Callable[..., Any], tmp_path: Path) -> None:
    """No credentials, no endpoint, no packaging: a misspelt name is caught from the source template."""

    def no_session(*_: Any, **__: Any) -> Any:
        raise AssertionError("deploy connected to AWS before checking parameter names")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deploy_module, "_connect", no_session)
        with pytest.raises(DeployError, match=r"PARAMS: unknown parameter\(s\) Enviroment"):
            run(params="Enviroment=dev")
    assert not (tmp_path / "build").exists()


def test_a_resource_that_fails_to_create_is_reported(aws: None, run: Callable[..., Any], mini: Path) -> None:
    template = mini / "template.yaml"
    text = template.read_text().replace(
        "      Role: !GetAtt FunctionRole.Arn\n      Layers: [!Ref DependenciesLayer]\n      Code:\n"
        "        S3Bucket: !Ref ArtifactBucket\n        S3Key: functions/report_daily.zip",
        "      Role: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/does-not-exist\n"
        "      Layers: [!Ref DependenciesLayer]\n      Code:\n"
        "        S3Bucket: !Ref ArtifactBucket\n        S3Key: functions/report_daily.zip",
    )
    template.write_text(text)
    out = Lines()
    with pytest.raises(
        DeployError, match="executing the change set failed: The role defined for the function"
    ):
        run(mini, out=out)
    assert "failed resources:" in out.text


def test_failed_events_are_listed_with_their_reasons() -> None:
    """On AWS a failure shows up as *_FAILED events; each failed resource is printed with its reason."""
    events = [
        {"LogicalResourceId": "Queue", "ResourceType": "AWS::SQS::Queue", "ResourceStatus": "CREATE_FAILED",
         "ResourceStatusReason": "Resource handler returned message: \"Invalid value\""},
        {"LogicalResourceId": "Topic", "ResourceType": "AWS::SNS::Topic", "ResourceStatus": "CREATE_FAILED"},
    ]  # fmt: skip
    out = Lines()
    assert deploy_module.report_failures(events, out) == events
    assert out == [
        "failed resources:",
        '  Queue (AWS::SQS::Queue): Resource handler returned message: "Invalid value"',
        "  Topic (AWS::SNS::Topic): no reason given",
    ]


class _ScriptedCloudFormation:
    """Replays a rollback the way CloudFormation reports one: events, then ROLLBACK_COMPLETE."""

    def __init__(self, events: list[dict[str, Any]] | None = None) -> None:
        self.step = 0  # each DescribeStacks lets CloudFormation move on by one event
        self.stall = 0  # DescribeStacks calls answered before CloudFormation has moved at all
        self.events = events or [
            _event("1", "fsxn-x", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated"),
            _event("2", "Table", "AWS::DynamoDB::Table", "CREATE_FAILED", "Throughput exceeds the limit"),
            _event("3", "fsxn-x", "AWS::CloudFormation::Stack", "ROLLBACK_IN_PROGRESS", "resource failed"),
            _event("4", "fsxn-x", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", None),
        ]

    def _visible(self) -> list[dict[str, Any]]:
        return self.events[: self.step + 1]

    def get_paginator(self, name: str) -> Any:
        newest_first = list(reversed(self._visible()))

        class Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                return [{"StackEvents": newest_first}]

        return Pages()

    def describe_stacks(self, **_: Any) -> dict[str, Any]:
        if self.stall:
            self.stall -= 1
        else:
            self.step = min(self.step + 1, len(self.events) - 1)
        stack_events = [e for e in self._visible() if e["ResourceType"] == "AWS::CloudFormation::Stack"]
        return {"Stacks": [{"StackName": "fsxn-x", "StackStatus": stack_events[-1]["ResourceStatus"]}]}


def _event(event_id: str, logical: str, kind: str, status: str, reason: str | None) -> dict[str, Any]:
    event = {
        "EventId": event_id,
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "ResourceStatus": status,
    }
    if reason:
        event["ResourceStatusReason"] = reason
    return event


def test_waiting_streams_events_once_in_order_and_collects_failures() -> None:
    cfn = _ScriptedCloudFormation()
    out = Lines()
    printer = deploy_module._EventPrinter(cfn, "stack-id", out)
    stack = deploy_module.wait_for_stack(cfn, "stack-id", printer, poll_seconds=0)

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    statuses = [line.split()[1] for line in out]
    assert statuses == ["CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    assert all(line.strip().split()[0].endswith("s") for line in out)  # elapsed seconds first
    assert [e["LogicalResourceId"] for e in printer.failures()] == ["Table"]


def test_waiting_does_not_stop_at_the_status_from_before_the_update() -> None:
    """ExecuteChangeSet returns before the status moves; the old UPDATE_COMPLETE is not the end."""
    stack = "AWS::CloudFormation::Stack"
    cfn = _ScriptedCloudFormation(
        [
            _event("1", "fsxn-x", stack, "UPDATE_COMPLETE", None),  # the previous deploy
            _event("2", "fsxn-x", stack, "UPDATE_IN_PROGRESS", "User Initiated"),
            _event("3", "Fn", "AWS::Lambda::Function", "UPDATE_COMPLETE", None),
            _event("4", "fsxn-x", stack, "UPDATE_COMPLETE", None),
        ]
    )
    cfn.stall = 2  # the first DescribeStacks calls still show the previous deploy, with no new event
    out = Lines()
    printer = deploy_module._EventPrinter(cfn, "stack-id", out)
    final = deploy_module.wait_for_stack(cfn, "stack-id", printer, poll_seconds=0, before="UPDATE_COMPLETE")
    assert final["StackStatus"] == "UPDATE_COMPLETE"
    assert [line.split()[1] for line in out] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_COMPLETE"]
    assert printer.new[-1]["EventId"] == "4"


def test_a_stack_in_rollback_complete_offers_the_delete_command(aws: None, run: Callable[..., Any]) -> None:
    run()
    backend = cloudformation_backends[ACCOUNT][REGION]
    next(s for s in backend.stacks.values() if s.name == "fsxn-mini-uc").status = "ROLLBACK_COMPLETE"
    with pytest.raises(DeployError, match=r"ROLLBACK_COMPLETE.*make delete UC=mini-uc STACK=fsxn-mini-uc"):
        run()


def test_template_validation_failure_is_one_clear_error(
    aws: None, run: Callable[..., Any], mini: Path
) -> None:
    template = mini / "template.yaml"
    template.write_text(
        template.read_text().replace("TABLE_NAME: !Ref StateTable", "TABLE_NAME: !Ref NoSuchThing")
    )
    with pytest.raises(DeployError, match=r"template validation failed for mini-uc: .*NoSuchThing"):
        run(mini)


def test_missing_credentials_are_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    with pytest.raises(DeployError, match="no AWS credentials found"):
        deploy(MINI, out=Lines())


def test_cli_errors_are_one_line_without_traceback(
    aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deploy_module.packaging, "_run_pip", FakePip())
    assert deploy_module.main(["deploy", "no-such-uc"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unknown use case 'no-such-uc'") and err.count("\n") == 1

    assert deploy_module.main(["deploy", str(MINI), "--params", "Nope=1", "--build-root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "unknown parameter(s) Nope" in err and "Traceback" not in err and err.count("\n") == 1

    assert deploy_module.main(["delete", "retail-catalog", "--stack", "never-made", "--yes"]) == 0
    assert "does not exist" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------
# delete


def test_delete_empties_only_the_stack_buckets_and_removes_the_stack(
    aws: None, run: Callable[..., Any], access_point: dict[str, Any]
) -> None:
    result = run()
    s3 = boto3.client("s3", region_name=REGION)
    own = result.outputs["OutputBucketName"]
    s3.put_bucket_versioning(Bucket=own, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"1", b"2"):
        s3.put_object(Bucket=own, Key="report.json", Body=body)
    s3.delete_object(Bucket=own, Key="report.json")  # leaves a delete marker too
    s3.put_object(Bucket=access_point["bucket"], Key="volume/file.txt", Body=b"user data")

    out = Lines()
    deleted = run(fn=delete, out=out)

    assert deleted.status == "DELETE_COMPLETE"
    assert deleted.emptied == {own: 3}
    assert deleted.resources["AWS::Lambda::Function"] == 2
    assert own not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_object(Bucket=access_point["bucket"], Key="volume/file.txt")["Body"].read() == b"user data"
    assert BUCKET in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "DELETE_COMPLETE: stack fsxn-mini-uc" in out.text
    with pytest.raises(deploy_module.ClientError, match="does not exist"):
        boto3.client("cloudformation").describe_stacks(StackName="fsxn-mini-uc")


def test_delete_leaves_retained_buckets_alone(aws: None, run: Callable[..., Any], mini: Path) -> None:
    template = mini / "template.yaml"
    template.write_text(
        template.read_text().replace(
            "  OutputBucket:\n    Type: AWS::S3::Bucket\n",
            "  OutputBucket:\n    Type: AWS::S3::Bucket\n"
            "    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n",
        )
    )
    result = run(mini)
    bucket = result.outputs["OutputBucketName"]
    boto3.client("s3").put_object(Bucket=bucket, Key="keep.txt", Body=b"x")
    deleted = run(mini, fn=delete)
    assert deleted.kept == [bucket] and deleted.emptied == {}
    assert boto3.client("s3").get_object(Bucket=bucket, Key="keep.txt")["Body"].read() == b"x"


def test_delete_of_a_missing_stack_is_a_no_op(aws: None, run: Callable[..., Any]) -> None:
    out = Lines()
    assert run(fn=delete, out=out).status == "DOES_NOT_EXIST"
    assert "nothing to delete" in out.text


# ------------------------------------------------------------------------------------------------
# parameter constraints, checked before anything is uploaded

CONSTRAINED = {
    "ArtifactBucket": {"Type": "String"},
    "Flag": {"Type": "String", "AllowedValues": ["true", "false"], "Default": "true"},
    "Alias": {"Type": "String", "AllowedPattern": "[a-z0-9-]+-ext-s3alias", "Default": "a-ext-s3alias"},
    "Stack": {"Type": "String", "MinLength": 3, "MaxLength": 8, "Default": "abc"},
    "Size": {"Type": "Number", "MinValue": 1, "MaxValue": 10000, "Default": 100},
    "Ratio": {"Type": "Number", "Default": 0.5},
    "Suffixes": {"Type": "CommaDelimitedList", "AllowedPattern": r"\.[a-z]+", "Default": ".jpg,.png"},
    "Counts": {"Type": "List<Number>", "Default": "1,2"},
    "Subnet": {"Type": "AWS::EC2::Subnet::Id", "Default": "subnet-1"},
}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Flag", "yes", r"Flag='yes' is not one of the AllowedValues \['true', 'false'\]"),
        (
            "Alias",
            "Bad_Alias",
            r"Alias='Bad_Alias' does not match the AllowedPattern '\[a-z0-9-\]\+-ext-s3alias'",
        ),
        (
            "Alias",
            "x-ext-s3alias-and-more",
            r"Alias='x-ext-s3alias-and-more' does not match the AllowedPattern",
        ),
        ("Stack", "ab", r"Stack='ab' is shorter than the MinLength 3"),
        ("Stack", "abcdefghi", r"Stack='abcdefghi' is longer than the MaxLength 8"),
        ("Size", "0", r"Size='0' is below the MinValue 1"),
        ("Size", "10001", r"Size='10001' is above the MaxValue 10000"),
        ("Size", "ten", r"Size='ten' is not a number \(Type Number\)"),
        ("Ratio", "1e", r"Ratio='1e' is not a number"),
        ("Suffixes", ".jpg,png", r"Suffixes='.jpg,png': item 'png' does not match the AllowedPattern"),
        ("Counts", "1,x", r"Counts='1,x': item 'x' is not a number \(Type List<Number>\)"),
    ],
)
def test_parameter_values_are_checked_against_the_template_rules(name: str, value: str, message: str) -> None:
    values = {
        n: deploy_params.as_parameter_value(s["Default"]) for n, s in CONSTRAINED.items() if "Default" in s
    }
    deploy_params.check_values(CONSTRAINED, values, source="PARAMS")  # every default is valid
    with pytest.raises(ParameterError, match=f"PARAMS: {message}"):
        deploy_params.check_values(CONSTRAINED, {**values, name: value}, source="PARAMS")


def test_a_value_outside_allowed_values_fails_before_any_upload(aws: None, run: Callable[..., Any]) -> None:
    with pytest.raises(DeployError, match=r"EnableXRayTracing='yes' is not one of the AllowedValues"):
        run(params="EnableXRayTracing=yes")
    s3 = boto3.client("s3", region_name=REGION)
    assert BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_a_bad_value_in_params_json_names_the_file(aws: None, run: Callable[..., Any], mini: Path) -> None:
    (mini / "params.json").write_text('{"EnableCloudWatchAlarms": "maybe"}')
    with pytest.raises(DeployError, match=r"params.json: EnableCloudWatchAlarms='maybe' is not one of"):
        run(mini)


def test_template_validation_runs_before_any_artifact_is_uploaded(
    aws: None, run: Callable[..., Any], mini: Path
) -> None:
    template = mini / "template.yaml"
    template.write_text(
        template.read_text().replace("TABLE_NAME: !Ref StateTable", "TABLE_NAME: !Ref NoSuchThing")
    )
    with pytest.raises(DeployError, match="template validation failed"):
        run(mini)
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)
    assert listed.get("KeyCount", 0) == 0


# ------------------------------------------------------------------------------------------------
# connection errors


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_endpoint_says_it_could_not_connect(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setattr(deploy_module.packaging, "_run_pip", FakePip())
    with pytest.raises(DeployError, match=rf"could not connect to {endpoint} \(region eu-west-3\)"):
        deploy(MINI, region="eu-west-3", out=Lines(), build_root=tmp_path)
    assert deploy_module.main(["delete", str(MINI), "--region", "eu-west-3", "--yes"]) == 1
    err = capsys.readouterr().err
    assert f"error: could not connect to {endpoint} (region eu-west-3)" in err
    assert "refused" not in err and err.count("\n") == 1


# ------------------------------------------------------------------------------------------------
# uploads: owner, checksums, progress


def test_uploads_name_the_bucket_owner_and_carry_a_sha256_checksum(
    aws: None, run: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deploy_module, "MAX_TEMPLATE_BODY", 100)  # the template goes through S3 too
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    session = boto3.Session(region_name=REGION)
    session.events.register("provide-client-params.s3.*", record)
    result = run(session=session)
    puts = [c for c in calls if "Body" in c]
    heads = [c for c in calls if "Body" not in c and "Key" in c and "ChecksumMode" in c]
    assert len(puts) == result.uploaded == 4
    for call in puts:
        assert call["ExpectedBucketOwner"] == ACCOUNT and call["ChecksumAlgorithm"] == "SHA256"
        assert len(call["ChecksumSHA256"]) == 44
    assert heads and all(c["ExpectedBucketOwner"] == ACCOUNT for c in heads)
    s3 = boto3.client("s3", region_name=REGION)
    for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]:
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        attributes = s3.get_object_attributes(Bucket=BUCKET, Key=item["Key"], ObjectAttributes=["Checksum"])
        import base64
        import hashlib

        assert (
            attributes["Checksum"]["ChecksumSHA256"]
            == base64.b64encode(hashlib.sha256(body).digest()).decode()
        )


def test_an_existing_object_with_other_content_is_uploaded_again(aws: None, run: Callable[..., Any]) -> None:
    first = run()
    s3 = boto3.client("s3", region_name=REGION)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    layer = next(k for k in keys if "/layers/" in k)
    s3.put_object(Bucket=BUCKET, Key=layer, Body=b"not the layer", ChecksumAlgorithm="SHA256")
    function = next(k for k in keys if "/functions/" in k)
    s3.put_object(Bucket=BUCKET, Key=function, Body=b"left by an older deploy")  # no checksum stored
    out = Lines()
    again = run(out=out)
    assert first.uploaded == 3 and again.uploaded == 2
    assert (
        f"s3://{BUCKET}/{layer} does not hold the expected bytes (SHA-256 differs); uploading it again"
        in out.text
    )
    assert f"s3://{BUCKET}/{function} has no SHA-256 checksum to compare; uploading it again" in out.text
    assert s3.get_object(Bucket=BUCKET, Key=layer)["Body"].read() != b"not the layer"


def test_a_checksum_s3_does_not_confirm_fails_the_upload(
    aws: None, run: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = boto3.Session(region_name=REGION)

    def tamper(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        parsed["ChecksumSHA256"] = "A" * 43 + "="

    session.events.register("after-call.s3.PutObject", tamper)
    with pytest.raises(DeployError, match=r"S3 reports SHA-256 A{6}.* for s3://.*, the local file has "):
        run(session=session)


def test_upload_progress_counts_the_bytes_read_as_they_are_sent(tmp_path: Path) -> None:
    """The HTTP client reads the body in blocks while sending; every tenth of the file prints a line."""
    path = tmp_path / "layer.zip"
    path.write_bytes(bytes(1000))
    out = Lines()
    reader = deploy_module._ProgressReader(path, "layer dependencies", out)
    while reader.read(64):
        pass
    reader.close()
    assert out[0] == "  layer dependencies: 128 of 1,000 bytes (12%)"
    assert out[-1] == "  layer dependencies: 1,000 of 1,000 bytes (100%)"
    sent = [int(line.split(": ", 1)[1].split(" of ")[0].replace(",", "")) for line in out]
    assert len(out) == 10 and sent == sorted(sent)


def test_a_large_upload_shows_its_progress(
    aws: None, run: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deploy_module, "PROGRESS_MIN_BYTES", 1)
    out = Lines()
    run(out=out)
    assert any(line.startswith("  layer dependencies: ") and line.endswith("(100%)") for line in out), (
        out.text
    )


# ------------------------------------------------------------------------------------------------
# preview


def test_preview_prints_the_change_set_and_executes_nothing(aws: None, run: Callable[..., Any]) -> None:
    out = Lines()
    result = run(out=out, preview=True)
    assert result.status == "PREVIEW" and not result.changed
    assert "Add      AWS::Lambda::Function" in out.text
    assert "preview only: nothing was executed" in out.text
    assert "make deploy UC=mini-uc" in out.text
    cfn = boto3.client("cloudformation", region_name=REGION)
    with pytest.raises(deploy_module.ClientError, match="does not exist"):
        cfn.describe_stacks(StackName="fsxn-mini-uc")  # the REVIEW_IN_PROGRESS shell is removed too
    assert run().status == "CREATE_COMPLETE"


def test_preview_of_an_update_leaves_the_stack_as_it_was(
    aws: None, run: Callable[..., Any], mini: Path
) -> None:
    mini = _without_layer(mini)
    run(mini)
    cfn = boto3.client("cloudformation", region_name=REGION)
    change_sets_before = cfn.list_change_sets(StackName="fsxn-mini-uc")["Summaries"]
    lam = boto3.client("lambda", region_name=REGION)
    code_before = lam.get_function(FunctionName="fsxn-mini-uc-report")["Configuration"]["CodeSha256"]
    handler = mini / "functions" / "report_daily" / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    out = Lines()
    result = run(mini, out=out, preview=True)
    assert result.status == "PREVIEW" and result.uploaded == 1
    assert "Modify   AWS::Lambda::Function                ReportFunction" in out.text
    assert lam.get_function(FunctionName="fsxn-mini-uc-report")["Configuration"]["CodeSha256"] == code_before
    assert cfn.list_change_sets(StackName="fsxn-mini-uc")["Summaries"] == change_sets_before
    assert run(mini).status == "UPDATE_COMPLETE"


# ------------------------------------------------------------------------------------------------
# delete: confirmation and what is deleted or kept


def test_delete_refuses_without_yes_when_nobody_can_confirm(aws: None, run: Callable[..., Any]) -> None:
    bucket = run().outputs["OutputBucketName"]
    boto3.client("s3").put_object(Bucket=bucket, Key="a.json", Body=b"{}")
    with pytest.raises(DeployError, match=r"not deleted: confirm interactively or pass YES=1"):
        delete(MINI, out=Lines(), poll_seconds=0)
    assert boto3.client("s3").get_object(Bucket=bucket, Key="a.json")["Body"].read() == b"{}"
    boto3.client("cloudformation").describe_stacks(StackName="fsxn-mini-uc")


def test_delete_says_what_goes_and_what_stays_before_asking(
    aws: None, run: Callable[..., Any], mini: Path
) -> None:
    template = mini / "template.yaml"
    template.write_text(
        template.read_text().replace(
            "  StateTable:\n",
            "  DataKey:\n    Type: AWS::KMS::Key\n    Properties:\n      PendingWindowInDays: 7\n"
            "      KeyPolicy:\n        Version: '2012-10-17'\n        Statement:\n          - Effect: Allow\n"
            "            Principal: {AWS: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root'}\n"
            "            Action: kms:*\n            Resource: '*'\n\n"
            "  StateTable:\n    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n",
        )
    )
    bucket = run(mini).outputs["OutputBucketName"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"1", b"2"):
        s3.put_object(Bucket=bucket, Key="r.json", Body=body)
    s3.delete_object(Bucket=bucket, Key="r.json")

    asked: list[str] = []
    out = Lines()

    def refuse(prompt: str) -> str:
        asked.append(prompt)
        return "y"

    with pytest.raises(DeployError, match="not deleted: cancelled"):
        run(mini, fn=delete, out=out, confirm=refuse)
    text = out.text
    assert "will delete stack fsxn-mini-uc" in text
    assert f"bucket {bucket}: 3 object version(s) and delete marker(s), all deleted" in text
    assert "StateTable (AWS::DynamoDB::Table): DeletionPolicy Retain" in text
    assert "DataKey (AWS::KMS::Key): scheduled for deletion, pending 7 days" in text
    assert "the data behind the access point is never touched" in text
    assert asked and "fsxn-mini-uc" in asked[0]
    assert s3.list_object_versions(Bucket=bucket).get("Versions")

    deleted = run(mini, fn=delete, out=Lines(), confirm=lambda prompt: "fsxn-mini-uc\n")
    assert deleted.status == "DELETE_COMPLETE" and deleted.emptied == {bucket: 3}


def test_delete_cli_asks_on_a_terminal_and_needs_yes_otherwise(
    aws: None, run: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run()
    monkeypatch.setattr(deploy_module, "_stdin_is_terminal", lambda: False)
    assert deploy_module.main(["delete", str(MINI)]) == 1
    assert "pass YES=1" in capsys.readouterr().err

    answers = iter(["no", "fsxn-mini-uc"])
    monkeypatch.setattr(deploy_module, "_stdin_is_terminal", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    assert deploy_module.main(["delete", str(MINI)]) == 1
    assert "cancelled" in capsys.readouterr().err
    boto3.client("cloudformation").describe_stacks(StackName="fsxn-mini-uc")
    assert deploy_module.main(["delete", str(MINI)]) == 0
    assert "DELETE_COMPLETE" in capsys.readouterr().out

    run()
    monkeypatch.setattr(deploy_module, "_stdin_is_terminal", lambda: False)
    assert deploy_module.main(["delete", str(MINI), "--yes"]) == 0
