"""Textract's limits, checked before any call, and the route a document takes.

Each breach raises :class:`~shared.documents.errors.DocumentLimitError` whose reason names the
limit and the measured value, so it becomes a clear FAILED result instead of a service error.
:func:`route` picks, per document: ``text-layer`` (every page has a usable text layer: no
Textract call), ``sync`` (one page at a time on bytes: an image, a one-page TIFF, or the one PDF
page that needs OCR) or ``async`` (a multi-page scan, or a file over the synchronous size limit:
staged in a bucket of the same region, since Textract cannot read an access point).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.documents.errors import DocumentLimitError
from shared.documents.inspect import JPEG, PDF, PNG, TIFF, DocumentInfo

logger = logging.getLogger(__name__)

MB = 1024 * 1024
SYNC_MAX_BYTES = 10 * MB
SYNC_MAX_PAGES = 1  # for PDF and TIFF
ASYNC_MAX_BYTES = {PDF: 500 * MB, TIFF: 500 * MB, JPEG: 10 * MB, PNG: 10 * MB}
ASYNC_MAX_PAGES = 3000
MAX_INCHES = 40.0
MAX_PIXELS = 10_000

TEXT_LAYER = "text-layer"
SYNC = "sync"
ASYNC = "async"


@dataclass(frozen=True)
class Route:
    """How a document is read: the mode, the pages that go to Textract, and why."""

    mode: str
    ocr_pages: tuple[int, ...]
    reason: str


def check_dimensions(info: DocumentInfo) -> None:
    """40 inches and 10,000 pixels in either dimension, page by page."""
    for number, page in enumerate(info.pages, start=1):
        for label, inches in (("width", page.width_in), ("height", page.height_in)):
            if inches > MAX_INCHES:
                raise DocumentLimitError(
                    f"page {number} {label} is {inches:.1f} in; Textract accepts at most {MAX_INCHES:.0f} in",
                    page=number,
                )
        for label, pixels in (("width", page.width_px), ("height", page.height_px)):
            if pixels is not None and pixels > MAX_PIXELS:
                raise DocumentLimitError(
                    f"page {number} {label} is {pixels} px; Textract accepts at most {MAX_PIXELS} px",
                    page=number,
                )


def check_sync(info: DocumentInfo, size_bytes: int | None = None) -> None:
    """What a synchronous call on bytes accepts: 10 MB, one page for PDF/TIFF, the dimensions."""
    size = info.size_bytes if size_bytes is None else size_bytes
    if size > SYNC_MAX_BYTES:
        raise DocumentLimitError(
            f"{size} bytes exceeds the synchronous limit of {SYNC_MAX_BYTES} bytes (10 MB)", size_bytes=size
        )
    if info.multi_page_format and info.page_count > SYNC_MAX_PAGES:
        raise DocumentLimitError(
            f"{info.page_count} pages: a synchronous call takes one {info.format.upper()} page",
            pages=info.page_count,
        )
    check_dimensions(info)


def check_async(info: DocumentInfo, pages: int | None = None, size_bytes: int | None = None) -> None:
    """What an asynchronous job accepts: 500 MB (10 MB for images), 3,000 pages, the dimensions."""
    size = info.size_bytes if size_bytes is None else size_bytes
    limit = ASYNC_MAX_BYTES[info.format]
    if size > limit:
        raise DocumentLimitError(
            f"{size} bytes exceeds Textract's limit of {limit // MB} MB for {info.format.upper()}",
            size_bytes=size,
        )
    count = info.page_count if pages is None else pages
    if count > ASYNC_MAX_PAGES:
        raise DocumentLimitError(f"{count} pages exceeds Textract's limit of {ASYNC_MAX_PAGES}", pages=count)
    check_dimensions(info)


def route(info: DocumentInfo, ocr_pages: tuple[int, ...] | None = None) -> Route:
    """The route of a document whose pages ``ocr_pages`` need OCR (all pages when None).

    A limit that the chosen route would break raises :class:`DocumentLimitError`.
    """
    pages = tuple(range(1, info.page_count + 1)) if ocr_pages is None else tuple(ocr_pages)
    check_dimensions(info)
    if not pages:
        return Route(TEXT_LAYER, (), f"all {info.page_count} page(s) have a usable text layer; no OCR")
    if info.format in (JPEG, PNG):
        if info.size_bytes > SYNC_MAX_BYTES:
            raise DocumentLimitError(
                f"{info.size_bytes} bytes exceeds Textract's limit of 10 MB for {info.format.upper()}",
                size_bytes=info.size_bytes,
            )
        return Route(SYNC, pages, "one image: synchronous on bytes")
    if len(pages) == 1 and (info.format == PDF or info.page_count == 1) and info.size_bytes <= SYNC_MAX_BYTES:
        return Route(SYNC, pages, f"one page needs OCR (page {pages[0]}): synchronous on that page's bytes")
    check_async(info, pages=len(pages) if info.format == PDF else info.page_count)
    why = (
        f"{len(pages)} pages need OCR"
        if len(pages) > 1
        else f"{info.size_bytes} bytes is over the 10 MB sync limit"
    )
    return Route(ASYNC, pages, f"{why}: asynchronous job on a staged copy")
