"""One claim file version into one piece of evidence: damage labels, an estimate, or a policy document.

Files are grouped by claim: ``claims/<claim-id>/<name>``. :func:`kind_of` sorts a file by its name:

* ``photo``: a JPEG/PNG/WebP picture (not named ``estimate``). :func:`prepare_photo` opens it with
  Pillow (a broken picture is a :class:`BrokenPhotoError`) and sends Rekognition DetectLabels the
  JPEG BYTES, never an ``S3Object`` (Rekognition cannot read an FSx access point): the original
  when it is already a JPEG under 5 MB, else a re-encoded, downscaled JPEG under 5 MB.
* ``estimate``: a repair estimate (PDF born-digital or scanned, or a scan), read through the shared
  document core (:mod:`shared.documents`): pages with a usable text layer skip OCR, the rest go to
  synchronous ``AnalyzeExpense`` one page at a time; the expense model gives the total, currency,
  vendor and line items.
* ``document``: a policy letter or a form, through the same core with ``AnalyzeDocument`` (FORMS)
  for scanned pages; the policy number and policy status are read from its text.

A multi-page scan would need an asynchronous Textract job (UC2 has that path); claim documents are
short, so here it is a FAILED result with that reason. The result document is version-keyed
(:func:`shared.polling.keys.output_key`); logs carry keys, kinds and counts, never content (PII).
"""

from __future__ import annotations

import dataclasses
import io
import logging
import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

from shared.config import env
from shared.documents.errors import DocumentError, DocumentLimitError
from shared.errors import FAILED, SUCCEEDED, error_result
from shared.polling.results import result_document, write_result
from shared.polling.settings import PollingConfig
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

PHOTO, ESTIMATE, DOCUMENT = "photo", "estimate", "document"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
SUFFIXES = (*PHOTO_SUFFIXES, ".pdf", ".tif", ".tiff")
CLAIMS_ROOT = "claims/"
MB = 1024 * 1024
REKOGNITION_MAX_BYTES = 5 * MB  # DetectLabels on image bytes
MAX_SIDE_PX = 4096
# Rekognition refusing this picture: a FAILED result for the file (FileRejectedError), not a retry.
REKOGNITION_REJECTS = frozenset({"InvalidImageFormatException", "ImageTooLargeException"})
DEFAULT_DAMAGE_LABELS = (
    "Car",
    "Vehicle",
    "Wreck",
    "Dent",
    "Collision",
    "Accident",
    "Broken Glass",
    "Fire",
    "Flood",
)

_CLAIM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_POLICY = re.compile(r"policy\s*(?:number|no\.?|#)\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{4,24})", re.IGNORECASE)
_STATUS = re.compile(r"policy\s*status\s*[:]\s*([A-Za-z]+)", re.IGNORECASE)
_AMOUNT = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


class BrokenPhotoError(DocumentError):
    """A claim photo that Pillow cannot decode (truncated, not an image, wrong format)."""


class NotAClaimFileError(DocumentError):
    """A file that is not under ``claims/<claim-id>/``, so it belongs to no claim."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class EvidenceConfig(PollingConfig):
    max_document_mib: int = env("MAX_DOCUMENT_MIB", 50)
    damage_labels: str = env("DAMAGE_LABELS", ",".join(DEFAULT_DAMAGE_LABELS))
    min_label_confidence: float = env("MIN_LABEL_CONFIDENCE", 70.0)


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


def claim_id_of(key: str) -> str:
    """The claim a key belongs to: the folder right under ``claims/`` (NotAClaimFileError otherwise)."""
    parts = key.split("/")
    if len(parts) < 3 or f"{parts[0]}/" != CLAIMS_ROOT or not _CLAIM_ID.match(parts[1]) or not parts[-1]:
        raise NotAClaimFileError(f"{key!r} is not under {CLAIMS_ROOT}<claim-id>/", key=key)
    return parts[1]


def kind_of(key: str) -> str:
    """photo, estimate or document, from the file name (an estimate may be a scan)."""
    name = posixpath.basename(key).lower()
    if "estimate" in name:
        return ESTIMATE
    if name.endswith(PHOTO_SUFFIXES):
        return PHOTO
    return DOCUMENT


def parse_labels(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


# -- photos ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PreparedPhoto:
    payload: bytes  # JPEG bytes under 5 MB
    width: int
    height: int
    source_format: str
    resized: bool


def prepare_photo(data: bytes, key: str = "", limit: int = REKOGNITION_MAX_BYTES) -> PreparedPhoto:
    """JPEG bytes under ``limit`` for DetectLabels (see the module docstring)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decodes every byte: a truncated file raises here
            fmt = str(image.format or "")
            width, height = image.size
            if fmt == "JPEG" and len(data) < limit and max(width, height) <= MAX_SIDE_PX:
                return PreparedPhoto(data, width, height, fmt, False)
            picture = image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise BrokenPhotoError(
            f"{key or 'photo'} cannot be decoded as an image: {type(error).__name__}: {error}", key=key
        ) from error
    scale = min(1.0, MAX_SIDE_PX / max(width, height))
    quality = 90
    while True:
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        out = io.BytesIO()
        picture.resize(size).save(out, "JPEG", quality=quality)
        if out.tell() < limit:
            return PreparedPhoto(out.getvalue(), size[0], size[1], fmt, True)
        if quality > 60:
            quality -= 15
        else:
            scale *= 0.7


