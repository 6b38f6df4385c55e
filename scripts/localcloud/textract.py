"""Local Textract (AnalyzeDocument, AnalyzeExpense, async analysis) and Rekognition DetectText.

moto has no AnalyzeDocument, AnalyzeExpense or StartDocumentAnalysis, and its DetectText answers
canned text. These stand-ins answer from what the document really says:

* a PDF page with a text layer: its text runs with their positions (pypdf);
* a scan (JPEG, PNG, TIFF frame, or a JPEG page inside a PDF): the record of the text the sample
  generator drew and stored in the image's metadata (``shared.formats.samples.documents``), with
  the pixel box of each run; a scan without a record reads as a blank page.

The runs are analysed with ``shared.documents.layout`` (key-values, tables, expense fields) and
written back as Textract's blocks: PAGE, LINE and WORD with real geometry, KEY_VALUE_SET pairs
(FORMS), TABLE and CELL (TABLES), and ExpenseDocuments with SummaryFields and LineItemGroups.

They reject what AWS rejects: a format other than PDF/TIFF/JPEG/PNG (UnsupportedDocumentException),
a synchronous call on more than one PDF/TIFF page, Bytes over 10 MB (DocumentTooLargeException),
an encrypted PDF, a broken file (BadDocumentException), dimensions over 40 in / 10,000 px, an
access point alias or ARN as ``S3Object`` (InvalidS3ObjectException: Textract reads buckets
only), a missing FeatureTypes (InvalidParameterException), an unknown JobId (InvalidJobIdException);
Rekognition DetectText refuses anything but JPEG/PNG and Bytes over 5 MB.

Async jobs stay ``IN_PROGRESS`` until :meth:`TextractStandIn.complete_pending` runs them (the local
cloud pumps it while a Step Functions execution waits); the job then publishes Textract's
completion message to its ``NotificationChannel`` topic through ``deliver`` (moto's SNS then
invokes the topic's Lambda subscribers). Get* results page with ``MaxResults`` and ``NextToken``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse

from scripts.localcloud import hooks
from shared.documents import errors as doc_errors
from shared.documents.inspect import JPEG, PDF, PNG, inspect_document
from shared.documents.layout import analyse, expense_from, parse_layout
from shared.documents.limits import MAX_INCHES, MAX_PIXELS, SYNC_MAX_BYTES, check_async
from shared.documents.pdf import TextRun

logger = logging.getLogger(__name__)

REKOGNITION_MAX_BYTES = 5 * 1024 * 1024
REKOGNITION_MAX_WORDS = 100
DEFAULT_MAX_BLOCKS = 1000
DEFAULT_MAX_EXPENSE_DOCS = 20
_ACCESS_POINT = re.compile(r"(-s3alias$|^arn:aws[a-z-]*:s3:[a-z0-9-]*:\d{12}:accesspoint/)")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:.+")
_PARAMS_KEY = "localcloud_textract_params"

Deliver = Callable[[str, str], None]


class StandInError(Exception):
    """An error the service would return: code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# -- reading runs ---------------------------------------------------------------------------------


def _runs_from_layout(pages: list[dict[str, Any]], first_page: int) -> list[list[TextRun]]:
    out = []
    for offset, page in enumerate(pages):
        width, height = float(page.get("width", 1)) or 1.0, float(page.get("height", 1)) or 1.0
        runs = []
        for run in page.get("runs", []):
            x, y, w, h = (float(v) for v in run["box"])
            runs.append(
                TextRun(
                    str(run["text"]), first_page + offset, x / width, y / height, w / width, h / height, h
                )
            )
        out.append(runs)
    return out


def _map_error(error: doc_errors.DocumentError) -> StandInError:
    if isinstance(error, doc_errors.UnsupportedFormatError | doc_errors.EncryptedDocumentError):
        return StandInError(
            "UnsupportedDocumentException", f"Request has unsupported document format: {error.reason}"
        )
    if isinstance(error, doc_errors.DocumentLimitError):
        if "size_bytes" in error.details:
            return StandInError("DocumentTooLargeException", error.reason)
        return StandInError("UnsupportedDocumentException", error.reason)
    return StandInError("BadDocumentException", f"Unable to read the document: {error.reason}")


