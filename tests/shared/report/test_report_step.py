"""The report step end to end on moto + the local Converse stand-in, and every model error path."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from scripts.localcloud.ai_standins import converse as standin_converse
from shared.polling.errors import TransientServiceError
from shared.report import (
    ModelEmptyAnswerError,
    ModelInvocationError,
    ModelMalformedAnswerError,
    ModelRefusedError,
    ModelTruncatedAnswerError,
    PromptBudgetError,
    ReportConfig,
    ReportNotificationError,
    ReportRequest,
    console_url,
    parse_answer,
    produce_report,
    report_keys,
)
from shared.s3ap import S3AccessPoint

REGION = "us-east-1"


class FakeBedrock:
    """Answers Converse with the local stand-in, or with a scripted response or error."""

    def __init__(self, response: dict[str, Any] | None = None, error: ClientError | None = None) -> None:
        self.response = response
        self.error = error
        self.requests: list[dict[str, Any]] = []

    def converse(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        return self.response if self.response is not None else standin_converse(request)


def answer(text: str, stop: str = "end_turn") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": stop,
        "usage": {"inputTokens": 10, "outputTokens": 5},
    }


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} says no"}}, "Converse")


GOOD = json.dumps({"title": "T", "summary": "S one. S two.", "key_points": ["a"], "recommendations": ["b"]})


@pytest.fixture
def env(aws: None) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="out")
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="reports")["TopicArn"]
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return {"s3": s3, "sns": sns, "sqs": sqs, "queue": queue, "topic": topic}


def cfg(topic: str = "", budget: int = 12_000, model: str = "us.amazon.nova-lite-v1:0") -> ReportConfig:
    return ReportConfig(
        use_case="legal-compliance",
        output_bucket="out",
        report_model_id=model,
        report_prompt_budget_bytes=budget,
        report_topic_arn=topic,
    )


def request(rows: int = 5) -> ReportRequest:
    by_share = [{"share": f"s{i}", "owner": f"CORP\\u{i}", "findings": i} for i in range(rows)]
    return ReportRequest(
        run_id="run-20260101T000000Z-abc",
        subject="permission audit of volume legal",
        audience="a compliance officer",
        facts={"totals": {"files": 40, "findings": 12}, "by_share": by_share},
        tables={"Findings by share": by_share},
    )


def keys(s3: Any) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="out").get("Contents", []))


def test_the_report_is_written_as_json_and_markdown_and_announced(env: dict[str, Any]) -> None:
    bedrock = FakeBedrock()
    outcome = produce_report(
        request(),
        cfg(env["topic"]),
        bedrock=bedrock,
        output=S3AccessPoint("out"),
        sns=env["sns"],
        region=REGION,
    )
    json_key, md_key = report_keys("reports/", "run-20260101T000000Z-abc")
    assert keys(env["s3"]) == [json_key, md_key]
    document = json.loads(env["s3"].get_object(Bucket="out", Key=json_key)["Body"].read())
    assert document["run_id"] == "run-20260101T000000Z-abc"
    assert document["model"]["id"] == "us.amazon.nova-lite-v1:0"  # an inference-profile id is passed through
    assert set(document["narrative"]) == {"title", "summary", "key_points", "recommendations"}
    assert document["prompt"]["bytes"] <= document["prompt"]["budget_bytes"] == 12_000
    assert document["tables"]["Findings by share"][4]["findings"] == 4
    markdown = env["s3"].get_object(Bucket="out", Key=md_key)["Body"].read().decode()
    assert markdown.startswith("# ") and "## Findings by share" in markdown
    assert "| s4 | CORP\\\\u4 | 4 |" in markdown
    # the notification is short and links to the report
    assert outcome.notification["status"] == "SENT"
    message = env["sqs"].receive_message(QueueUrl=env["queue"])["Messages"][0]
    body = json.loads(message["Body"])
    assert (
        f"s3://out/{md_key}" in body["Message"] and "console.aws.amazon.com/s3/object/out" in body["Message"]
    )
    assert len(body["Message"]) < 1_000 and len(body["Subject"]) <= 100
    # only the facts go to the model, never the tables' rows beyond them
    sent = bedrock.requests[0]
    assert sent["modelId"] == "us.amazon.nova-lite-v1:0"
    assert outcome.to_dict()["report_markdown"] == f"s3://out/{md_key}"


def test_the_budget_is_enforced_on_the_whole_prompt_and_recorded(env: dict[str, Any]) -> None:
    bedrock = FakeBedrock()
    outcome = produce_report(
        request(rows=2_000), cfg(budget=3_000), bedrock=bedrock, output=S3AccessPoint("out")
    )
    sent = bedrock.requests[0]
    size = len(sent["system"][0]["text"].encode()) + len(sent["messages"][0]["content"][0]["text"].encode())
    assert size == outcome.prompt_bytes <= 3_000
    assert outcome.budget.trimmed and outcome.budget.original_bytes > 3_000
    assert "Shortened to fit the prompt budget" in sent["messages"][0]["content"][0]["text"]
    document = json.loads(env["s3"].get_object(Bucket="out", Key=outcome.json_key)["Body"].read())
    assert document["prompt"]["facts"]["trimmed"] is True
    assert any("of 2000 items" in n for n in document["prompt"]["facts"]["notes"])
    assert len(document["tables"]["Findings by share"]) == 2_000  # the reader still gets every row
    markdown = env["s3"].get_object(Bucket="out", Key=outcome.markdown_key)["Body"].read().decode()
    assert "1950 more rows in report.json" in markdown and "of 2000 items" in markdown


def test_a_budget_smaller_than_the_instructions_is_a_typed_error(env: dict[str, Any]) -> None:
    with pytest.raises(PromptBudgetError):
        produce_report(request(), cfg(budget=300), bedrock=FakeBedrock(), output=S3AccessPoint("out"))
    assert keys(env["s3"]) == []


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (answer(""), ModelEmptyAnswerError),
        (answer("   "), ModelEmptyAnswerError),
        ({"output": {"message": {"content": []}}, "stopReason": "end_turn"}, ModelEmptyAnswerError),
        (answer("Here is your report: all fine."), ModelMalformedAnswerError),
        (answer("[1, 2]"), ModelMalformedAnswerError),
        (
            answer(json.dumps({"title": "T", "summary": "", "key_points": [], "recommendations": []})),
            ModelMalformedAnswerError,
        ),
        (
            answer(json.dumps({"title": "T", "summary": "S", "key_points": "a", "recommendations": []})),
            ModelMalformedAnswerError,
        ),
        (answer(GOOD[:30], stop="max_tokens"), ModelTruncatedAnswerError),
        (answer("", stop="guardrail_intervened"), ModelRefusedError),
        (answer(GOOD, stop="content_filtered"), ModelRefusedError),
    ],
)
def test_a_bad_answer_fails_the_step_and_is_never_saved(
    env: dict[str, Any], response: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        produce_report(
            request(),
            cfg(env["topic"]),
            bedrock=FakeBedrock(response),
            output=S3AccessPoint("out"),
            sns=env["sns"],
        )
    assert keys(env["s3"]) == []
    assert "Messages" not in env["sqs"].receive_message(QueueUrl=env["queue"], WaitTimeSeconds=0)


@pytest.mark.parametrize(
    "code", ["AccessDeniedException", "ValidationException", "ResourceNotFoundException"]
)
def test_a_bedrock_client_error_is_a_typed_error_and_nothing_is_saved(env: dict[str, Any], code: str) -> None:
    with pytest.raises(ModelInvocationError) as caught:
        produce_report(
            request(), cfg(), bedrock=FakeBedrock(error=client_error(code)), output=S3AccessPoint("out")
        )
    assert caught.value.details["code"] == code
    assert caught.value.details["model_id"] == "us.amazon.nova-lite-v1:0"
    assert keys(env["s3"]) == []


def test_throttling_is_transient_so_the_state_retries_it(env: dict[str, Any]) -> None:
    with pytest.raises(TransientServiceError):
        produce_report(
            request(),
            cfg(),
            bedrock=FakeBedrock(error=client_error("ThrottlingException")),
            output=S3AccessPoint("out"),
        )
    assert keys(env["s3"]) == []


def test_an_empty_model_id_is_refused_before_any_call(env: dict[str, Any]) -> None:
    bedrock = FakeBedrock()
    with pytest.raises(ModelInvocationError):
        produce_report(request(), cfg(model=""), bedrock=bedrock, output=S3AccessPoint("out"))
    assert bedrock.requests == []


def test_a_refused_notification_is_typed_and_names_the_saved_report(env: dict[str, Any]) -> None:
    missing = env["topic"].replace("reports", "gone")
    with pytest.raises(ReportNotificationError) as caught:
        produce_report(
            request(), cfg(missing), bedrock=FakeBedrock(), output=S3AccessPoint("out"), sns=env["sns"]
        )
    assert caught.value.details["report"].endswith("/report.md")
    assert len(keys(env["s3"])) == 2


def test_without_a_topic_the_notification_is_skipped(env: dict[str, Any]) -> None:
    outcome = produce_report(
        request(), cfg(), bedrock=FakeBedrock(response=answer(GOOD)), output=S3AccessPoint("out")
    )
    assert outcome.notification["status"] == "SKIPPED"
    assert outcome.answer.narrative.title == "T"


def test_fenced_answers_are_accepted_and_lists_are_bounded() -> None:
    narrative = parse_answer("```json\n" + GOOD + "\n```")
    assert narrative.title == "T" and narrative.key_points == ("a",)
    many = json.dumps(
        {"title": "T", "summary": "S", "key_points": [str(i) for i in range(50)], "recommendations": []}
    )
    assert len(parse_answer(many).key_points) == 20


def test_keys_are_run_keyed_and_refuse_paths() -> None:
    assert report_keys("reports/", "r1") == ("reports/r1/report.json", "reports/r1/report.md")
    assert report_keys("", "r1") == ("r1/report.json", "r1/report.md")
    for bad in ("", "a/b", ".."):
        with pytest.raises(ValueError, match="one path segment"):
            report_keys("reports/", bad)


def test_console_link_encodes_the_key() -> None:
    url = console_url("out", "reports/run 1/report.md", "eu-west-1")
    assert (
        url
        == "https://eu-west-1.console.aws.amazon.com/s3/object/out?region=eu-west-1&prefix=reports%2Frun+1%2Freport.md"
    )
