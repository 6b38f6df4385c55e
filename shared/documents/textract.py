"""Textract calls: synchronous one page at a time on bytes, asynchronous on a staged copy.

Synchronous (:func:`analyze_pages`): each page that needs OCR is sent alone, as bytes
(``Document.Bytes``): a PDF page is split out with pypdf first, since a synchronous call accepts
one PDF/TIFF page. The answer's page 1 is put back at its place in the document.

Asynchronous (a multi-page scan, or over 10 MB): Textract cannot read an FSx access point, so
:func:`stage` writes the pages that need OCR to a staging bucket in the same region (a PDF of
just those pages, with the page map kept); :func:`start_job` starts ``StartDocumentAnalysis`` or
``StartExpenseAnalysis`` with an SNS ``NotificationChannel`` and a ``JobTag`` that carries the
task-token correlation id (:mod:`shared.tasktokens`), so the state machine waits with
``.waitForTaskToken`` as UC9 does; :func:`parse_notification` reads the SNS message in the
callback; :func:`collect` pages the results with ``NextToken`` and :func:`unstage` deletes the
staged copy.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.documents.blocks import expense_document, parse_blocks
from shared.documents.errors import DocumentError
from shared.documents.inspect import PDF, DocumentInfo
from shared.documents.limits import check_sync
from shared.documents.model import ParsedDocument, merge

logger = logging.getLogger(__name__)

ANALYSIS = "analysis"
EXPENSE = "expense"
KINDS = (ANALYSIS, EXPENSE)
DEFAULT_FEATURES = ("FORMS", "TABLES")
JOB_TAG_PATTERN = re.compile(r"^[a-zA-Z0-9_.\-:]{1,64}$")
SUCCEEDED = "SUCCEEDED"


class TextractJobError(DocumentError):
    """An asynchronous job failed, or its notification cannot be read."""


@dataclass(frozen=True)
class StagedDocument:
    """The staged copy of the pages an async job reads; ``page_map[i]`` is staged page i+1's number."""

    bucket: str
    key: str
    page_map: tuple[int, ...]


@dataclass(frozen=True)
class JobNotification:
    """Textract's SNS completion message."""

    job_id: str
    status: str
    api: str
    job_tag: str
    bucket: str
    key: str


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")


def analyze_bytes(
    client: Any, data: bytes, kind: str, page_number: int = 1, features: Sequence[str] = DEFAULT_FEATURES
) -> ParsedDocument:
    """One synchronous call on one page's bytes; the result renumbered to ``page_number``."""
    _check_kind(kind)
    if kind == EXPENSE:
        answer = client.analyze_expense(Document={"Bytes": data})
        return expense_document(answer.get("ExpenseDocuments", []), page_offset=page_number - 1)
    answer = client.analyze_document(Document={"Bytes": data}, FeatureTypes=list(features))
    return parse_blocks(answer.get("Blocks", []), page_offset=page_number - 1, page_count=page_number)


def analyze_pages(
    client: Any,
    data: bytes,
    info: DocumentInfo,
    pages: Sequence[int],
    kind: str,
    features: Sequence[str] = DEFAULT_FEATURES,
) -> ParsedDocument:
    """Synchronous calls, one page at a time (PDF pages split out), each checked before the call."""
    from shared.documents.inspect import inspect_document
    from shared.documents.pdf import page_bytes

    results = []
    for number in pages:
        body = page_bytes(data, number) if info.format == PDF and info.page_count > 1 else data
        check_sync(inspect_document(body) if body is not data else info)
        results.append(analyze_bytes(client, body, kind, number, features))
    return merge(results)


def stage(
    s3: Any, data: bytes, info: DocumentInfo, pages: Sequence[int], bucket: str, key: str
) -> StagedDocument:
    """Write the pages that need OCR to the staging bucket (KMS-encrypted by the bucket's default)."""
    from shared.documents.pdf import split_pages

    page_map = tuple(pages)
    body = data
    if info.format == PDF and list(page_map) != list(range(1, info.page_count + 1)):
        body = split_pages(data, list(page_map))
    elif info.format != PDF:
        page_map = tuple(range(1, info.page_count + 1))
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=info.content_type)
    return StagedDocument(bucket, key, page_map)


def unstage(s3: Any, staged: StagedDocument) -> None:
    """Delete the staged copy (every version the bucket keeps of it is left to its lifecycle)."""
    s3.delete_object(Bucket=staged.bucket, Key=staged.key)