def read_pages(data: bytes) -> tuple[str, list[list[TextRun]]]:
    """The format and each page's runs; typed document errors mapped to Textract's error codes."""
    from shared.formats.samples.documents import read_layout

    try:
        info = inspect_document(data)
        if info.format == PDF:
            from shared.documents.pdf import page_images, read_pdf

            pages: list[list[TextRun]] = []
            for page in read_pdf(data).pages:
                if page.runs:
                    pages.append(list(page.runs))
                    continue
                runs: list[TextRun] = []
                for image in page_images(data, page.number):
                    runs.extend(
                        r for p in _runs_from_layout(read_layout(image) or [], page.number) for r in p
                    )
                pages.append(runs)
            return info.format, pages
        layout = read_layout(data) or []
        runs_by_page = _runs_from_layout(layout, 1)
        while len(runs_by_page) < info.page_count:
            runs_by_page.append([])
        return info.format, runs_by_page[: info.page_count]
    except doc_errors.DocumentError as error:
        raise _map_error(error) from error


# -- blocks ---------------------------------------------------------------------------------------


def _confidence(text: str) -> float:
    return round(95.0 + hashlib.sha256(text.encode()).digest()[0] / 64.0, 3)


def _geometry(left: float, top: float, width: float, height: float) -> dict[str, Any]:
    return {
        "BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top},
        "Polygon": [
            {"X": left, "Y": top},
            {"X": left + width, "Y": top},
            {"X": left + width, "Y": top + height},
            {"X": left, "Y": top + height},
        ],
    }


class _BlockWriter:
    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.count = 0
        self.blocks: list[dict[str, Any]] = []
        self.words: dict[int, list[str]] = {}

    def new_id(self) -> str:
        self.count += 1
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.seed}/{self.count}"))

    def line(self, run: TextRun) -> str:
        words = run.text.split()
        total = max(1, len(run.text))
        ids, cursor = [], 0
        for word in words:
            start = run.text.index(word, cursor)
            cursor = start + len(word)
            word_id = self.new_id()
            ids.append(word_id)
            self.blocks.append(
                {
                    "BlockType": "WORD",
                    "Id": word_id,
                    "Text": word,
                    "TextType": "PRINTED",
                    "Confidence": _confidence(word),
                    "Page": run.page,
                    "Geometry": _geometry(
                        run.left + run.width * start / total,
                        run.top,
                        run.width * len(word) / total,
                        run.height,
                    ),
                }
            )
        self.words[id(run)] = ids
        line_id = self.new_id()
        self.blocks.append(
            {
                "BlockType": "LINE",
                "Id": line_id,
                "Text": run.text,
                "Confidence": _confidence(run.text),
                "Page": run.page,
                "Geometry": _geometry(run.left, run.top, run.width, run.height),
                "Relationships": [{"Type": "CHILD", "Ids": ids}],
            }
        )
        return line_id


