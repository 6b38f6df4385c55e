"""PDF through pypdf: page count, the text layer with positions, splitting pages.

:func:`read_pdf` refuses what cannot be read safely, each with a typed error: a file cut off
before its ``%%EOF`` marker (:class:`TruncatedDocumentError`), an encrypted file
(:class:`EncryptedDocumentError`), a file with no pages (:class:`EmptyDocumentError`) and a broken
structure (:class:`CorruptDocumentError`). The page count is read from the page tree, never
guessed from the file size.

Each :class:`PdfPage` carries its text runs with their position (from pypdf's text visitor: the
text matrix times the current transformation) and :func:`ocr_decision` says whether the page's
text layer is usable, in which case the page skips OCR and the reason is recorded.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

from shared.documents.errors import (
    CorruptDocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    TruncatedDocumentError,
    UnsupportedFormatError,
)

logger = logging.getLogger(__name__)

EOF_WINDOW = 1024
MIN_TEXT_CHARS = 20
MIN_READABLE_SHARE = 0.9
AVERAGE_ADVANCE_EM = 0.5  # Helvetica's average glyph advance; widths are estimates for standard fonts


@dataclass(frozen=True)
class TextRun:
    """One piece of text the page draws, with its box in page fractions (origin top-left)."""

    text: str
    page: int
    left: float
    top: float
    width: float
    height: float
    font_size: float


@dataclass(frozen=True)
class PdfPage:
    number: int  # 1-based
    width_pt: float
    height_pt: float
    text: str
    runs: tuple[TextRun, ...]
    image_count: int

    @property
    def chars(self) -> int:
        return sum(1 for c in self.text if not c.isspace())

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class PdfDocument:
    pages: tuple[PdfPage, ...]

    @property
    def page_count(self) -> int:
        return len(self.pages)


@dataclass(frozen=True)
class OcrDecision:
    """Whether a page needs OCR, and why (recorded with the result)."""

    page: int
    skip_ocr: bool
    reason: str


def _reader(data: bytes) -> Any:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PdfStreamError

    if not data.lstrip()[:5] == b"%PDF-" and b"%PDF-" not in data[:1024]:
        raise UnsupportedFormatError("not a PDF: no %PDF- header in the first 1024 bytes")
    if b"%%EOF" not in data[-EOF_WINDOW:]:
        raise TruncatedDocumentError(
            f"PDF truncated: no %%EOF marker in the last {EOF_WINDOW} bytes of {len(data)}",
            size_bytes=len(data),
        )
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError) as error:
        raise CorruptDocumentError(f"PDF structure unreadable: {error}") from error
    if encrypted:
        raise EncryptedDocumentError("PDF is encrypted (password protected); Textract cannot read it")
    return reader


def _page_count(reader: Any) -> int:
    from pypdf.errors import PdfReadError

    try:
        return len(reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise CorruptDocumentError(f"PDF page tree unreadable: {error}") from error


def page_count(data: bytes) -> int:
    """The number of pages in the page tree (typed errors as :func:`read_pdf`)."""
    count = _page_count(_reader(data))
    if count == 0:
        raise EmptyDocumentError("PDF has zero pages")
    return count


def _image_count(page: Any) -> int:
    try:
        xobjects = page["/Resources"].get_object().get("/XObject")
        if xobjects is None:
            return 0
        xobjects = xobjects.get_object()
        return sum(1 for name in xobjects if xobjects[name].get_object().get("/Subtype") == "/Image")
    except (KeyError, AttributeError, TypeError):
        return 0


def page_images(data: bytes, number: int) -> list[bytes]:
    """The raw encoded bytes of each image drawn on page ``number`` (a JPEG stays a JPEG)."""
    page = _reader(data).pages[number - 1]
    out: list[bytes] = []
    try:
        xobjects = page["/Resources"].get_object().get("/XObject")
    except (KeyError, AttributeError):
        return out
    if xobjects is None:
        return out
    xobjects = xobjects.get_object()
    for name in xobjects:
        obj = xobjects[name].get_object()
        if obj.get("/Subtype") == "/Image":
            filters = obj.get("/Filter")
            out.append(obj._data if filters == "/DCTDecode" else obj.get_data())
    return out


def _read_page(page: Any, number: int) -> PdfPage:
    box = page.mediabox
    width, height = float(box.width), float(box.height)
    runs: list[TextRun] = []

    def visit(text: str, cm: Any, tm: Any, _font: Any, size: float) -> None:
        text = text.strip()
        if not text or width <= 0 or height <= 0:
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4] - float(box.left)
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5] - float(box.bottom)
        scale = abs(float(tm[3]) * float(cm[3])) or 1.0
        font_size = float(size) * scale
        run_width = AVERAGE_ADVANCE_EM * font_size * len(text)
        top = (height - y - font_size) / height
        runs.append(
            TextRun(
                text=text,
                page=number,
                left=max(0.0, min(1.0, x / width)),
                top=max(0.0, min(1.0, top)),
                width=min(1.0, run_width / width),
                height=min(1.0, font_size * 1.2 / height),
                font_size=round(font_size, 2),
            )
        )

    try:
        text = page.extract_text(visitor_text=visit) or ""
    except Exception as error:  # pypdf raises many types on broken content streams
        raise CorruptDocumentError(
            f"page {number}: content stream unreadable: {error}", page=number
        ) from error
    return PdfPage(number, width, height, text, tuple(runs), _image_count(page))


def read_pdf(data: bytes) -> PdfDocument:
    """Every page with its size, text layer and text runs."""
    reader = _reader(data)
    count = _page_count(reader)
    if count == 0:
        raise EmptyDocumentError("PDF has zero pages")
    return PdfDocument(tuple(_read_page(reader.pages[i], i + 1) for i in range(count)))


def split_pages(data: bytes, numbers: list[int] | None = None) -> bytes:
    """A new PDF with the given 1-based pages (all when None), in that order."""
    from pypdf import PdfWriter

    reader = _reader(data)
    count = _page_count(reader)
    wanted = numbers if numbers is not None else list(range(1, count + 1))
    if not wanted:
        raise EmptyDocumentError("no pages asked for")
    writer = PdfWriter()
    for number in wanted:
        if not 1 <= number <= count:
            raise EmptyDocumentError(f"page {number} does not exist (the PDF has {count})", page=number)
        writer.add_page(reader.pages[number - 1])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def page_bytes(data: bytes, number: int) -> bytes:
    """Page ``number`` alone as a one-page PDF (what synchronous Textract accepts)."""
    return split_pages(data, [number])


def ocr_decision(page: PdfPage, min_chars: int = MIN_TEXT_CHARS) -> OcrDecision:
    """Skip OCR when the page's text layer is usable: enough characters, and readable ones."""
    chars = page.chars
    if chars == 0:
        why = "no text layer" + (f", {page.image_count} image(s): a scanned page" if page.image_count else "")
        return OcrDecision(page.number, False, f"{why}; OCR needed")
    readable = sum(1 for c in page.text if c.isprintable() and c != "\ufffd" and not c.isspace())
    share = readable / chars
    if share < MIN_READABLE_SHARE:
        return OcrDecision(
            page.number,
            False,
            f"text layer unusable: {100 * (1 - share):.0f}% unreadable characters; OCR needed",
        )
    if chars < min_chars:
        return OcrDecision(page.number, False, f"text layer too thin ({chars} characters); OCR needed")
    return OcrDecision(
        page.number, True, f"text layer usable ({chars} characters, {page.words} words); OCR skipped"
    )
