"""The Slack notifier of the alert stack: webhook from Secrets Manager, one post per alarm, failures raise."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.handlers import load_handler

WEBHOOK = "https://hooks.slack.example/services/T000/B000/secret"


@pytest.fixture
def notifier(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    arn = boto3.client("secretsmanager").create_secret(Name="slack", SecretString=f"  {WEBHOOK}\n")["ARN"]
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", arn)
    return load_handler("shared/cfn/functions/slack_notifier/handler.py")


class _Recorder:
    def __init__(self, fail_with: Exception | None = None) -> None:
        self.requests: list[urllib.request.Request] = []
        self.fail_with = fail_with

    def __call__(self, request: urllib.request.Request, timeout: float) -> io.BytesIO:
        self.requests.append(request)
        if self.fail_with is not None:
            raise self.fail_with
        return io.BytesIO(b"ok")


def _alarm_record(state: str = "ALARM") -> dict[str, Any]:
    message = {
        "AlarmName": "alerts-processing-errors",
        "AlarmDescription": "Processing errors reached the threshold.",
        "NewStateValue": state,
        "OldStateValue": "OK",
        "NewStateReason": "Threshold Crossed: 1 datapoint [7.0] was >= 5.0",
        "Region": "US East (N. Virginia)",
    }
    return {"Sns": {"MessageId": "m-1", "Subject": "ALARM: alerts", "Message": json.dumps(message)}}


def test_posts_each_alarm_to_the_webhook_from_the_secret(
    notifier: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _Recorder()
    monkeypatch.setattr(notifier.urllib.request, "urlopen", recorder)
    result = notifier.handler({"Records": [_alarm_record(), _alarm_record("OK")]}, None)
    assert result == {"posted": 2}
    assert [r.full_url for r in recorder.requests] == [WEBHOOK, WEBHOOK]
    first = json.loads(recorder.requests[0].data)
    assert first["text"].startswith(":red_circle: *alerts-processing-errors* is ALARM (was OK)")
    assert (
        "Threshold Crossed" in first["text"] and "_Processing errors reached the threshold._" in first["text"]
    )
    assert json.loads(recorder.requests[1].data)["text"].startswith(":large_green_circle:")
    assert recorder.requests[0].get_header("Content-type") == "application/json"


def test_plain_messages_are_forwarded_as_text(notifier: ModuleType) -> None:
    payload = notifier.slack_message("Hello", "not json")
    assert payload == {"text": "*Hello*\nnot json"}


def test_a_failed_post_raises_so_sns_retries(notifier: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    error = urllib.error.HTTPError(WEBHOOK, 500, "boom", {}, None)  # type: ignore[arg-type]
    monkeypatch.setattr(notifier.urllib.request, "urlopen", _Recorder(fail_with=error))
    with pytest.raises(urllib.error.HTTPError):
        notifier.handler({"Records": [_alarm_record()]}, None)


def test_a_secret_that_is_not_an_https_url_is_refused(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = boto3.client("secretsmanager").create_secret(Name="bad", SecretString="http://plain")["ARN"]
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", arn)
    module = load_handler("shared/cfn/functions/slack_notifier/handler.py")
    with pytest.raises(ValueError, match="https"):
        module.webhook_url()


def test_the_webhook_is_read_once_per_cold_start(
    notifier: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifier.urllib.request, "urlopen", _Recorder())
    calls: list[str] = []
    original = notifier.boto3.client

    def counting_client(service: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(service)
        return original(service, *args, **kwargs)

    monkeypatch.setattr(notifier.boto3, "client", counting_client)
    notifier.handler({"Records": [_alarm_record()]}, None)
    notifier.handler({"Records": [_alarm_record()]}, None)
    assert calls == ["secretsmanager"]
