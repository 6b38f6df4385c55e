"""Each adapter patches one moto method; these tests fail loudly if a moto upgrade moves it."""

from __future__ import annotations

import pytest

from scripts.localcloud import eventbridge, runtime


def test_lambda_and_kinesis_seams_are_where_the_runtime_expects_them() -> None:
    runtime.check_seams()


def test_seam_check_fails_loudly_when_moto_moves_the_invoke_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaFunction

    monkeypatch.delattr(LambdaFunction, "_invoke_lambda")
    with pytest.raises(runtime.SeamMovedError, match="_invoke_lambda"):
        runtime.check_seams()


def test_seam_check_fails_when_kinesis_stops_delivering_through_the_lambda_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.kinesis.models import Stream

    monkeypatch.setattr(Stream, "put_record", lambda self, *a, **k: None)
    with pytest.raises(runtime.SeamMovedError, match="send_kinesis_message"):
        runtime.check_seams()


def test_eventbridge_and_sagemaker_seams_exist() -> None:
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.stepfunctions.models import stepfunctions_backends
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    eventbridge.check_seams()
    assert "create_transform_job" in SageMakerModelBackend.__dict__
    assert stepfunctions_backends is not stepfunctions_parser_backends


def test_installing_twice_in_one_process_is_refused() -> None:
    from scripts.localcloud import LocalCloud

    with LocalCloud() as cloud, pytest.raises(RuntimeError, match="already installed"):
        cloud.runtime.install()


def test_validate_template_checks_structure_like_cloudformation_not_lint() -> None:
    from scripts.localcloud.validation import check

    warning_only = "Parameters:\n  Unused: {Type: String}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n"
    assert check(warning_only) == []
    assert "Resources" in check("Parameters: {}\n")[0].message
    assert (
        "Unresolved resource dependencies ['Nope']"
        in check("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: !Ref Nope}\n")[
            0
        ].message
    )
    assert "Type" in check("Resources:\n  Q: {Properties: {}}\n")[0].message
    assert "format error" in check("Resources: [unclosed\n")[0].message


def test_validate_template_api_uses_the_structural_check() -> None:
    from botocore.exceptions import ClientError

    from scripts.localcloud import LocalCloud

    with LocalCloud() as cloud:
        cfn = cloud.client("cloudformation")
        cfn.validate_template(
            TemplateBody="Parameters:\n  Unused: {Type: String}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n"
        )
        with pytest.raises(ClientError, match="Unresolved"):
            cfn.validate_template(
                TemplateBody="Resources:\n  Q: {Type: AWS::SQS::Queue, Properties: {A: !Ref B}}\n"
            )
