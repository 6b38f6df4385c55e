"""The one CloudFormation reader, writer and evaluator: short forms, JSON, fake and deployed stacks."""

from __future__ import annotations

import re
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


# --------------------------------------------------------------------------------------------------
# AWS::LanguageExtensions

LOOP = """
Transform: AWS::LanguageExtensions
Parameters:
  Names: {Type: CommaDelimitedList, Default: "a-1,b"}
Mappings:
  Sizes:
    Small: {Memory: "128"}
    Large: {Memory: "1024", Extra: [x, y]}
Resources:
  Fn::ForEach::Functions:
    - Fn
    - [Small, Large]
    - ${Fn}Function:
        Type: AWS::Lambda::Function
        Properties:
          FunctionName: !Sub "${AWS::StackName}-${Fn}"
          MemorySize: !FindInMap [Sizes, !Ref Fn, Memory]
          Tags: !FindInMap [Sizes, !Ref Fn, Extra, {DefaultValue: []}]
          Description: !Ref Fn
      ${Fn}Role:
        Type: AWS::IAM::Role
"""


def test_for_each_expands_keys_values_and_find_in_map() -> None:
    expanded = cfn_template.expand(cfn_template.loads(LOOP))
    assert "Transform" not in expanded
    resources = expanded["Resources"]
    assert list(resources) == ["SmallFunction", "SmallRole", "LargeFunction", "LargeRole"]
    small = resources["SmallFunction"]["Properties"]
    assert small == {
        "FunctionName": {"Fn::Sub": "${AWS::StackName}-Small"},
        "MemorySize": "128",
        "Tags": [],
        "Description": "Small",
    }
    assert resources["LargeFunction"]["Properties"]["Tags"] == ["x", "y"]


def test_nested_loops_ampersand_form_and_a_parameter_collection() -> None:
    text = """
Transform: [AWS::LanguageExtensions]
Parameters:
  Names: {Type: CommaDelimitedList, Default: "a-1,b"}
Resources:
  Fn::ForEach::Outer:
    - Name
    - !Ref Names
    - Fn::ForEach::Inner:
        - Kind
        - [Q, T]
        - "&{Name}${Kind}":
            Type: AWS::SQS::Queue
            Properties:
              QueueName: !Sub "${Name}-${Kind}"
              Length: !Length [1, 2, 3]
              Json: !ToJsonString {k: [1, "v"]}
"""
    template = cfn_template.loads(text)
    resources = cfn_template.expand(template)["Resources"]
    assert list(resources) == ["a1Q", "a1T", "bQ", "bT"]
    assert resources["a1T"]["Properties"] == {
        "QueueName": "a-1-T",
        "Length": 3,
        "Json": '{"k":[1,"v"]}',
    }
    assert list(cfn_template.expand(template, {"Names": "z"})["Resources"]) == ["zQ", "zT"]


def test_for_each_inside_properties_and_outputs() -> None:
    text = """
Transform: AWS::LanguageExtensions
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      Tags:
        Fn::ForEach::Tag:
          - T
          - [One, Two]
          - Tag${T}: !Ref T
Outputs:
  Fn::ForEach::Out:
    - O
    - [X]
    - Out${O}:
        Value: !Ref O
"""
    expanded = cfn_template.expand(cfn_template.loads(text))
    assert expanded["Resources"]["Topic"]["Properties"]["Tags"] == {"TagOne": "One", "TagTwo": "Two"}
    assert expanded["Outputs"] == {"OutX": {"Value": "X"}}


def test_loop_values_reach_keys_subs_and_refs_but_not_plain_strings() -> None:
    text = """
Transform: AWS::LanguageExtensions
Resources:
  Fn::ForEach::L:
    - X
    - [A]
    - ${X}Queue:
        Type: AWS::SQS::Queue
        Properties:
          Arn: !GetAtt [!Sub "${X}Role", Arn]
          Name: {Ref: !Sub "${X}Topic"}
          Kept: "${X} stays"
          Escaped: !Sub "${!X}${X}"
          Listed: !Sub ["${X}-${Y}", {Y: !Ref X}]
"""
    props = cfn_template.expand(cfn_template.loads(text))["Resources"]["AQueue"]["Properties"]
    assert props == {
        "Arn": {"Fn::GetAtt": ["ARole", "Arn"]},
        "Name": {"Ref": "ATopic"},
        "Kept": "${X} stays",
        "Escaped": {"Fn::Sub": "${!X}A"},
        "Listed": "A-A",  # a Sub whose variables are all literal folds into the string
    }


