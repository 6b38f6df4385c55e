"""One shipping document or photo version: inspect, read, extract the record, check it, write it.

:func:`process_file` is the per-file step of the pipeline (and of the streaming consumer). It reads
the version the manifest names (``If-Match`` on its ETag) and inspects its bytes
(:mod:`shared.documents.inspect`: the format comes from the bytes, never the folder; a broken,
encrypted or mislabelled file is a FAILED result naming what is wrong). Then, by format:

* **PDF** (waybills, packing lists): pages with a usable text layer skip OCR (the reason recorded)
  and are read through the layout analysis; the others go to Textract ``AnalyzeDocument`` (FORMS,
  TABLES), synchronously, one page at a time on bytes (at most :data:`MAX_OCR_PAGES` pages: a
  shipping document is short; a longer scan is a FAILED result with that reason);
* **JPEG/PNG** (label and inventory photos): Rekognition ``DetectText`` on bytes, the picture
  scaled down first when it is over Rekognition's 5 MB (:func:`fit_for_rekognition`);
* **TIFF**: Textract on bytes (one frame; a multi-frame TIFF breaks the synchronous limit).

The record (:mod:`logistics_ocr.records`) comes from the label rules; a document they cannot fill
goes to Bedrock Converse with the shipment schema (:mod:`shared.language.extraction`: validated,
one retry with the errors, then a FAILED result with the reason). Inventory photos instead count
the labels they show for their location (from the key path). Findings (check digits, units,
pieces) go into the version-keyed result. Logs carry keys, counts and statuses, never a name, an
address or any other document text.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Mapping
from typing import Any

from logistics_ocr.checkdigits import S10, find_identifiers
from logistics_ocr.records import (
    FAIL,
    INVENTORY,
    PASS,
    Finding,
    classify,
    findings,
    inventory_location,
    key_values_of,
    key_values_of_lines,
    needs_review,
    record_from_model,
    rule_record,
    shipment_schema,
)
from shared.config import env
from shared.documents.errors import DocumentError, DocumentLimitError
from shared.documents.inspect import JPEG, PDF, PNG, DocumentInfo, inspect_document
from shared.documents.model import ParsedDocument, merge
from shared.errors import FAILED, SUCCEEDED, PatternError
from shared.polling.errors import FileRejectedError
from shared.polling.results import result_document, write_result
from shared.polling.settings import PollingConfig
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

SUFFIXES = (".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png")
MB = 1024 * 1024
REKOGNITION_MAX_BYTES = 5 * MB
MAX_OCR_PAGES = 10
# Rekognition refusing the picture itself: a FAILED result naming the code, not a retry.
REKOGNITION_PER_FILE_CODES = frozenset({"InvalidImageFormatException", "ImageTooLargeException"})
TEXT_LAYER, TEXTRACT, REKOGNITION = "text-layer", "textract", "rekognition"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProcessConfig(PollingConfig):
    max_document_mib: int = env("MAX_DOCUMENT_MIB", 50)
    model_id: str = env("MODEL_ID", "amazon.nova-lite-v1:0")
    textract_region: str = env("TEXTRACT_REGION", "")


@dataclasses.dataclass(frozen=True)
class SourceFile:
    key: str
    etag: str
    size: int
    last_modified: str = ""

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> SourceFile:
        return cls(
            str(event["key"]), str(event["etag"]), int(event["size"]), str(event.get("last_modified", ""))
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Services:
    """The clients the step calls (made once per cold start by the handler)."""

    textract: Any  # shared.documents.textract.Classified: a refused page is a FileRejectedError
    rekognition: Any
    extractor: Any  # shared.language.extraction.StructuredExtractor


@dataclasses.dataclass
class Reading:
    info: DocumentInfo
    reader: str
    lines: list[str]
    pairs: dict[str, str]
    document: ParsedDocument | None
    decisions: list[dict[str, Any]]
    calls: int


def fit_for_rekognition(data: bytes, max_bytes: int = REKOGNITION_MAX_BYTES) -> bytes:
    """The picture as JPEG bytes under ``max_bytes`` (unchanged when already under), scaled down.

    The image's text comment (JPEG COM, PNG text) is carried over into the JPEG comment.
    """
    if len(data) <= max_bytes:
        return data
    from PIL import Image

    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB") if opened.mode not in ("L", "RGB") else opened.copy()
        comment = opened.info.get("comment") or opened.info.get("textlayout") or b""
    comment_bytes = comment.encode() if isinstance(comment, str) else comment
    quality, scale = 90, 1.0
    while True:
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        out = io.BytesIO()
        image.resize(size).save(out, "JPEG", quality=quality, comment=comment_bytes)
        if out.tell() <= max_bytes:
            return out.getvalue()
        quality, scale = max(60, quality - 10), scale * 0.8


def _detect_text(rekognition: Any, data: bytes) -> list[str]:
    from shared.polling import aws

    answer = aws.call(
        "rekognition",
        "DetectText",
        rekognition.detect_text,
        per_item_codes=REKOGNITION_PER_FILE_CODES,
        Image={"Bytes": fit_for_rekognition(data)},
    )
    return [str(d["DetectedText"]) for d in answer.get("TextDetections", []) if d.get("Type") == "LINE"]


def read(data: bytes, key: str, services: Services) -> Reading:
    """The text, key-values and tables, through the cheapest reader that can (typed errors raise)."""
    info = inspect_document(data, key)
    if info.format in (JPEG, PNG):
        lines = _detect_text(services.rekognition, data)
        photo = [
            {"page": 1, "skip_ocr": False, "reason": f"{info.format.upper()} photo: Rekognition DetectText"}
        ]
        return Reading(info, REKOGNITION, lines, key_values_of_lines(lines), None, photo, 1)
    from shared.documents.limits import check_dimensions
    from shared.documents.textract import ANALYSIS, analyze_pages

    check_dimensions(info)
    parts: list[ParsedDocument] = []
    decisions: list[dict[str, Any]] = []
    ocr_pages: tuple[int, ...] = tuple(range(1, info.page_count + 1))
    if info.format == PDF:
        from shared.documents.layout import analyse, parse_layout
        from shared.documents.pdf import ocr_decision, read_pdf

        pdf = read_pdf(data)
        judged = [ocr_decision(page) for page in pdf.pages]
        decisions = [{"page": d.page, "skip_ocr": d.skip_ocr, "reason": d.reason} for d in judged]
        ocr_pages = tuple(d.page for d in judged if not d.skip_ocr)
        runs = [run for page in pdf.pages if page.number not in ocr_pages for run in page.runs]
        if runs:
            parts.append(parse_layout(analyse(runs), info.page_count))
    if len(ocr_pages) > MAX_OCR_PAGES:
        raise DocumentLimitError(
            f"{len(ocr_pages)} pages need OCR; this step reads at most {MAX_OCR_PAGES} page by page",
            pages=len(ocr_pages),
        )
    if ocr_pages:
        parts.append(analyze_pages(services.textract, data, info, ocr_pages, ANALYSIS))
    document = merge(parts)
    reader = TEXTRACT if ocr_pages else TEXT_LAYER
    lines = [line.text for line in document.lines]
    return Reading(info, reader, lines, key_values_of(document), document, decisions, len(ocr_pages))


def _inventory(reading: Reading, key: str) -> tuple[dict[str, Any], list[Finding]]:
    idents = find_identifiers("\n".join(reading.lines))
    labels = sorted({i.value for i in idents})
    invalid = sorted({i.value for i in idents if not i.valid})
    section = {
        "location": inventory_location(key),
        "label_count": len(labels),
        "labels": labels,
        "invalid_labels": invalid,
    }
    found = (
        [
            Finding(
                "s10_check_digit",
                FAIL,
                f"{len(invalid)} label(s) with a wrong check digit: {', '.join(invalid)}",
            )
            if invalid
            else Finding("s10_check_digit", PASS, f"{len(labels)} label(s), every check digit holds")
        ]
        if any(i.scheme == S10 for i in idents)
        else []
    )
    return section, found


def process_file(
    source: S3AccessPoint,
    output: S3AccessPoint,
    file: SourceFile,
    *,
    run_id: str,
    services: Services,
    max_bytes: int,
) -> dict[str, Any]:
    """The per-file step (see the module docstring); returns the step's summary."""
    if file.size > max_bytes:
        error = DocumentLimitError(
            f"{file.size} bytes is over this stack's MaxDocumentMiB ({max_bytes // MB} MiB)"
        )
        return fail(output, file, run_id=run_id, source=source.target, error=error)
    data = source.get_bytes(file.key, if_match=file.etag, max_bytes=max_bytes)
    try:
        reading = read(data, file.key, services)
    except (DocumentError, FileRejectedError) as error:  # the file as it is, or the service refusing it
        return fail(output, file, run_id=run_id, source=source.target, error=error)
    image = reading.info.format in (JPEG, PNG)
    doc_type, why = classify("\n".join(reading.lines), file.key, image)
    sections: dict[str, Any] = {
        "run_id": run_id,
        "document": {
            "type": doc_type,
            "classified_by": why,
            "format": reading.info.format,
            "pages": reading.info.page_count,
            "size_bytes": reading.info.size_bytes,
        },
        "ocr": {
            "reader": reading.reader,
            "calls": reading.calls,
            "pages_skipping_ocr": sum(1 for d in reading.decisions if d["skip_ocr"]),
            "decisions": reading.decisions,
        },
    }
    if doc_type == INVENTORY:
        sections["inventory"], found = _inventory(reading, file.key)
        sections["extracted_by"] = "rules"
    else:
        tables = reading.document.tables if reading.document else ()
        record = rule_record(reading.pairs, tables)
        sections["extracted_by"] = "rules"
        missing = record.missing()
        if missing:
            logger.info(
                "%s: the rules left %d required field(s) empty; asking the model", file.key, len(missing)
            )
            try:
                extraction = services.extractor.extract(shipment_schema(), "\n".join(reading.lines))
            except FileRejectedError as error:
                return fail(output, file, run_id=run_id, source=source.target, error=error)
            record = record_from_model(extraction.data, record)
            sections["extracted_by"] = "model"
            sections["model"] = {
                "model_id": extraction.model_id,
                "attempts": extraction.attempts,
                "retried_for": extraction.retried_for[:5],
                "usage": extraction.usage,
                "rules_missed": missing,
            }
        sections["record"] = record.to_dict()
        found = findings(record)
    sections["findings"] = [f.to_dict() for f in found]
    sections["needs_review"] = needs_review(found)
    doc = result_document(
        key=file.key, etag=file.etag, status=SUCCEEDED, source=source.target, sections=sections
    )
    write_result(output, doc)
    logger.info(
        "read %s (%s via %s, extracted by %s); %d finding(s) failed",
        file.key,
        doc_type,
        reading.reader,
        sections["extracted_by"],
        sum(1 for f in found if f.status == FAIL),
    )
    return {
        "key": file.key,
        "etag": file.etag,
        "status": SUCCEEDED,
        "output_key": doc["output_key"],
        "doc_type": doc_type,
        "needs_review": sections["needs_review"],
    }


def fail(
    output: S3AccessPoint, file: SourceFile, *, run_id: str, source: str, error: PatternError
) -> dict[str, Any]:
    """The FAILED result of a file that cannot be read or extracted as it is."""
    doc = result_document(
        key=file.key,
        etag=file.etag,
        status=FAILED,
        source=source,
        reason=error.reason,
        error=type(error).__name__,
        sections={
            "run_id": run_id,
            "details": {k: v for k, v in error.details.items() if isinstance(v, (str, int))},
        },
    )
    write_result(output, doc)
    logger.warning("file %s FAILED: %s", file.key, type(error).__name__)
    # The step's answer names the error and reason only: a validation error's details can quote text.
    return {
        "key": file.key,
        "etag": file.etag,
        "status": FAILED,
        "error": type(error).__name__,
        "reason": error.reason,
        "output_key": doc["output_key"],
    }
