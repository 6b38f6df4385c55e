"""The one CloudFormation reader, writer and evaluator: short forms, JSON, fake and deployed stacks."""

from __future__ import annotations

from typing import Any

import pytest

from scripts import cfn_template
from scripts.cfn_template import DeployedStack, Evaluation, TemplateError


def test_short_form_intrinsics_become_long_form_and_survive_a_dump() -> None:
    text = """
Resources:
  A:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::StackName}-x"
      Tags:
        - Key: k
          Value: !GetAtt B.Arn
        - Key: j
          Value: !If [Cond, !Ref P, !Join ["", [a, !Select [0, !Split [",", !Ref L]]]]]
      Script: "line one\\nline two\\n"
"""
    template = cfn_template.loads(text)
    props = template["Resources"]["A"]["Properties"]
    assert props["BucketName"] == {"Fn::Sub": "${AWS::StackName}-x"}
    assert props["Tags"][0]["Value"] == {"Fn::GetAtt": ["B", "Arn"]}
    assert props["Tags"][1]["Value"] == {
        "Fn::If": [
            "Cond",
            {"Ref": "P"},
            {"Fn::Join": ["", ["a", {"Fn::Select": [0, {"Fn::Split": [",", {"Ref": "L"}]}]}]]},
        ]
    }
    dumped = cfn_template.dump(template)
    assert "Script: |" in dumped  # multi-line strings stay readable
    assert cfn_template.loads(dumped) == template


def test_json_templates_load_even_when_indented_with_tabs() -> None:
    text = '{\n\t"Resources": {\n\t\t"Q": {"Type": "AWS::SQS::Queue"}\n\t}\n}\n'
    assert cfn_template.loads(text) == {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}
    # A YAML flow mapping also starts with "{"; it is read as YAML.
    assert cfn_template.loads("{Resources: {Q: {Type: AWS::SQS::Queue}}}") == {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}
    }


@pytest.mark.parametrize("text", ["Resources: [unclosed\n", "- a list\n", ""])
def test_unreadable_text_is_a_template_error(text: str) -> None:
    with pytest.raises(TemplateError):
        cfn_template.loads(text)


_TEMPLATE = """
Parameters:
  Env: {Type: String, Default: dev}
  Name: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-q"
  Fn:
    Type: AWS::Lambda::Function
    Condition: NotProd
    Properties:
      FunctionName: !Sub "${AWS::StackName}-fn-${Name}"
"""


def test_fake_stack_names_resources_after_the_template() -> None:
    evaluation = cfn_template.evaluate(cfn_template.loads(_TEMPLATE), "s")
    assert evaluation.parameters == {"Env": "dev", "Name": "<Name>"}
    assert evaluation.conditions == {"IsProd": False, "NotProd": True}
    assert set(evaluation.resources()) == {"Queue", "Fn"}
    assert evaluation.value({"Ref": "Queue"}) == "https://sqs.us-east-1.amazonaws.com/123456789012/s-q"
    assert evaluation.value({"Fn::Sub": "${Fn.Arn}!${!Literal}"}) == (
        "arn:aws:lambda:us-east-1:123456789012:function:s-fn-<Name>!${Literal}"
    )
    assert set(cfn_template.evaluate(cfn_template.loads(_TEMPLATE), "s", {"Env": "prod"}).resources()) == {
        "Queue"
    }
    with pytest.raises(TemplateError, match="unknown parameter"):
        cfn_template.evaluate(cfn_template.loads(_TEMPLATE), "s", {"Nope": "x"})
    with pytest.raises(TemplateError, match="undeclared"):
        evaluation.value({"Ref": "Missing"})


def test_deployed_stack_resolves_against_physical_ids_and_refuses_unknown_intrinsics() -> None:
    attributes: list[tuple[str, str]] = []

    def attribute(logical_id: str, name: str) -> Any:
        attributes.append((logical_id, name))
        return f"{logical_id}.{name}"

    stack = DeployedStack({"AWS::StackName": "s"}, {"Queue": "q-1"}, attribute)
    evaluation = Evaluation(cfn_template.loads(_TEMPLATE), stack, {"Name": "n"})
    sub = {"Fn::Sub": "${AWS::StackName}-${Env}-${Queue}-${Queue.Arn}"}
    assert evaluation.value(sub) == "s-dev-q-1-Queue.Arn"
    assert evaluation.value({"Fn::GetAtt": ["Fn", "Arn"]}) == "Fn.Arn"
    assert attributes == [("Queue", "Arn"), ("Fn", "Arn")]
    assert evaluation.value({"Fn::If": ["IsProd", "a", "b"]}) == "b"
    no_value = {"Ref": "AWS::NoValue"}
    assert evaluation.value([no_value, {"Fn::Join": ["-", ["x", {"Ref": "Env"}]]}]) == ["x-dev"]
    with pytest.raises(TemplateError, match="cannot resolve Ref"):
        evaluation.value({"Ref": "Fn"})
    with pytest.raises(TemplateError, match="unsupported intrinsic"):
        evaluation.value({"Fn::ImportValue": "x"})
