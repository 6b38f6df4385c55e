"""The text layer of a PDF and typed errors that say what is wrong with a file.

:func:`read_pdf` reads with the shared document core (``shared.documents.pdf``, pypdf) and returns
a :class:`PdfText` (text per page, and per page the core's OCR decision) or raises a
:class:`PdfError` subclass naming the defect: not a PDF at all (a wrong extension), truncated or
corrupt, encrypted, zero pages, or no usable text layer on any page (an image-only scan). A scan
is not OCRed here: this use case records why it was skipped (``NoTextLayerError``). Each is a
:class:`~shared.polling.errors.FileRejectedError`, so it becomes the file's FAILED result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from shared.polling.errors import FileRejectedError

logger = logging.getLogger(__name__)

PDF_MAGIC = b"%PDF-"
# A page with fewer characters than this counts as having no usable text layer.
MIN_PAGE_CHARS = 20


class PdfError(FileRejectedError):
    """The file cannot be read as a paper; ``reason`` says what is wrong."""


class NotPdfError(PdfError):
    """The bytes are not a PDF (wrong extension, or another format)."""


class CorruptPdfError(PdfError):
    """A PDF that cannot be parsed: truncated, or a damaged cross-reference or object."""


class EncryptedPdfError(PdfError):
    """A PDF that needs a password to read its text."""


class EmptyPdfError(PdfError):
    """A PDF with zero pages."""


class NoTextLayerError(PdfError):
    """Every page is an image without text: OCR would be needed, and this use case does not run it."""


@dataclass
class PdfText:
    pages: list[str]
    # Per page, why it needed no OCR (or why it would have): shared.documents.pdf.ocr_decision.
    ocr_reasons: list[str] = field(default_factory=list)

    @property
    def page_count(self) -> int:
        return len(self.pages)

    @property
    def text(self) -> str:
        return "\n".join(self.pages)

    @property
    def pages_with_text(self) -> int:
        return sum(1 for page in self.pages if len(page.strip()) >= MIN_PAGE_CHARS)


def read_pdf(data: bytes, key: str = "") -> PdfText:
    """The text of every page of ``data`` (see the module docstring)."""
    from shared.documents import errors, pdf

    where = f" ({key})" if key else ""
    kinds: tuple[tuple[type[Exception], type[PdfError]], ...] = (
        (errors.UnsupportedFormatError, NotPdfError),
        (errors.TruncatedDocumentError, CorruptPdfError),
        (errors.CorruptDocumentError, CorruptPdfError),
        (errors.EncryptedDocumentError, EncryptedPdfError),
        (errors.EmptyDocumentError, EmptyPdfError),
    )
    try:
        document = pdf.read_pdf(data)
    except errors.DocumentError as error:
        kind = next((ours for theirs, ours in kinds if isinstance(error, theirs)), CorruptPdfError)
        shown = f"; the file starts with bytes {data[:8].hex()}" if kind is NotPdfError else ""
        raise kind(f"{error.reason}{where}{shown}", key=key, **error.details) from error
    decisions = [pdf.ocr_decision(page, MIN_PAGE_CHARS) for page in document.pages]
    result = PdfText([page.text for page in document.pages], [d.reason for d in decisions])
    if not any(d.skip_ocr for d in decisions):
        raise NoTextLayerError(
            f"no usable text layer{where}: {decisions[0].reason} ({result.page_count} page(s)); "
            "OCR is not run for papers",
            key=key,
            pages=result.page_count,
        )
    return result