def start_job(
    client: Any,
    staged: StagedDocument,
    kind: str,
    *,
    topic_arn: str,
    role_arn: str,
    job_tag: str,
    request_token: str,
    features: Sequence[str] = DEFAULT_FEATURES,
    kms_key_id: str = "",
) -> str:
    """Start the asynchronous job on the staged copy; returns the JobId."""
    _check_kind(kind)
    if not JOB_TAG_PATTERN.match(job_tag):
        raise ValueError(f"invalid JobTag {job_tag!r}: 1-64 of [a-zA-Z0-9_.-:]")
    args: dict[str, Any] = {
        "DocumentLocation": {"S3Object": {"Bucket": staged.bucket, "Name": staged.key}},
        "NotificationChannel": {"SNSTopicArn": topic_arn, "RoleArn": role_arn},
        "JobTag": job_tag,
        "ClientRequestToken": request_token[:64],
    }
    if kms_key_id:
        args["KMSKeyId"] = kms_key_id
    if kind == EXPENSE:
        return str(client.start_expense_analysis(**args)["JobId"])
    return str(client.start_document_analysis(FeatureTypes=list(features), **args)["JobId"])


def parse_notification(event: Mapping[str, Any]) -> list[JobNotification]:
    """The Textract completion messages in an SNS event delivered to Lambda."""
    out = []
    for record in event.get("Records", []):
        raw = record.get("Sns", {}).get("Message", "")
        try:
            message = json.loads(raw)
            location = message.get("DocumentLocation", {})
            out.append(
                JobNotification(
                    job_id=str(message["JobId"]),
                    status=str(message["Status"]),
                    api=str(message.get("API", "")),
                    job_tag=str(message.get("JobTag", "")),
                    bucket=str(location.get("S3Bucket", "")),
                    key=str(location.get("S3ObjectName", "")),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise TextractJobError(f"not a Textract completion message: {error}") from error
    return out


def _renumber(document: ParsedDocument, page_map: Sequence[int]) -> ParsedDocument:
    from dataclasses import replace

    def to(page: int) -> int:
        return page_map[page - 1] if 1 <= page <= len(page_map) else page

    return ParsedDocument(
        document.source,
        max(page_map, default=document.page_count),
        tuple(replace(x, page=to(x.page)) for x in document.lines),
        tuple(replace(x, page=to(x.page)) for x in document.key_values),
        tuple(
            replace(t, page=to(t.page), cells=tuple(replace(c, page=to(c.page)) for c in t.cells))
            for t in document.tables
        ),
        tuple(
            replace(
                e,
                summary=tuple(replace(f, page=to(f.page)) for f in e.summary),
                line_items=tuple(
                    replace(i, page=to(i.page), fields=tuple(replace(f, page=to(f.page)) for f in i.fields))
                    for i in e.line_items
                ),
            )
            for e in document.expenses
        ),
        tuple(sorted({to(p) for p in document.pages})),
    )


def collect(client: Any, job_id: str, kind: str, page_map: Sequence[int] = ()) -> ParsedDocument:
    """Every page of a finished job's results, following ``NextToken``; pages mapped back."""
    _check_kind(kind)
    blocks: list[Mapping[str, Any]] = []
    expenses: list[Mapping[str, Any]] = []
    token: str | None = None
    calls = 0
    while True:
        args: dict[str, Any] = {"JobId": job_id}
        if token:
            args["NextToken"] = token
        if kind == EXPENSE:
            page = client.get_expense_analysis(**args)
            expenses.extend(page.get("ExpenseDocuments", []))
        else:
            page = client.get_document_analysis(**args)
            blocks.extend(page.get("Blocks", []))
        calls += 1
        status = page.get("JobStatus")
        if status not in (SUCCEEDED, "PARTIAL_SUCCESS"):
            raise TextractJobError(
                f"Textract job {job_id} is {status}: {page.get('StatusMessage', 'no status message')}",
                job_id=job_id,
                status=status,
            )
        token = page.get("NextToken")
        if not token:
            break
    logger.info("collected Textract job %s in %d page(s) of results", job_id, calls)
    pages = int(page.get("DocumentMetadata", {}).get("Pages", 0))
    parsed = expense_document(expenses) if kind == EXPENSE else parse_blocks(blocks, page_count=pages)
    return _renumber(parsed, page_map) if page_map else parsed


class Classified:
    """A Textract client whose errors are sorted by :func:`shared.polling.aws.call`.

    Throttling becomes ``TransientServiceError`` (retried); a refusal of the document itself
    becomes ``FileRejectedError`` (a FAILED result naming Textract's code); anything else, such as
    access denied, propagates unchanged.
    """

    PER_FILE_CODES = frozenset(
        {
            "UnsupportedDocumentException",
            "BadDocumentException",
            "DocumentTooLargeException",
            "InvalidS3ObjectException",
        }
    )

    def __init__(self, client: Any, service: str = "textract") -> None:
        self._client = client
        self._service = service

    def __getattr__(self, name: str) -> Any:
        from shared.polling.aws import call

        fn = getattr(self._client, name)

        def invoke(**kwargs: Any) -> Any:
            return call(self._service, name, fn, per_item_codes=self.PER_FILE_CODES, **kwargs)

        return invoke
