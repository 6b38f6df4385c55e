"""The text layer of a PDF, read with pypdf, and typed errors that say what is wrong with a file.

:func:`read_pdf` returns a :class:`PdfText` (page count, text per page, document metadata) or
raises a :class:`PdfError` subclass naming the defect: not a PDF at all (a wrong extension),
truncated or corrupt, encrypted, zero pages, or no text layer (an image-only scan). A scan is not
OCRed here: this use case records why it was skipped (``NoTextLayerError``).

The shared document core (``shared/documents``, branch ``documents``) has the same reader for the
other document use cases; this module is the small, local one UC13 needs.
"""

from __future__ import annotations

import io
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
    metadata: dict[str, str] = field(default_factory=dict)

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
    """The text of every page and the document info of ``data`` (see the module docstring)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PdfStreamError

    where = f" ({key})" if key else ""
    start = data[:1024].lstrip()
    if not start.startswith(PDF_MAGIC):
        shown = data[:8].hex()
        raise NotPdfError(f"not a PDF{where}: the file starts with bytes {shown}, not %PDF-", key=key)
    if b"%%EOF" not in data[-2048:]:
        raise CorruptPdfError(
            f"truncated PDF{where}: no %%EOF marker at the end ({len(data)} bytes)", key=key
        )
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as error:  # noqa: BLE001 - pypdf raises several types for crypto it lacks
                raise EncryptedPdfError(f"encrypted PDF{where}: {error}", key=key) from error
            if not opened:
                raise EncryptedPdfError(f"encrypted PDF{where}: a password is required", key=key)
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata or {}
        metadata = {str(k).lstrip("/"): str(v) for k, v in info.items() if isinstance(v, str)}
    except PdfError:
        raise
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError) as error:
        raise CorruptPdfError(f"corrupt PDF{where}: {type(error).__name__}: {error}", key=key) from error
    if not pages:
        raise EmptyPdfError(f"PDF with zero pages{where}", key=key)
    result = PdfText(pages, metadata)
    if result.pages_with_text == 0:
        raise NoTextLayerError(
            f"no text layer{where}: {result.page_count} page(s) of images; OCR is not run for papers",
            key=key,
            pages=result.page_count,
        )
    return result