def analysis_blocks(pages: list[list[TextRun]], features: list[str], seed: str) -> list[dict[str, Any]]:
    """PAGE, LINE, WORD and (by feature) KEY_VALUE_SET, TABLE and CELL blocks of every page."""
    writer = _BlockWriter(seed)
    for number, runs in enumerate(pages, start=1):
        page_id = writer.new_id()
        page_block: dict[str, Any] = {
            "BlockType": "PAGE",
            "Id": page_id,
            "Page": number,
            "Geometry": _geometry(0.0, 0.0, 1.0, 1.0),
        }
        writer.blocks.append(page_block)
        children = [writer.line(run) for run in runs]
        layout = analyse(runs)
        if "FORMS" in features:
            for key_run, value_run, _key, _value in layout.key_values:
                word_ids = writer.words[id(key_run)]
                words = key_run.text.split()
                split = next((i + 1 for i, w in enumerate(words) if ":" in w), len(words))
                key_ids, value_ids = word_ids[:split], word_ids[split:]
                if value_run is not None:
                    value_ids = writer.words[id(value_run)]
                key_id, value_id = writer.new_id(), writer.new_id()
                confidence = _confidence(key_run.text)
                writer.blocks.append(
                    {
                        "BlockType": "KEY_VALUE_SET",
                        "Id": key_id,
                        "EntityTypes": ["KEY"],
                        "Confidence": confidence,
                        "Page": number,
                        "Geometry": _geometry(key_run.left, key_run.top, key_run.width, key_run.height),
                        "Relationships": [
                            {"Type": "VALUE", "Ids": [value_id]},
                            {"Type": "CHILD", "Ids": key_ids},
                        ],
                    }
                )
                writer.blocks.append(
                    {
                        "BlockType": "KEY_VALUE_SET",
                        "Id": value_id,
                        "EntityTypes": ["VALUE"],
                        "Confidence": confidence,
                        "Page": number,
                        "Relationships": [{"Type": "CHILD", "Ids": value_ids}] if value_ids else [],
                    }
                )
                children.append(key_id)
        if "TABLES" in features:
            for cells in layout.tables:
                table_id = writer.new_id()
                by_position = {(r, c): run for r, c, run in cells}
                rows = max(r for r, _, _ in cells)
                columns = max(c for _, c, _ in cells)
                cell_ids = []
                table_conf = min(_confidence(run.text) for _, _, run in cells)
                for row in range(1, rows + 1):
                    for column in range(1, columns + 1):
                        run = by_position.get((row, column))
                        cell_id = writer.new_id()
                        cell_ids.append(cell_id)
                        cell: dict[str, Any] = {
                            "BlockType": "CELL",
                            "Id": cell_id,
                            "RowIndex": row,
                            "ColumnIndex": column,
                            "RowSpan": 1,
                            "ColumnSpan": 1,
                            "Confidence": _confidence(run.text) if run else table_conf,
                            "Page": number,
                        }
                        if run is not None:
                            cell["Geometry"] = _geometry(run.left, run.top, run.width, run.height)
                            cell["Relationships"] = [{"Type": "CHILD", "Ids": writer.words[id(run)]}]
                        if row == 1:
                            cell["EntityTypes"] = ["COLUMN_HEADER"]
                        writer.blocks.append(cell)
                writer.blocks.append(
                    {
                        "BlockType": "TABLE",
                        "Id": table_id,
                        "Confidence": table_conf,
                        "Page": number,
                        "Relationships": [{"Type": "CHILD", "Ids": cell_ids}],
                    }
                )
                children.append(table_id)
        page_block["Relationships"] = [{"Type": "CHILD", "Ids": children}] if children else []
    return writer.blocks


def _expense_field(
    kind: str, label: str, value: str, confidence: float, page: int, currency: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Type": {"Text": kind, "Confidence": confidence},
        "ValueDetection": {"Text": value, "Confidence": confidence},
        "PageNumber": page,
    }
    if label:
        out["LabelDetection"] = {"Text": label, "Confidence": confidence}
    if currency:
        out["Currency"] = {"Code": currency, "Confidence": confidence}
    return out


def expense_documents(pages: list[list[TextRun]], seed: str) -> list[dict[str, Any]]:
    """One ExpenseDocument per page that has text: summary fields, line items and the page's blocks."""
    out: list[dict[str, Any]] = []
    for number, runs in enumerate(pages, start=1):
        if not runs:
            continue
        parsed = parse_layout(analyse(runs), len(pages), confidence=_confidence(runs[0].text))
        expense = expense_from(parsed, len(out) + 1)
        out.append(
            {
                "ExpenseIndex": len(out) + 1,
                "SummaryFields": [
                    _expense_field(f.type, f.label, f.value, _confidence(f.value), number, f.currency)
                    for f in expense.summary
                ],
                "LineItemGroups": [
                    {
                        "LineItemGroupIndex": 1,
                        "LineItems": [
                            {
                                "LineItemExpenseFields": [
                                    _expense_field(
                                        f.type, f.label, f.value, _confidence(f.value), number, f.currency
                                    )
                                    for f in item.fields
                                ]
                            }
                            for item in expense.line_items
                        ],
                    }
                ]
                if expense.line_items
                else [],
                "Blocks": [
                    {**b, "Page": number}
                    for b in analysis_blocks([runs], [], f"{seed}/{number}")
                    if b["BlockType"] in {"LINE", "WORD"}
                ],
            }
        )
    return out