def test_a_template_without_the_transform_is_returned_unchanged() -> None:
    template = cfn_template.loads("Resources:\n  A:\n    Type: AWS::SNS::Topic\n")
    assert cfn_template.expand(template) == template
    assert cfn_template.expand(template) is not template


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Fn::ForEach::L:\n    - X\n    - [a]\n    - Fixed: {Type: T}", "must contain ${X}"),
        ("Fn::ForEach::L:\n    - X\n    - [a]", "expected [Identifier"),
        ("Fn::ForEach::L:\n    - X\n    - [1]\n    - ${X}: {Type: T}", "is not a string"),
        ("Fn::ForEach::L:\n    - X-1\n    - [a]\n    - ${X-1}: {Type: T}", "alphanumeric"),
        ("Fn::ForEach::L:\n    - X\n    - !Ref AWS::Region\n    - ${X}: {Type: T}", "CommaDelimitedList"),
        ("Fn::ForEach::L:\n    - X\n    - [a, a]\n    - ${X}: {Type: T}", "two iterations"),
        ("Fn::ForEach::L:\n    - X\n    - [a]\n    - ${X}: {Type: T}\n  a: {Type: T}", "already exists"),
        (
            "Fn::ForEach::L:\n    - X\n    - [a]\n    - ${X}: {Type: !FindInMap [M, a, b]}",
            "undeclared mapping",
        ),
        (
            "Fn::ForEach::L:\n    - X\n    - [a]\n    - Fn::ForEach::M:\n        - X\n        - [b]\n"
            "        - ${X}b: {Type: T}",
            "enclosing loop",
        ),
        (
            "Fn::ForEach::L:\n    - X\n    - [a]\n    - Fn::ForEach::L:\n        - Y\n        - [b]\n"
            "        - ${X}${Y}: {Type: T}",
            "more than once",
        ),
    ],
)
def test_bad_loops_are_rejected_with_the_reason(body: str, message: str) -> None:
    text = f"Transform: AWS::LanguageExtensions\nResources:\n  {body}\n"
    with pytest.raises(TemplateError, match=re.escape(message)):
        cfn_template.expand(cfn_template.loads(text))


def test_for_each_without_the_transform_is_an_error() -> None:
    text = "Resources:\n  Fn::ForEach::L:\n    - X\n    - [a]\n    - ${X}: {Type: T}\n"
    with pytest.raises(TemplateError, match="without Transform"):
        cfn_template.expand(cfn_template.loads(text))


def test_find_in_map_missing_key_without_default_and_unresolvable_default() -> None:
    base = "Transform: AWS::LanguageExtensions\nMappings: {M: {a: {b: v}}}\nResources:\n  R:\n    Type: "
    with pytest.raises(TemplateError, match=r"has no a\.c"):
        cfn_template.expand(cfn_template.loads(base + "!FindInMap [M, a, c]\n"))
    with pytest.raises(TemplateError, match="known before deploy"):
        cfn_template.expand(
            cfn_template.loads(base + "!FindInMap [M, !Ref AWS::Region, c, {DefaultValue: d}]\n")
        )
    kept = cfn_template.expand(cfn_template.loads(base + "!FindInMap [M, !Ref AWS::Region, b]\n"))
    assert kept["Resources"]["R"]["Type"] == {"Fn::FindInMap": ["M", {"Ref": "AWS::Region"}, "b"]}


def test_load_expands_unless_raw(tmp_path: Any) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(LOOP, encoding="utf-8")
    assert "SmallFunction" in cfn_template.load(path)["Resources"]
    assert "Fn::ForEach::Functions" in cfn_template.load(path, raw=True)["Resources"]


# --------------------------------------------------------------------------------------------------
# AWS::Include

