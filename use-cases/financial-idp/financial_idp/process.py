"""One document version: inspect, route, read (text layer, sync Textract, or an async job), extract, validate.

:func:`process_file` is the per-file step. It reads the version named by the manifest (``If-Match``
on its ETag), inspects it (:mod:`shared.documents.inspect`: a broken, encrypted, empty or
mislabelled file is a FAILED result naming what is wrong), decides per PDF page whether the text
layer is usable (such pages skip OCR, the reason recorded), and routes the rest
(:func:`shared.documents.limits.route`, a breached limit is a FAILED result with its reason):

* ``text-layer``: no Textract call; the layout of the runs gives the same block model;
* ``sync``: one page at a time on bytes, AnalyzeExpense for an invoice, AnalyzeDocument
  (FORMS, TABLES) for a statement;
* ``async``: the step returns ``status: ASYNC`` and the pages; the state machine waits for the
  job behind a task token (``functions/textract_start``, ``functions/textract_callback``) and
  then calls :func:`collect_file` with the callback's answer.

The extraction (``financial_idp.extraction``) and its findings go into the version-keyed result
document. Logs carry keys, counts and statuses only, never document content (PII).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from financial_idp.extraction import INVOICE, classify, invoice_fields, needs_review, statement_fields
from shared.config import env
from shared.documents.errors import DocumentError
from shared.documents.inspect import PDF, DocumentInfo, inspect_document
from shared.documents.layout import analyse, expense_from, parse_layout
from shared.documents.limits import ASYNC, SYNC, TEXT_LAYER, route
from shared.documents.model import ParsedDocument, merge
from shared.errors import FAILED, SUCCEEDED, error_result
from shared.polling.keys import etag_token, output_key
from shared.polling.results import result_document, write_result
from shared.polling.settings import PollingConfig
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

# The per-file step's status for a document that waits for an asynchronous job (the Choice reads it).
WAITING_FOR_JOB = "ASYNC"
SUFFIXES = (".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png")
MB = 1024 * 1024


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExtractConfig(PollingConfig):
    max_document_mib: int = env("MAX_DOCUMENT_MIB", 100)


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


def kind_for(doc_type: str) -> str:
    """The Textract API family: expense for invoices, analysis (forms + tables) for statements."""
    from shared.documents.textract import ANALYSIS, EXPENSE

    return EXPENSE if doc_type == INVOICE else ANALYSIS


def staging_key(run_id: str, file: SourceFile) -> str:
    """Where the async copy goes: per run and per version, never a basename (no collisions)."""
    digest = hashlib.sha256(file.key.encode()).hexdigest()[:24]
    ext = posixpath.splitext(file.key)[1].lower()
    return f"staging/{run_id}/{digest}/{etag_token(file.etag)}{ext}"


@dataclasses.dataclass
class Reading:
    """What the inspection found: the info, per-page OCR decisions, the text-layer part."""

    info: DocumentInfo
    decisions: list[dict[str, Any]]
    ocr_pages: tuple[int, ...]
    text_part: ParsedDocument | None
    doc_type: str
    classified_by: str


def read(data: bytes, file: SourceFile) -> Reading:
    """Inspect and split into text-layer pages and pages that need OCR (typed errors raise)."""
    info = inspect_document(data, file.key)
    decisions: list[dict[str, Any]] = []
    text_part: ParsedDocument | None = None
    ocr_pages: tuple[int, ...] = tuple(range(1, info.page_count + 1))
    if info.format == PDF:
        from shared.documents.pdf import ocr_decision, read_pdf

        pdf = read_pdf(data)
        judged = [ocr_decision(page) for page in pdf.pages]
        decisions = [{"page": d.page, "skip_ocr": d.skip_ocr, "reason": d.reason} for d in judged]
        ocr_pages = tuple(d.page for d in judged if not d.skip_ocr)
        runs = [run for page in pdf.pages if page.number not in ocr_pages for run in page.runs]
        if runs:
            text_part = parse_layout(analyse(runs), info.page_count)
    else:
        decisions = [
            {"page": n, "skip_ocr": False, "reason": f"{info.format.upper()} scan; OCR needed"}
            for n in ocr_pages
        ]
    doc_type, why = classify(file.key, text_part.text() if text_part else "")
    return Reading(info, decisions, ocr_pages, text_part, doc_type, why)


def _with_expenses(part: ParsedDocument, doc_type: str) -> ParsedDocument:
    if doc_type != INVOICE or part.expenses:
        return part
    return dataclasses.replace(part, expenses=(expense_from(part),))


def finish(
    output: S3AccessPoint,
    file: SourceFile,
    *,
    run_id: str,
    source: str,
    reading: Reading,
    parts: Sequence[ParsedDocument],
    mode: str,
    reason: str,
    textract_calls: int,
) -> dict[str, Any]:
    """Extract, validate and write the SUCCEEDED result; returns the step's summary."""
    document = merge([_with_expenses(p, reading.doc_type) for p in parts])
    fields, findings = (invoice_fields if reading.doc_type == INVOICE else statement_fields)(document)
    review = needs_review(findings)
    skipped = sum(1 for d in reading.decisions if d["skip_ocr"])
    sections = {
        "run_id": run_id,
        "document": {
            "type": reading.doc_type,
            "classified_by": reading.classified_by,
            "format": reading.info.format,
            "pages": reading.info.page_count,
            "size_bytes": reading.info.size_bytes,
        },
        "ocr": {
            "mode": mode,
            "reason": reason,
            "pages_skipping_ocr": skipped,
            "pages_ocr": len(reading.ocr_pages) if mode != TEXT_LAYER else 0,
            "textract_calls": textract_calls,
            "decisions": reading.decisions,
        },
        "extraction": fields,
        "findings": [f.to_dict() for f in findings],
        "needs_review": review,
    }
    doc = result_document(key=file.key, etag=file.etag, status=SUCCEEDED, source=source, sections=sections)
    write_result(output, doc)
    failed = [f.rule for f in findings if f.status == "FAIL"]
    logger.info(
        "extracted %s (%s, %d pages, mode %s, %d skipped OCR); %d rule(s) failed",
        file.key,
        reading.doc_type,
        reading.info.page_count,
        mode,
        skipped,
        len(failed),
    )
    return {
        "key": file.key,
        "etag": file.etag,
        "status": SUCCEEDED,
        "output_key": doc["output_key"],
        "doc_type": reading.doc_type,
        "mode": mode,
        "needs_review": review,
    }