def detect_text(data: bytes) -> dict[str, Any]:
    """Rekognition DetectText: LINE and WORD detections (at most 100 words) with geometry."""
    _format, pages = read_pages(data)
    detections: list[dict[str, Any]] = []
    words = 0
    for run in pages[0] if pages else []:
        line_id = len(detections)
        run_words = run.text.split()
        if words + len(run_words) > REKOGNITION_MAX_WORDS:
            break
        detections.append(
            {
                "DetectedText": run.text,
                "Type": "LINE",
                "Id": line_id,
                "Confidence": _confidence(run.text),
                "Geometry": _geometry(run.left, run.top, run.width, run.height),
            }
        )
        total, cursor = max(1, len(run.text)), 0
        for word in run_words:
            start = run.text.index(word, cursor)
            cursor = start + len(word)
            detections.append(
                {
                    "DetectedText": word,
                    "Type": "WORD",
                    "Id": len(detections),
                    "ParentId": line_id,
                    "Confidence": _confidence(word),
                    "Geometry": _geometry(
                        run.left + run.width * start / total,
                        run.top,
                        run.width * len(word) / total,
                        run.height,
                    ),
                }
            )
            words += 1
    return {"TextDetections": detections, "TextModelVersion": "3.0"}


# -- the adapter ----------------------------------------------------------------------------------


@dataclass
class Job:
    job_id: str
    kind: str  # analysis | expense
    api: str
    bucket: str
    key: str
    features: list[str]
    topic_arn: str
    job_tag: str
    status: str = "IN_PROGRESS"
    message: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    expenses: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0


def _stash_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS_KEY] = params


