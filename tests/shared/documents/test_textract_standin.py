"""The Textract and DetectText stand-ins answer from the document, and refuse what AWS refuses;
the core's sync and async calls run against them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from scripts.localcloud.textract import TextractStandIn
from shared.documents import textract
from shared.documents.blocks import expense_document, parse_blocks
from shared.documents.inspect import inspect_document
from shared.documents.layout import analyse, parse_layout
from shared.documents.pdf import read_pdf
from shared.formats.samples import documents as samples
from tests.conftest import REGION
from tests.shared.documents.samples import invoice_page

STAGING = "staging-bucket"
TOPIC = "arn:aws:sns:us-east-1:123456789012:textract-done"
ROLE = "arn:aws:iam::123456789012:role/textract-publish"


@pytest.fixture
def standin(aws: None) -> Iterator[tuple[TextractStandIn, list[tuple[str, str]]]]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=STAGING)
    delivered: list[tuple[str, str]] = []

    def read(bucket: str, key: str) -> bytes:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    adapter = TextractStandIn(read, lambda topic, message: delivered.append((topic, message)))
    adapter.install()
    try:
        yield adapter, delivered
    finally:
        adapter.uninstall()


def _client(service: str = "textract") -> Any:
    return boto3.client(service, region_name=REGION)


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_analyze_document_answers_from_the_text_layer(standin: Any) -> None:
    pdf = samples.text_pdf([invoice_page()])
    answer = _client().analyze_document(Document={"Bytes": pdf}, FeatureTypes=["FORMS", "TABLES"])
    parsed = parse_blocks(answer["Blocks"])
    expected = parse_layout(analyse(read_pdf(pdf).pages[0].runs), 1)
    assert [line.text for line in parsed.lines] == [line.text for line in expected.lines]
    assert parsed.value("Invoice No") == "INV-1001"
    assert parsed.tables[0].rows() == expected.tables[0].rows()
    words = [b for b in answer["Blocks"] if b["BlockType"] == "WORD"]
    assert all(0 <= w["Geometry"]["BoundingBox"]["Left"] <= 1 for w in words)


def test_analyze_expense_on_a_scan_reads_the_drawn_text(standin: Any) -> None:
    jpeg = samples.scan([invoice_page()], "JPEG")
    answer = _client().analyze_expense(Document={"Bytes": jpeg})
    (expense,) = expense_document(answer["ExpenseDocuments"]).expenses
    assert expense.get("TOTAL").value == "115.50"  # type: ignore[union-attr]
    assert expense.get("INVOICE_RECEIPT_ID").value == "INV-1001"  # type: ignore[union-attr]
    assert [item.get("ITEM").value for item in expense.line_items] == ["Paper A4", "Toner"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ({"Bytes": samples.image_pdf([invoice_page(), invoice_page()])}, "UnsupportedDocumentException"),
        ({"Bytes": b"GIF89a" + b"\0" * 64}, "UnsupportedDocumentException"),
        ({"Bytes": samples.encrypted(samples.text_pdf([invoice_page()]))}, "UnsupportedDocumentException"),
        ({"Bytes": samples.zero_pages()}, "BadDocumentException"),
        ({"Bytes": b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024)}, "DocumentTooLargeException"),
        (
            {"S3Object": {"Bucket": "fsxn-ap-abcdefghijklmnopqrstuvwxyz12-s3alias", "Name": "a.pdf"}},
            "InvalidS3ObjectException",
        ),
        (
            {
                "S3Object": {
                    "Bucket": "arn:aws:s3:us-east-1:123456789012:accesspoint/fsxn-ap",
                    "Name": "a.pdf",
                }
            },
            "InvalidS3ObjectException",
        ),
    ],
)
def test_sync_calls_refuse_what_textract_refuses(standin: Any, document: dict[str, Any], code: str) -> None:
    with pytest.raises(ClientError) as error:
        _client().analyze_document(Document=document, FeatureTypes=["TABLES"])
    assert _code(error) == code


def test_analyze_document_needs_feature_types(standin: Any) -> None:
    with pytest.raises(ClientError) as error:
        _client().analyze_document(Document={"Bytes": samples.text_pdf([invoice_page()])}, FeatureTypes=[])
    assert _code(error) == "InvalidParameterException"


def test_sync_pages_split_a_mixed_pdf(standin: Any) -> None:
    pdf = samples.text_pdf([invoice_page(), invoice_page(), invoice_page()])
    info = inspect_document(pdf)
    parsed = textract.analyze_pages(_client(), pdf, info, [3], textract.ANALYSIS)
    assert parsed.pages == (3,) and parsed.tables[0].page == 3


def test_async_job_stages_notifies_pages_and_unstages(standin: Any) -> None:
    adapter, delivered = standin
    pages = [
        invoice_page(),
        samples.letter_page("Notes", ["A scanned page with a few words on it."]),
        invoice_page(),
    ]
    scan = samples.image_pdf(pages)
    info = inspect_document(scan)
    s3 = boto3.client("s3", region_name=REGION)
    staged = textract.stage(s3, scan, info, [2, 3], STAGING, "staged/v1/doc.pdf")
    assert inspect_document(s3.get_object(Bucket=STAGING, Key=staged.key)["Body"].read()).page_count == 2
    job_id = textract.start_job(
        _client(),
        staged,
        textract.ANALYSIS,
        topic_arn=TOPIC,
        role_arn=ROLE,
        job_tag="corr-1",
        request_token="t1",
    )
    assert _client().get_document_analysis(JobId=job_id)["JobStatus"] == "IN_PROGRESS"
    assert adapter.complete_pending()
    ((topic, message),) = delivered
    event = {"Records": [{"Sns": {"Message": message, "TopicArn": topic}}]}
    (note,) = textract.parse_notification(event)
    assert (note.job_id, note.status, note.job_tag, note.key) == (job_id, "SUCCEEDED", "corr-1", staged.key)
    first = _client().get_document_analysis(JobId=job_id, MaxResults=10)
    assert "NextToken" in first and len(first["Blocks"]) == 10
    parsed = textract.collect(_client(), job_id, textract.ANALYSIS, staged.page_map)
    assert parsed.pages == (2, 3)
    assert parsed.tables[0].page == 3 and "A scanned page with a few words on it." in parsed.text()
    textract.unstage(s3, staged)
    assert s3.list_objects_v2(Bucket=STAGING).get("KeyCount") == 0


def test_async_expense_and_a_failed_job(standin: Any) -> None:
    adapter, delivered = standin
    s3 = boto3.client("s3", region_name=REGION)
    tiff = samples.scan([invoice_page(), invoice_page()], "TIFF")
    staged = textract.stage(s3, tiff, inspect_document(tiff), [1, 2], STAGING, "t.tiff")
    job = textract.start_job(
        _client(), staged, textract.EXPENSE, topic_arn=TOPIC, role_arn=ROLE, job_tag="c2", request_token="a"
    )
    s3.put_object(Bucket=STAGING, Key="bad.pdf", Body=samples.zero_pages())
    bad = textract.start_job(
        _client(),
        textract.StagedDocument(STAGING, "bad.pdf", (1,)),
        textract.ANALYSIS,
        topic_arn=TOPIC,
        role_arn=ROLE,
        job_tag="c3",
        request_token="b",
    )
    adapter.complete_pending()
    assert [json.loads(m)["Status"] for _, m in delivered] == ["SUCCEEDED", "FAILED"]
    parsed = textract.collect(_client(), job, textract.EXPENSE)
    assert [e.get("TOTAL").value for e in parsed.expenses] == ["115.50", "115.50"]  # type: ignore[union-attr]
    with pytest.raises(textract.TextractJobError, match="FAILED"):
        textract.collect(_client(), bad, textract.ANALYSIS)
    with pytest.raises(ClientError) as error:
        _client().get_document_analysis(JobId="0" * 64)
    assert _code(error) == "InvalidJobIdException"


def test_async_start_refuses_an_access_point(standin: Any) -> None:
    with pytest.raises(ClientError) as error:
        _client().start_document_analysis(
            DocumentLocation={"S3Object": {"Bucket": "fsxn-ap-abc-s3alias", "Name": "x.pdf"}},
            FeatureTypes=["TABLES"],
        )
    assert _code(error) == "InvalidS3ObjectException"


def test_detect_text_reads_the_drawn_words_and_refuses_other_formats(standin: Any) -> None:
    png = samples.scan([[samples.Run("PARCEL 1Z999AA10123456784", 72, 72, 14)]], "PNG")
    answer = _client("rekognition").detect_text(Image={"Bytes": png})
    lines = [d["DetectedText"] for d in answer["TextDetections"] if d["Type"] == "LINE"]
    words = [d for d in answer["TextDetections"] if d["Type"] == "WORD"]
    assert lines == ["PARCEL 1Z999AA10123456784"] and [w["ParentId"] for w in words] == [0, 0]
    with pytest.raises(ClientError) as error:
        _client("rekognition").detect_text(Image={"Bytes": samples.scan([invoice_page()], "TIFF")})
    assert _code(error) == "InvalidImageFormatException"