def fail(
    output: S3AccessPoint, file: SourceFile, *, run_id: str, source: str, error: DocumentError
) -> dict[str, Any]:
    """The FAILED result of a document that cannot be read as it is."""
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
    logger.warning("document %s FAILED: %s", file.key, type(error).__name__)
    return {**error_result(error, key=file.key, etag=file.etag), "output_key": doc["output_key"]}


def process_file(
    source: S3AccessPoint,
    output: S3AccessPoint,
    file: SourceFile,
    *,
    run_id: str,
    textract: Any,
    max_bytes: int,
) -> dict[str, Any]:
    """The per-file step (see the module docstring)."""
    from shared.documents.textract import analyze_pages

    if file.size > max_bytes:
        from shared.documents.errors import DocumentLimitError

        error = DocumentLimitError(
            f"{file.size} bytes is over this stack's MaxDocumentMiB ({max_bytes // MB} MiB)"
        )
        return fail(output, file, run_id=run_id, source=source.target, error=error)
    data = source.get_bytes(file.key, if_match=file.etag, max_bytes=max_bytes)
    try:
        reading = read(data, file)
        plan = route(reading.info, reading.ocr_pages)
    except DocumentError as error:
        return fail(output, file, run_id=run_id, source=source.target, error=error)
    parts = [reading.text_part] if reading.text_part else []
    calls = 0
    if plan.mode == ASYNC:
        logger.info("%s: %d page(s) go to an async Textract job", file.key, len(plan.ocr_pages))
        return {
            **file.to_dict(),
            "run_id": run_id,
            "status": WAITING_FOR_JOB,
            "doc_type": reading.doc_type,
            "textract_kind": kind_for(reading.doc_type),
            "ocr_pages": list(plan.ocr_pages),
        }
    if plan.mode == SYNC:
        try:
            parts.append(
                analyze_pages(textract, data, reading.info, plan.ocr_pages, kind_for(reading.doc_type))
            )
        except DocumentError as error:
            return fail(output, file, run_id=run_id, source=source.target, error=error)
        calls = len(plan.ocr_pages)
    return finish(
        output,
        file,
        run_id=run_id,
        source=source.target,
        reading=reading,
        parts=parts,
        mode=plan.mode,
        reason=plan.reason,
        textract_calls=calls,
    )


def start_async(
    source: S3AccessPoint,
    file: SourceFile,
    *,
    run_id: str,
    token: str,
    execution_id: str,
    ocr_pages: Sequence[int],
    textract_kind: str,
    settings: Any,
    textract: Any,
    s3: Any,
    store: Any,
    max_bytes: int,
) -> dict[str, Any]:
    """The invoke side of the task-token wait: stage the OCR pages and start the job."""
    from shared.documents.asyncjobs import start_with_token

    data = source.get_bytes(file.key, if_match=file.etag, max_bytes=max_bytes)
    info = inspect_document(data, file.key)
    return start_with_token(
        token=token,
        execution_id=execution_id,
        data=data,
        info=info,
        pages=ocr_pages,
        kind=textract_kind,
        staging_key=staging_key(run_id, file),
        settings=settings,
        textract=textract,
        s3=s3,
        store=store,
    )


def collect_file(
    source: S3AccessPoint,
    output: S3AccessPoint,
    file: SourceFile,
    *,
    run_id: str,
    job: Mapping[str, Any],
    textract: Any,
    s3: Any,
    max_bytes: int,
) -> dict[str, Any]:
    """After the wait: page the job's results, delete the staged copy, finish the document."""
    from shared.documents.textract import StagedDocument, TextractJobError, collect, unstage

    staged = StagedDocument(
        str(job["staging_bucket"]), str(job["staging_key"]), tuple(int(p) for p in job["page_map"])
    )
    try:
        ocr_part = collect(textract, str(job["job_id"]), str(job["kind"]), staged.page_map)
    except TextractJobError as error:
        unstage(s3, staged)
        return fail(output, file, run_id=run_id, source=source.target, error=error)
    unstage(s3, staged)
    data = source.get_bytes(file.key, if_match=file.etag, max_bytes=max_bytes)
    reading = read(data, file)
    parts = [p for p in (reading.text_part, ocr_part) if p is not None]
    return finish(
        output,
        file,
        run_id=run_id,
        source=source.target,
        reading=reading,
        parts=parts,
        mode=ASYNC,
        reason=f"{len(staged.page_map)} page(s) read by Textract job {job['job_id']}",
        textract_calls=1,
    )


def result_key(file: SourceFile) -> str:
    return output_key(file.key, file.etag)
