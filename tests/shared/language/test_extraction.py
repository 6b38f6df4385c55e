"""Structured extraction: schema-validated Converse answers, one retry, then a typed failure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.errors import error_result
from shared.language.extraction import (
    DocumentSchema,
    ExtractionError,
    SchemaDefinitionError,
    StructuredExtractor,
    bedrock_resource_arns,
    is_inference_profile,
    parse_json_reply,
)
from shared.polling.errors import TransientServiceError

INVOICE = DocumentSchema(
    "invoice",
    {
        "type": "object",
        "properties": {
            "vendor": {"type": "string", "minLength": 1},
            "invoice_number": {"type": "string", "pattern": "^INV-[0-9]+$"},
            "issue_date": {"type": "string", "format": "date"},
            "currency": {"type": "string", "enum": ["USD", "EUR", "JPY"]},
            "total": {"type": "number"},
            "line_items": {"type": "array", "items": {"type": "string"}},
            "po_number": {"type": ["string", "null"]},
        },
        "required": ["vendor", "invoice_number", "currency", "total"],
        "additionalProperties": False,
    },
    instructions="Amounts are numbers without currency symbols.",
)
TEXT = (
    "Vendor: Acme Widgets Ltd\nInvoice number: INV-20418\nIssued 2026-03-14, payable in EUR.\n"
    "Total: 1,250.00\nLine items: bolts; nuts; washers\n"
)
MODEL = "us.amazon.nova-lite-v1:0"


class ScriptedClient:
    """Converse replies from a list, recording every request."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []

    def converse(self, **params: Any) -> dict[str, Any]:
        self.requests.append(params)
        text = self.replies.pop(0)
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "usage": {"inputTokens": 10, "outputTokens": 5},
        }


def test_stand_in_answers_valid_json_from_the_document(converse_client: Any) -> None:
    extraction = StructuredExtractor(MODEL, converse_client).extract(INVOICE, TEXT)
    assert extraction.attempts == 1
    assert extraction.data["vendor"] == "Acme Widgets Ltd"
    assert extraction.data["invoice_number"] == "INV-20418"
    assert extraction.data["currency"] == "EUR"
    assert extraction.data["issue_date"] == "2026-03-14"
    assert extraction.data["line_items"] == ["bolts", "nuts", "washers"]
    assert INVOICE.errors(extraction.data) == []


def test_invalid_json_once_is_retried_with_the_errors(converse_client: Any) -> None:
    extraction = StructuredExtractor(MODEL, converse_client).extract(
        INVOICE, TEXT + "[stand-in: invalid-json-once]"
    )
    assert extraction.attempts == 2
    assert extraction.retried_for and "not valid JSON" in extraction.retried_for[0]


def test_retry_sends_the_previous_answer_and_the_validation_errors() -> None:
    bad = json.dumps({"vendor": "Acme", "invoice_number": "20418", "currency": "EUR", "total": 5})
    good = json.dumps({"vendor": "Acme", "invoice_number": "INV-20418", "currency": "EUR", "total": 5})
    client = ScriptedClient(bad, f"```json\n{good}\n```")
    extraction = StructuredExtractor(MODEL, client).extract(INVOICE, TEXT)
    assert extraction.data["invoice_number"] == "INV-20418"
    assert extraction.usage == {"inputTokens": 20, "outputTokens": 10}
    retry = client.requests[1]["messages"]
    assert [m["role"] for m in retry] == ["user", "assistant", "user"]
    assert retry[1]["content"][0]["text"] == bad
    assert "/invoice_number: '20418' does not match" in retry[2]["content"][0]["text"]
    assert client.requests[0]["modelId"] == MODEL
    assert "JSON Schema" in client.requests[0]["system"][0]["text"]


@pytest.mark.parametrize("marker", ["[stand-in: invalid-json]", "[stand-in: schema-violation]"])
def test_two_invalid_answers_become_a_typed_failure(converse_client: Any, marker: str) -> None:
    extractor = StructuredExtractor(MODEL, converse_client)
    with pytest.raises(ExtractionError) as raised:
        extractor.extract(INVOICE, TEXT + marker)
    assert extractor.calls == 2
    result = error_result(raised.value, key="in/invoice.pdf")
    assert result["status"] == "FAILED"
    assert "did not follow the invoice schema after 2 attempts" in result["reason"]
    assert result["errors"]


def test_empty_text_fails_without_a_call() -> None:
    client = ScriptedClient()
    with pytest.raises(ExtractionError, match="no text"):
        StructuredExtractor(MODEL, client).extract(INVOICE, "  ")
    assert client.requests == []


def test_throttling_is_transient() -> None:
    from botocore.exceptions import ClientError

    class Throttled:
        def converse(self, **_: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "Converse")

    with pytest.raises(TransientServiceError):
        StructuredExtractor(MODEL, Throttled()).extract(INVOICE, TEXT)


def test_a_broken_schema_is_a_programming_error() -> None:
    with pytest.raises(SchemaDefinitionError):
        DocumentSchema("bad", {"type": "object", "properties": {"x": {"type": "nonsense"}}})
    with pytest.raises(SchemaDefinitionError, match="must describe an object"):
        DocumentSchema("list", {"type": "array"})


def test_parse_json_reply_forms() -> None:
    assert parse_json_reply('{"a": 1}') == {"a": 1}
    assert parse_json_reply('Here it is:\n```json\n{"a": 2}\n```') == {"a": 2}
    assert parse_json_reply('Sure. {"a": 3} Done.') == {"a": 3}
    with pytest.raises(ValueError, match="no JSON object"):
        parse_json_reply("nothing here")


def test_iam_resources_for_a_foundation_model_and_an_inference_profile() -> None:
    assert not is_inference_profile("amazon.nova-lite-v1:0")
    assert is_inference_profile(MODEL)
    assert bedrock_resource_arns("amazon.nova-lite-v1:0", region="us-east-1", account_id="1") == [
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"
    ]
    assert bedrock_resource_arns(
        MODEL, region="us-east-1", account_id="123456789012", destination_regions=("us-east-1", "us-west-2")
    ) == [
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
        "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-lite-v1:0",
    ]
    profile_arn = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku"
    assert bedrock_resource_arns(profile_arn, region="eu-west-1", account_id="123456789012")[1] == (
        "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-haiku"
    )
