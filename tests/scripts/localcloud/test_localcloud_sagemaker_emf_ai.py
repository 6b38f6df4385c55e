"""SageMaker transform jobs, EMF extraction and the AI stand-ins, each against the service behaviour."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from scripts.localcloud import LocalCloud
from scripts.localcloud.ai_standins import converse, detect_entities_v2, detect_labels
from scripts.localcloud.emf import EmfExtractor

CAPTURE = "def handler(event, context):\n    return event\n"


@pytest.fixture(scope="module")
def transform_rule(cloud: LocalCloud, make_function: Callable[..., str]) -> str:
    arn = make_function("job-events", {"handler.py": CAPTURE})
    events = cloud.client("events")
    events.put_rule(
        Name="transform-done",
        EventPattern=json.dumps(
            {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Transform Job State Change"]}
        ),
    )
    events.put_targets(Rule="transform-done", Targets=[{"Id": "fn", "Arn": arn}])
    cloud.client("s3").create_bucket(Bucket="scans")
    cloud.client("s3").put_object(Bucket="scans", Key="in/a/frame1.bin", Body=b"abc")
    cloud.client("s3").put_object(Bucket="scans", Key="in/frame2.bin", Body=b"hello")
    return "job-events"


def _start(cloud: LocalCloud, name: str, model: str) -> None:
    cloud.client("sagemaker").create_transform_job(
        TransformJobName=name,
        ModelName=model,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://scans/in/"}},
            "ContentType": "application/x-test",
        },
        TransformOutput={"S3OutputPath": f"s3://scans/out/{name}"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        Tags=[{"Key": "correlation", "Value": "c-1"}],
    )


def test_transform_job_runs_the_model_and_puts_the_state_change_event(
    cloud: LocalCloud, transform_rule: str
) -> None:
    cloud.register_model("upper", lambda body, content_type: body.upper() + content_type.encode())
    _start(cloud, "job-ok", "upper")
    assert cloud.client("sagemaker").describe_transform_job(TransformJobName="job-ok")[
        "TransformJobStatus"
    ] == ("InProgress")
    since = len(cloud.runtime.invocations)
    assert cloud.sagemaker.complete_pending()
    s3 = cloud.client("s3")
    assert (
        s3.get_object(Bucket="scans", Key="out/job-ok/a/frame1.bin.out")["Body"].read()
        == b"ABCapplication/x-test"
    )
    assert (
        s3.get_object(Bucket="scans", Key="out/job-ok/frame2.bin.out")["Body"].read()
        == b"HELLOapplication/x-test"
    )
    described = cloud.client("sagemaker").describe_transform_job(TransformJobName="job-ok")
    assert described["TransformJobStatus"] == "Completed"
    [event] = [i.event for i in cloud.runtime.invocations[since:] if i.function_name == transform_rule]
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker Transform Job State Change"
    assert event["detail"]["TransformJobName"] == "job-ok"
    assert event["detail"]["TransformJobStatus"] == "Completed"
    assert event["detail"]["Tags"] == {"correlation": "c-1"}


def test_failing_model_fails_the_job_with_a_reason(cloud: LocalCloud, transform_rule: str) -> None:
    def broken(body: bytes, content_type: str) -> bytes:
        raise ValueError("cannot segment")

    cloud.register_model("broken", broken)
    _start(cloud, "job-bad", "broken")
    since = len(cloud.runtime.invocations)
    cloud.sagemaker.complete_pending()
    described = cloud.client("sagemaker").describe_transform_job(TransformJobName="job-bad")
    assert described["TransformJobStatus"] == "Failed"
    assert "cannot segment" in described["FailureReason"]
    [event] = [i.event for i in cloud.runtime.invocations[since:] if i.function_name == transform_rule]
    assert event["detail"]["TransformJobStatus"] == "Failed"
    assert "cannot segment" in event["detail"]["FailureReason"]


def test_emf_line_in_function_logs_becomes_a_queryable_metric(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    code = """
import json, time
def handler(event, context):
    print(json.dumps({"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
        "Namespace": "FSxN-S3AP-Patterns", "Dimensions": [["UseCase", "FunctionName", "Environment"]],
        "Metrics": [{"Name": "FilesProcessed", "Unit": "Count"}]}]},
        "UseCase": "uc-emf", "FunctionName": context.function_name, "Environment": "prod",
        "FilesProcessed": [2, 3]}))
    print("not an EMF line")
    return 1
