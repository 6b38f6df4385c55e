"""What a document is before any AWS call: its format (from its bytes), pages, size and dimensions.

:func:`inspect_document` sniffs the format from the magic bytes (never from the name, whose
extension must agree), opens PDFs through :mod:`shared.documents.pdf` and images through Pillow,
and returns a :class:`DocumentInfo` that :mod:`shared.documents.limits` checks against Textract's
limits. A file that cannot be opened raises a typed :class:`~shared.documents.errors.DocumentError`.
"""

from __future__ import annotations

import io
import logging
import posixpath
from dataclasses import dataclass, field
from typing import Any

from shared.documents.errors import (
    CorruptDocumentError,
    DocumentLimitError,
    EmptyDocumentError,
    TruncatedDocumentError,
    UnsupportedFormatError,
    WrongExtensionError,
)

logger = logging.getLogger(__name__)

PDF = "pdf"
TIFF = "tiff"
JPEG = "jpeg"
PNG = "png"
FORMATS = (PDF, TIFF, JPEG, PNG)
MULTI_PAGE_FORMATS = frozenset({PDF, TIFF})
EXTENSIONS = {
    "pdf": PDF,
    "tif": TIFF,
    "tiff": TIFF,
    "jpg": JPEG,
    "jpeg": JPEG,
    "png": PNG,
}
CONTENT_TYPES = {PDF: "application/pdf", TIFF: "image/tiff", JPEG: "image/jpeg", PNG: "image/png"}
POINTS_PER_INCH = 72.0


@dataclass(frozen=True)
class PageSize:
    """One page's size: inches always; pixels for raster pages (None for a PDF's vector page)."""

    width_in: float
    height_in: float
    width_px: int | None = None
    height_px: int | None = None


@dataclass(frozen=True)
class DocumentInfo:
    """The facts the routing and limit checks need, read from the bytes."""

    format: str
    size_bytes: int
    page_count: int
    pages: tuple[PageSize, ...] = field(default_factory=tuple)

    @property
    def multi_page_format(self) -> bool:
        return self.format in MULTI_PAGE_FORMATS

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def sniff(data: bytes) -> str:
    """The format of ``data`` from its first bytes; :class:`UnsupportedFormatError` otherwise."""
    if not data:
        raise EmptyDocumentError("the file is empty (0 bytes)")
    head = data[:1024]
    if head.startswith(b"%PDF-") or (b"%PDF-" in head and head.index(b"%PDF-") < 1024):
        return PDF
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    raise UnsupportedFormatError(
        f"not a PDF, TIFF, JPEG or PNG (first bytes {data[:8].hex()})", first_bytes=data[:8].hex()
    )


def extension_format(name: str) -> str | None:
    """The format an object key's extension names, or None for an extension we do not know."""
    ext = posixpath.splitext(name)[1].lower().lstrip(".")
    return EXTENSIONS.get(ext)


def check_extension(name: str, actual: str) -> None:
    """Raise :class:`WrongExtensionError` when ``name``'s extension names another format."""
    named = extension_format(name)
    if named is not None and named != actual:
        raise WrongExtensionError(
            f"{posixpath.basename(name)!r} has a .{posixpath.splitext(name)[1].lstrip('.')} extension "
            f"but its bytes are {actual.upper()}",
            extension_format=named,
            actual_format=actual,
        )


def image_pages(data: bytes, fmt: str) -> tuple[PageSize, ...]:
    """Every frame of a raster image, fully decoded so that a truncated file is caught here."""
    from PIL import Image

    try:
        image: Any = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise DocumentLimitError(f"image too large to decode: {error}") from error
    except OSError as error:
        raise CorruptDocumentError(f"{fmt.upper()} header unreadable: {error}") from error
    pages: list[PageSize] = []
    frames = int(getattr(image, "n_frames", 1))
    if frames < 1:
        raise EmptyDocumentError(f"the {fmt.upper()} has no image frames")
    for index in range(frames):
        try:
            image.seek(index)
            image.load()
        except Image.DecompressionBombError as error:
            raise DocumentLimitError(f"frame {index + 1}: too large to decode: {error}") from error
        except (OSError, SyntaxError, ValueError) as error:
            message = str(error)
            if "truncated" in message or "broken data stream" in message or isinstance(error, EOFError):
                raise TruncatedDocumentError(
                    f"{fmt.upper()} frame {index + 1} of {frames} truncated ({len(data)} bytes): {message}",
                    page=index + 1,
                ) from error
            raise CorruptDocumentError(
                f"{fmt.upper()} frame {index + 1} of {frames} cannot be decoded: {message}", page=index + 1
            ) from error
        width, height = image.size
        dpi = image.info.get("dpi") or (POINTS_PER_INCH, POINTS_PER_INCH)
        try:
            dpi_x, dpi_y = float(dpi[0]) or POINTS_PER_INCH, float(dpi[1]) or POINTS_PER_INCH
        except (TypeError, ValueError, IndexError):
            dpi_x = dpi_y = POINTS_PER_INCH
        pages.append(PageSize(width / dpi_x, height / dpi_y, int(width), int(height)))
    return tuple(pages)


def inspect_document(data: bytes, name: str = "") -> DocumentInfo:
    """Sniff, check the extension against the bytes, and count pages with their sizes."""
    fmt = sniff(data)
    if name:
        check_extension(name, fmt)
    if fmt == PDF:
        from shared.documents.pdf import read_pdf

        pdf = read_pdf(data)
        pages = tuple(
            PageSize(p.width_pt / POINTS_PER_INCH, p.height_pt / POINTS_PER_INCH) for p in pdf.pages
        )
        return DocumentInfo(PDF, len(data), len(pages), pages)
    pages = image_pages(data, fmt)
    return DocumentInfo(fmt, len(data), len(pages), pages)