def detect_damage(
    rekognition: Any, photo: PreparedPhoto, *, damage_labels: Sequence[str], min_confidence: float
) -> dict[str, Any]:
    """DetectLabels on the photo's bytes; which of its labels are damage labels (case-insensitive)."""
    from shared.polling import aws

    answer = aws.call(
        "rekognition",
        "DetectLabels",
        rekognition.detect_labels,
        per_item_codes=REKOGNITION_REJECTS,
        Image={"Bytes": photo.payload},
        MaxLabels=20,
        MinConfidence=min_confidence,
    )
    labels: list[dict[str, Any]] = [
        {"name": str(label["Name"]), "confidence": round(float(label["Confidence"]), 2)}
        for label in answer.get("Labels", [])
    ]
    wanted = {name.lower() for name in damage_labels}
    damage = sorted({str(label["name"]) for label in labels if str(label["name"]).lower() in wanted})
    return {
        "labels": labels,
        "damage_labels": damage,
        "width": photo.width,
        "height": photo.height,
        "source_format": photo.source_format,
        "resized": photo.resized,
        "sent_bytes": len(photo.payload),
    }


# -- documents ------------------------------------------------------------------------------------


def amount(text: str | None) -> float | None:
    found = _AMOUNT.search((text or "").replace(" ", ""))
    return float(found.group(0).replace(",", "")) if found else None


def policy_facts(text: str) -> dict[str, str]:
    """The policy number and status a document states (either may be missing)."""
    facts: dict[str, str] = {}
    number = _POLICY.search(text)
    if number:
        facts["policy_number"] = number.group(1).upper()
    status = _STATUS.search(text)
    if status:
        facts["policy_status"] = status.group(1).lower()
    return facts


def read_document(data: bytes, key: str, *, kind: str, textract: Any) -> tuple[Any, dict[str, Any]]:
    """The parsed document (text layer and/or synchronous Textract) and how it was read."""
    from shared.documents.inspect import PDF, inspect_document
    from shared.documents.layout import analyse, expense_from, parse_layout
    from shared.documents.limits import ASYNC, SYNC, route
    from shared.documents.model import merge

    info = inspect_document(data, key)
    ocr_pages: tuple[int, ...] = tuple(range(1, info.page_count + 1))
    parts = []
    if info.format == PDF:
        from shared.documents.pdf import ocr_decision, read_pdf

        pdf = read_pdf(data)
        judged = [ocr_decision(page) for page in pdf.pages]
        ocr_pages = tuple(d.page for d in judged if not d.skip_ocr)
        runs = [run for page in pdf.pages if page.number not in ocr_pages for run in page.runs]
        if runs:
            parts.append(parse_layout(analyse(runs), info.page_count))
    plan = route(info, ocr_pages)
    if plan.mode == ASYNC:
        raise DocumentLimitError(
            f"{plan.reason}; claim documents are read synchronously, page by page (UC2 has the async path)",
            pages=len(plan.ocr_pages),
        )
    calls = 0
    if plan.mode == SYNC:
        from shared.documents.textract import ANALYSIS, EXPENSE, analyze_pages

        api = EXPENSE if kind == ESTIMATE else ANALYSIS
        parts.append(analyze_pages(textract, data, info, plan.ocr_pages, api))
        calls = len(plan.ocr_pages)
    document = merge(parts)
    if kind == ESTIMATE and not document.expenses:
        document = dataclasses.replace(document, expenses=(expense_from(document),))
    how = {
        "format": info.format,
        "pages": info.page_count,
        "ocr_mode": plan.mode,
        "ocr_reason": plan.reason,
        "pages_skipping_ocr": info.page_count - len(plan.ocr_pages),
        "textract_calls": calls,
    }
    return document, how


