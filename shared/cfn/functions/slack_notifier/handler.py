"""Forward alarm notifications from the alert topic to a Slack incoming webhook.

Deployed inline (ZipFile) by alert-automation.yaml, so it uses only the standard library and
boto3. The webhook URL is a credential: it is read from Secrets Manager once per cold start.
A failed post raises, so SNS retries the delivery.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Any

import boto3

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

STATE_ICONS = {"ALARM": ":red_circle:", "OK": ":large_green_circle:", "INSUFFICIENT_DATA": ":white_circle:"}
_webhook: str | None = None


def webhook_url() -> str:
    """The webhook from the secret named by SLACK_WEBHOOK_SECRET_ARN."""
    global _webhook
    if _webhook is None:
        secret = boto3.client("secretsmanager").get_secret_value(
            SecretId=os.environ["SLACK_WEBHOOK_SECRET_ARN"]
        )
        url = secret["SecretString"].strip()
        if not url.startswith("https://"):
            raise ValueError("the Slack webhook secret must hold an https:// URL")
        _webhook = url
    return _webhook


def slack_message(subject: str | None, message: str) -> dict[str, str]:
    """A Slack payload for one SNS message: an alarm state change, or any other text."""
    try:
        alarm = json.loads(message)
    except json.JSONDecodeError:
        alarm = None
    if not isinstance(alarm, dict) or "AlarmName" not in alarm:
        return {"text": f"*{subject or 'Notification'}*\n{message[:3000]}"}
    state = str(alarm.get("NewStateValue", "UNKNOWN"))
    lines = [
        f"{STATE_ICONS.get(state, ':grey_question:')} *{alarm['AlarmName']}* is {state}"
        f" (was {alarm.get('OldStateValue', '?')}) in {alarm.get('Region', '?')}",
        str(alarm.get("NewStateReason", "")),
    ]
    if alarm.get("AlarmDescription"):
        lines.append(f"_{alarm['AlarmDescription']}_")
    return {"text": "\n".join(line for line in lines if line)[:3000]}


def post(payload: dict[str, str]) -> None:
    """POST the payload; urlopen raises on a 4xx/5xx answer."""
    request = urllib.request.Request(
        webhook_url(),
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Post every SNS record of the event to Slack."""
    records = event.get("Records") or []
    for record in records:
        sns = record["Sns"]
        post(slack_message(sns.get("Subject"), sns.get("Message", "")))
        logger.info("posted %s to Slack", sns.get("MessageId"))
    return {"posted": len(records)}