class TextractStandIn:
    """Registers the Textract and Rekognition DetectText stand-ins on every botocore session."""

    OPERATIONS = (
        "textract.AnalyzeDocument",
        "textract.AnalyzeExpense",
        "textract.StartDocumentAnalysis",
        "textract.GetDocumentAnalysis",
        "textract.StartExpenseAnalysis",
        "textract.GetExpenseAnalysis",
        "rekognition.DetectText",
    )

    def __init__(self, read_s3: Callable[[str, str], bytes], deliver: Deliver | None = None) -> None:
        self.read_s3 = read_s3
        self.deliver = deliver
        self.calls: Counter[str] = Counter()
        self.jobs: dict[str, Job] = {}
        self.pending: list[str] = []
        self.notifications: list[dict[str, Any]] = []
        self._handlers: list[hooks.Hook] = []

    # -- inputs --

    def _s3_object(self, location: dict[str, Any]) -> tuple[str, str, bytes]:
        s3 = location.get("S3Object") or {}
        bucket, name = str(s3.get("Bucket", "")), str(s3.get("Name", ""))
        if not bucket or not name:
            raise StandInError("InvalidParameterException", "S3Object needs Bucket and Name")
        if _ACCESS_POINT.search(bucket):
            raise StandInError(
                "InvalidS3ObjectException",
                f"Unable to get object metadata from S3. Check object key, region and/or access permissions. "
                f"({bucket!r} is an access point; Textract reads only buckets)",
            )
        try:
            return bucket, name, self.read_s3(bucket, name)
        except Exception as error:  # any S3 failure reads as Textract's answer
            raise StandInError(
                "InvalidS3ObjectException",
                "Unable to get object metadata from S3. Check object key, region and/or access permissions.",
            ) from error

    def _sync_document(self, document: dict[str, Any]) -> bytes:
        if "Bytes" in document:
            data = bytes(document["Bytes"])
            if len(data) > SYNC_MAX_BYTES:
                raise StandInError("DocumentTooLargeException", f"Document size {len(data)} exceeds 10 MB")
        else:
            _, _, data = self._s3_object(document)
            if len(data) > SYNC_MAX_BYTES:
                raise StandInError("DocumentTooLargeException", f"S3 object size {len(data)} exceeds 10 MB")
        _, pages = read_pages(data)
        if len(pages) > 1:
            raise StandInError(
                "UnsupportedDocumentException",
                f"Request has unsupported document format: {len(pages)} pages; a synchronous call takes one",
            )
        self._check_dimensions(data)
        return data

    def _check_dimensions(self, data: bytes) -> None:
        info = inspect_document(data)
        for page in info.pages:
            if (
                max(page.width_in, page.height_in) > MAX_INCHES
                or max(page.width_px or 0, page.height_px or 0) > MAX_PIXELS
            ):
                raise StandInError(
                    "UnsupportedDocumentException", "Document dimensions exceed 40 in or 10000 px"
                )

    @staticmethod
    def _features(params: dict[str, Any]) -> list[str]:
        features = list(params.get("FeatureTypes") or [])
        if not features:
            raise StandInError("InvalidParameterException", "FeatureTypes must contain at least one feature")
        unknown = set(features) - {"FORMS", "TABLES", "QUERIES", "SIGNATURES", "LAYOUT"}
        if unknown:
            raise StandInError("InvalidParameterException", f"unknown FeatureTypes {sorted(unknown)}")
        return features

    # -- operations --

    def analyze_document(self, params: dict[str, Any]) -> dict[str, Any]:
        features = self._features(params)
        data = self._sync_document(params.get("Document") or {})
        _, pages = read_pages(data)
        seed = hashlib.sha256(data).hexdigest()
        return {
            "DocumentMetadata": {"Pages": len(pages)},
            "Blocks": analysis_blocks(pages, features, seed),
            "AnalyzeDocumentModelVersion": "1.0-local",
        }

    def analyze_expense(self, params: dict[str, Any]) -> dict[str, Any]:
        data = self._sync_document(params.get("Document") or {})
        _, pages = read_pages(data)
        return {
            "DocumentMetadata": {"Pages": len(pages)},
            "ExpenseDocuments": expense_documents(pages, hashlib.sha256(data).hexdigest()),
        }

    def start(self, params: dict[str, Any], kind: str, api: str) -> dict[str, Any]:
        features = self._features(params) if kind == "analysis" else []
        bucket, name, _data = self._s3_object(params.get("DocumentLocation") or {})
        channel = params.get("NotificationChannel") or {}
        topic = str(channel.get("SNSTopicArn", ""))
        if channel and (not _TOPIC_ARN.match(topic) or not _ROLE_ARN.match(str(channel.get("RoleArn", "")))):
            raise StandInError(
                "InvalidParameterException", "NotificationChannel needs an SNS topic ARN and a role ARN"
            )
        tag = str(params.get("JobTag", ""))
        if tag and not re.match(r"^[a-zA-Z0-9_.\-:]{1,64}$", tag):
            raise StandInError("InvalidParameterException", "JobTag must match [a-zA-Z0-9_.\\-:]+ (1-64)")
        job_id = hashlib.sha256(
            f"{bucket}/{name}/{params.get('ClientRequestToken') or uuid.uuid4()}".encode()
        ).hexdigest()
        if job_id not in self.jobs:
            self.jobs[job_id] = Job(job_id, kind, api, bucket, name, features, topic, tag)
            self.pending.append(job_id)
        return {"JobId": job_id}

    def _run(self, job: Job) -> None:
        try:
            data = self.read_s3(job.bucket, job.key)
            info = inspect_document(data)
            check_async(info)
            if info.format in (JPEG, PNG) and info.size_bytes > SYNC_MAX_BYTES:
                raise StandInError("DocumentTooLargeException", "image over 10 MB")
            _, pages = read_pages(data)
            seed = hashlib.sha256(data).hexdigest()
            job.pages = len(pages)
            if job.kind == "expense":
                job.expenses = expense_documents(pages, seed)
            else:
                job.blocks = analysis_blocks(pages, job.features, seed)
            job.status = "SUCCEEDED"
        except doc_errors.DocumentError as error:
            job.status, job.message = "FAILED", _map_error(error).message
        except StandInError as error:
            job.status, job.message = "FAILED", error.message
        except Exception as error:  # noqa: BLE001 - the staged object vanished, and the like
            job.status, job.message = "FAILED", f"Unable to read the staged object: {error}"

    def complete_pending(self) -> bool:
        """Run every queued job and publish its completion message; True if any ran."""
        ran = False
        while self.pending:
            job = self.jobs[self.pending.pop(0)]
            self._run(job)
            ran = True
            message = {
                "JobId": job.job_id,
                "Status": job.status,
                "API": job.api,
                "JobTag": job.job_tag,
                "Timestamp": int(time.time() * 1000),
                "DocumentLocation": {"S3ObjectName": job.key, "S3Bucket": job.bucket},
            }
            self.notifications.append(message)
            if job.topic_arn and self.deliver is not None:
                self.deliver(job.topic_arn, json.dumps(message))
        return ran

    def get(self, params: dict[str, Any], kind: str) -> dict[str, Any]:
        job = self.jobs.get(str(params.get("JobId", "")))
        if job is None or job.kind != kind:
            raise StandInError("InvalidJobIdException", f"Unknown JobId {params.get('JobId')!r}")
        answer: dict[str, Any] = {"JobStatus": job.status, "DocumentMetadata": {"Pages": job.pages}}
        if job.status == "FAILED":
            answer["StatusMessage"] = job.message
        if job.status != "SUCCEEDED":
            return answer
        items = job.expenses if kind == "expense" else job.blocks
        default = DEFAULT_MAX_EXPENSE_DOCS if kind == "expense" else DEFAULT_MAX_BLOCKS
        size = int(params.get("MaxResults") or default)
        if not 1 <= size <= default:
            raise StandInError("InvalidParameterException", f"MaxResults must be 1-{default}")
        token = str(params.get("NextToken") or "")
        start = 0
        if token:
            prefix, _, offset = token.rpartition(":")
            if prefix != job.job_id or not offset.isdigit():
                raise StandInError("InvalidParameterException", "invalid NextToken")
            start = int(offset)
        answer["ExpenseDocuments" if kind == "expense" else "Blocks"] = items[start : start + size]
        if start + size < len(items):
            answer["NextToken"] = f"{job.job_id}:{start + size}"
        if kind == "analysis":
            answer["AnalyzeDocumentModelVersion"] = "1.0-local"
        return answer

    def detect_text(self, params: dict[str, Any]) -> dict[str, Any]:
        image = params.get("Image") or {}
        if "Bytes" in image:
            data = bytes(image["Bytes"])
            if len(data) > REKOGNITION_MAX_BYTES:
                raise StandInError("ImageTooLargeException", f"Image size {len(data)} exceeds 5 MB for Bytes")
        else:
            _, _, data = self._s3_object(image)
        try:
            fmt = inspect_document(data).format
        except doc_errors.DocumentError as error:
            raise StandInError(
                "InvalidImageFormatException", f"Request has invalid image format: {error.reason}"
            ) from error
        if fmt not in (JPEG, PNG):
            raise StandInError(
                "InvalidImageFormatException", "Request has invalid image format: JPEG or PNG only"
            )
        return detect_text(data)

    def answer(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "textract.AnalyzeDocument":
            return self.analyze_document(params)
        if operation == "textract.AnalyzeExpense":
            return self.analyze_expense(params)
        if operation == "textract.StartDocumentAnalysis":
            return self.start(params, "analysis", "StartDocumentAnalysis")
        if operation == "textract.StartExpenseAnalysis":
            return self.start(params, "expense", "StartExpenseAnalysis")
        if operation == "textract.GetDocumentAnalysis":
            return self.get(params, "analysis")
        if operation == "textract.GetExpenseAnalysis":
            return self.get(params, "expense")
        if operation == "rekognition.DetectText":
            return self.detect_text(params)
        raise KeyError(operation)

    def _make_handler(self, operation: str) -> Callable[..., Any]:
        def before_call(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            self.calls[operation] += 1
            meta = {"HTTPStatusCode": 200, "RequestId": str(uuid.uuid4()), "HTTPHeaders": {}}
            try:
                parsed = self.answer(operation, context.get(_PARAMS_KEY, {}))
            except StandInError as error:
                meta["HTTPStatusCode"] = 400
                parsed = {"Error": {"Code": error.code, "Message": error.message}, "ResponseMetadata": meta}
                return AWSResponse("https://local.stand-in", 400, {}, None), parsed
            parsed["ResponseMetadata"] = meta
            return AWSResponse("https://local.stand-in", 200, {}, None), parsed

        return before_call

    def install(self) -> None:
        self._handlers.extend(hooks.hooks_for("", self.OPERATIONS, _stash_params, self._make_handler))
        hooks.install(self._handlers)

    def uninstall(self) -> None:
        hooks.uninstall(self._handlers)


def sns_delivery(session: Any, region: str) -> Deliver:
    """Publish the completion message to the job's topic; moto's SNS hands it to the topic's Lambda
    subscribers (through the local runtime), as SNS does."""

    def deliver(topic_arn: str, message: str) -> None:
        session.client("sns", region_name=region).publish(TopicArn=topic_arn, Message=message)

    return deliver