"""
    make_function("emitter", {"handler.py": code})
    cloud.invoke("emitter")
    dims = {"UseCase": "uc-emf", "FunctionName": "emitter", "Environment": "prod"}
    assert cloud.metrics("FSxN-S3AP-Patterns", "FilesProcessed", dims) == 5.0
    assert cloud.metrics("FSxN-S3AP-Patterns", "FilesProcessed", {**dims, "Environment": "dev"}) == 0.0


def test_emf_parse_rejects_too_many_values() -> None:
    document = {
        "_aws": {
            "Timestamp": 0,
            "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [[]], "Metrics": [{"Name": "M"}]}],
        },
        "M": list(range(101)),
    }
    with pytest.raises(ValueError, match="at most 100"):
        EmfExtractor.parse(document)


def test_rekognition_labels_are_deterministic_and_depend_on_the_image(cloud: LocalCloud) -> None:
    client = cloud.client("rekognition")
    first = client.detect_labels(Image={"Bytes": b"image-one"}, MaxLabels=5)["Labels"]
    again = client.detect_labels(Image={"Bytes": b"image-one"}, MaxLabels=5)["Labels"]
    other = client.detect_labels(Image={"Bytes": b"image-two"}, MaxLabels=5)["Labels"]
    assert first == again
    assert first != other
    assert 0 < len(first) <= 5
    assert all(55.0 <= label["Confidence"] <= 100 for label in first)
    assert detect_labels(b"image-one", 5)["Labels"] == first


def test_rekognition_reads_s3_objects(cloud: LocalCloud) -> None:
    cloud.client("s3").create_bucket(Bucket="photos")
    cloud.client("s3").put_object(Bucket="photos", Key="p.jpg", Body=b"pixels")
    labels = cloud.client("rekognition").detect_labels(
        Image={"S3Object": {"Bucket": "photos", "Name": "p.jpg"}}
    )
    assert labels["Labels"] == detect_labels(b"pixels")["Labels"]


def test_bedrock_converse_fills_the_keys_the_prompt_asks_for(cloud: LocalCloud) -> None:
    prompt = (
        'Describe this red leather handbag. Reply as JSON: {"title": "...", "tags": [], "confidence": 0.0}'
    )
    response = cloud.client("bedrock-runtime").converse(
        modelId="anthropic.claude-3-haiku-20240307-v1:0",
        messages=[{"role": "user", "content": [{"text": prompt}]}],
    )
    reply = json.loads(response["output"]["message"]["content"][0]["text"])
    assert set(reply) == {"title", "tags", "confidence"}
    assert "handbag" in reply["tags"]
    assert 0.5 <= reply["confidence"] <= 1.0
    assert response["stopReason"] == "end_turn"
    other = prompt.replace("red leather handbag", "wooden garden chair")
    answer = converse({"messages": [{"role": "user", "content": [{"text": other}]}]})
    assert json.loads(answer["output"]["message"]["content"][0]["text"]) != reply


def test_comprehend_medical_entities_have_real_offsets(cloud: LocalCloud) -> None:
    text = "Patient with diabetes was given metformin after a chest x-ray."
    entities = cloud.client("comprehendmedical").detect_entities_v2(Text=text)["Entities"]
    found = {(e["Text"], e["Category"]) for e in entities}
    assert ("diabetes", "MEDICAL_CONDITION") in found
    assert ("metformin", "MEDICATION") in found
    for entity in entities:
        assert text[entity["BeginOffset"] : entity["EndOffset"]] == entity["Text"]
    assert detect_entities_v2("nothing medical here")["Entities"] == []


def test_bedrock_converse_reads_fields_named_in_prose_and_answers_prose_when_no_json_is_asked() -> None:
    system = 'Answer with one JSON object with these fields: "title" (string), "keywords" (array of strings).'
    asked = converse(
        {
            "system": [{"text": system}],
            "messages": [{"role": "user", "content": [{"text": "A blue ceramic vase"}]}],
        }
    )
    reply = json.loads(asked["output"]["message"]["content"][0]["text"])
    assert set(reply) == {"title", "keywords"}
    assert isinstance(reply["keywords"], list)
    assert "vase" in reply["keywords"]
    prose = converse(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"text": 'Summarise this run in two sentences. Facts: {"files": 12, "failed": 2}'}
                    ],
                }
            ]
        }
    )
    text = prose["output"]["message"]["content"][0]["text"]
    assert "files 12" in text
    assert "failed 2" in text
    assert not text.lstrip().startswith("{")


def test_textract_lines_and_comprehend_medical_phi_come_from_the_document(cloud: LocalCloud) -> None:
    document = b"INVOICE 1042\nShip to: Dock 7\n"
    blocks = cloud.client("textract").detect_document_text(Document={"Bytes": document})["Blocks"]
    assert [b["Text"] for b in blocks if b["BlockType"] == "LINE"] == ["INVOICE 1042", "Ship to: Dock 7"]
    assert [b["Text"] for b in blocks if b["BlockType"] == "WORD"][:2] == ["INVOICE", "1042"]
    text = "Seen on 2026-01-05, call 555-123-4567, MRN 123456."
    phi = cloud.client("comprehendmedical").detect_phi(Text=text)["Entities"]
    assert {(e["Type"], e["Text"]) for e in phi} == {
        ("DATE", "2026-01-05"),
        ("PHONE_OR_FAX", "555-123-4567"),
        ("ID", "MRN 123456"),
    }