INCLUDING = """\
Transform: AWS::LanguageExtensions
Mappings:
  Functions:
    Small: {Name: small}
    Large: {Name: large, Storage: "2048"}
Resources:
  Fn::Transform: {Name: AWS::Include, Parameters: {Location: blocks/stack.yaml}}
  Fn::ForEach::Functions:
    - Fn
    - [Small, Large]
    - ${Fn}Role: {Fn::Transform: {Name: AWS::Include, Parameters: {Location: blocks/role.yaml}}}
      ${Fn}Function:
        Type: AWS::Lambda::Function
        Properties:
          Fn::Transform: {Name: AWS::Include, Parameters: {Location: blocks/properties.yaml}}
          MemorySize: 128
"""
SNIPPETS = {
    "stack.yaml": "Key: {Type: AWS::KMS::Key}\n",
    "role.yaml": 'Type: AWS::IAM::Role\nProperties: {Description: {"Fn::Sub": "role of ${Fn}"}}\n',
    "properties.yaml": (
        'Role: {"Fn::GetAtt": [{"Fn::Sub": "${Fn}Role"}, Arn]}\n'
        "EphemeralStorage:\n"
        '  Size: {"Fn::FindInMap": [Functions, {Ref: Fn}, Storage, {DefaultValue: "512"}]}\n'
    ),
}


def _blocks(tmp_path: Any, **changed: str) -> Any:
    (tmp_path / "blocks").mkdir(exist_ok=True)
    for name, text in {**SNIPPETS, **changed}.items():
        (tmp_path / "blocks" / name).write_text(text, encoding="utf-8")
    (tmp_path / "template.yaml").write_text(INCLUDING, encoding="utf-8")
    return tmp_path / "template.yaml"


def test_snippets_are_included_before_the_loops_expand(tmp_path: Any) -> None:
    """Nested macros run first: a snippet may use the loop identifier and FindInMap defaults."""
    resources = cfn_template.load(_blocks(tmp_path))["Resources"]
    assert list(resources) == ["Key", "SmallRole", "SmallFunction", "LargeRole", "LargeFunction"]
    assert resources["LargeRole"]["Properties"] == {"Description": "role of Large"}
    # Beside other keys, the snippet's keys take the place of the Fn::Transform key.
    assert resources["SmallFunction"]["Properties"] == {
        "Role": {"Fn::GetAtt": ["SmallRole", "Arn"]},
        "EphemeralStorage": {"Size": "512"},
        "MemorySize": 128,
    }
    assert resources["LargeFunction"]["Properties"]["EphemeralStorage"] == {"Size": "2048"}
    assert "Fn::Transform" in cfn_template.load(tmp_path / "template.yaml", raw=True)["Resources"]


def test_include_locations_lists_each_snippet_once() -> None:
    assert cfn_template.include_locations(cfn_template.loads(INCLUDING)) == [
        "blocks/stack.yaml",
        "blocks/role.yaml",
        "blocks/properties.yaml",
    ]


def test_a_packaged_location_is_read_through_the_resolver(tmp_path: Any) -> None:
    path = _blocks(tmp_path)
    template = cfn_template.loads(INCLUDING.replace("blocks/", "s3://bucket/uc/include/"))
    with pytest.raises(TemplateError, match="no resolver"):
        cfn_template.inline_includes(template, tmp_path)
    included = cfn_template.inline_includes(
        template, tmp_path, resolve=lambda location: path.parent / "blocks" / location.rsplit("/", 1)[1]
    )
    assert "Key" in included["Resources"]


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"properties.yaml": "MemorySize: 256\n"}, r"both define \['MemorySize'\]"),
        ({"stack.yaml": "Key: {Fn::Transform: {Name: AWS::Include, Parameters: {Location: x}}}"}, "not nest"),
        ({"stack.yaml": "- not\n- a mapping\n"}, "must be a mapping"),
        ({"role.yaml": "Type: [unclosed\n"}, "not valid YAML"),
    ],
)
def test_bad_snippets_are_rejected_with_the_reason(
    tmp_path: Any, changed: dict[str, str], message: str
) -> None:
    path = _blocks(tmp_path, **changed)
    with pytest.raises(TemplateError, match=message):
        cfn_template.load(path)


def test_only_the_include_macro_and_existing_snippets_are_accepted(tmp_path: Any) -> None:
    path = _blocks(tmp_path)
    stack = "Name: AWS::Include, Parameters: {Location: blocks/stack.yaml}"
    other = INCLUDING.replace(stack, "Name: MyMacro")
    with pytest.raises(TemplateError, match="only Fn::Transform of AWS::Include"):
        cfn_template.inline_includes(cfn_template.loads(other), path.parent)
    (path.parent / "blocks" / "role.yaml").unlink()
    with pytest.raises(TemplateError, match="cannot be read"):
        cfn_template.load(path)