def estimate_fields(document: Any) -> dict[str, Any]:
    """Total, currency, vendor and line items of an estimate (AnalyzeExpense's model)."""
    expense = document.expenses[0] if document.expenses else None

    def field(kind: str) -> str | None:
        found = expense.get(kind) if expense else None
        return found.value if found else None

    items = []
    for item in expense.line_items if expense else ():
        described = item.get("ITEM")
        price = item.get("PRICE")
        items.append(
            {"item": described.value if described else "", "amount": amount(price.value if price else None)}
        )
    currency = next((f.currency for f in (expense.summary if expense else ()) if f.currency), None)
    return {
        "total": amount(field("TOTAL")),
        "subtotal": amount(field("SUBTOTAL")),
        "tax": amount(field("TAX")),
        "currency": field("CURRENCY") or currency,
        "vendor": field("VENDOR_NAME"),
        "line_items": items,
    }


# -- the per-file step ----------------------------------------------------------------------------


def fail(
    output: S3AccessPoint, file: SourceFile, *, run_id: str, source: str, error: DocumentError
) -> dict[str, Any]:
    doc = result_document(
        key=file.key,
        etag=file.etag,
        status=FAILED,
        source=source,
        reason=error.reason,
        error=type(error).__name__,
        sections={"run_id": run_id, "claim_id": _claim_or_empty(file.key), "kind": kind_of(file.key)},
    )
    write_result(output, doc)
    logger.warning("claim file %s FAILED: %s", file.key, type(error).__name__)
    return {**error_result(error, key=file.key, etag=file.etag), "output_key": doc["output_key"]}


def _claim_or_empty(key: str) -> str:
    try:
        return claim_id_of(key)
    except NotAClaimFileError:
        return ""


def process_file(
    source: S3AccessPoint,
    output: S3AccessPoint,
    file: SourceFile,
    *,
    run_id: str,
    cfg: EvidenceConfig,
    rekognition: Any,
    textract: Any,
) -> dict[str, Any]:
    """The per-file step: one claim file version into its evidence result (or a FAILED result)."""
    max_bytes = cfg.max_document_mib * MB
    kind = kind_of(file.key)
    try:
        claim_id = claim_id_of(file.key)
        if file.size > max_bytes:
            raise DocumentLimitError(
                f"{file.size} bytes is over this stack's MaxDocumentMiB ({cfg.max_document_mib} MiB)"
            )
        data = source.get_bytes(file.key, if_match=file.etag, max_bytes=max_bytes)
        if kind == PHOTO:
            evidence = detect_damage(
                rekognition,
                prepare_photo(data, file.key),
                damage_labels=parse_labels(cfg.damage_labels),
                min_confidence=cfg.min_label_confidence,
            )
        else:
            document, how = read_document(data, file.key, kind=kind, textract=textract)
            evidence = {**how, **policy_facts(document.text())}
            if kind == ESTIMATE:
                evidence |= estimate_fields(document)
    except DocumentError as error:
        return fail(output, file, run_id=run_id, source=source.target, error=error)
    doc = result_document(
        key=file.key,
        etag=file.etag,
        status=SUCCEEDED,
        source=source.target,
        sections={"run_id": run_id, "claim_id": claim_id, "kind": kind, "evidence": evidence},
    )
    write_result(output, doc)
    logger.info("claim %s: %s evidence from %s", claim_id, kind, file.key)
    return {
        "key": file.key,
        "etag": file.etag,
        "status": SUCCEEDED,
        "output_key": doc["output_key"],
        "kind": kind,
    }
