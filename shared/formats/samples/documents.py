"""Sample documents: born-digital and scanned PDFs, TIFF/JPEG/PNG scans, and broken files.

A page is a list of :class:`Run` (text at a position in points from the top-left of a US Letter
page). :func:`text_pdf` writes the runs as a real text layer (Helvetica, one ``Tj`` per run);
:func:`scan` draws them into a raster image with Pillow and records what it drew, with the pixel
box of each run, in the image's own metadata (JPEG comment, TIFF ImageDescription, PNG text chunk
``textlayout``): the local Textract and Rekognition stand-ins answer from that record, which is
the text really in the picture. :func:`image_pdf` wraps JPEG scans as the pages of a PDF without a
text layer (the JPEG stream embedded unchanged, DCTDecode). Every writer is deterministic.

Broken files, each the way it happens in the field: :func:`truncated` (cut off), :func:`encrypted`
and :func:`zero_pages` (written by pypdf), and a PNG saved under a ``.pdf`` name (the demo's
wrong extension).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

PAGE_WIDTH_PT = 612.0
PAGE_HEIGHT_PT = 792.0
LAYOUT_KEY = "textlayout"
LAYOUT_VERSION = 1


@dataclass(frozen=True)
class Run:
    """Text drawn at ``x``, ``y`` points from the page's top-left corner, ``size`` points high."""

    text: str
    x: float
    y: float
    size: float = 10.0


Page = Sequence[Run]


def _escape(text: str) -> bytes:
    raw = text.encode("latin-1", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _write_pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _stream(dictionary: str, data: bytes) -> bytes:
    return f"<< {dictionary} /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"


def _pdf(pages: Sequence[tuple[bytes, bytes | None, tuple[int, int]]], width: float, height: float) -> bytes:
    """Pages as (content stream, optional JPEG, JPEG size); object 3 is the Helvetica font."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", b""]
    objects[2] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    kids = []
    for content, jpeg, (w, h) in pages:
        page_number = len(objects) + 1
        kids.append(f"{page_number} 0 R")
        resources = "/Font << /F1 3 0 R >>"
        if jpeg is not None:
            resources += f" /XObject << /Im1 {page_number + 2} 0 R >>"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width:g} {height:g}] "
            f"/Resources << {resources} >> /Contents {page_number + 1} 0 R >>".encode()
        )
        objects.append(_stream("", content))
        if jpeg is not None:
            objects.append(
                _stream(
                    f"/Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray "
                    "/BitsPerComponent 8 /Filter /DCTDecode",
                    jpeg,
                )
            )
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    return _write_pdf(objects)


def text_pdf(pages: Sequence[Page], width: float = PAGE_WIDTH_PT, height: float = PAGE_HEIGHT_PT) -> bytes:
    """A born-digital PDF: each run drawn as text (a real, extractable text layer)."""
    built = []
    for page in pages:
        ops = [
            b"BT /F1 %g Tf 1 0 0 1 %g %g Tm (" % (run.size, run.x, height - run.y - run.size)
            + _escape(run.text)
            + b") Tj ET"
            for run in page
        ]
        built.append((b"\n".join(ops), None, (0, 0)))
    return _pdf(built, width, height)


def _font(size_px: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size_px)


def render(
    page: Page, dpi: int = 100, width: float = PAGE_WIDTH_PT, height: float = PAGE_HEIGHT_PT
) -> tuple[Any, dict[str, Any]]:
    """The page drawn in grey scale at ``dpi``, and the record of what was drawn (pixel boxes)."""
    from PIL import Image, ImageDraw

    scale = dpi / 72.0
    image = Image.new("L", (round(width * scale), round(height * scale)), 255)
    draw = ImageDraw.Draw(image)
    runs = []
    for run in page:
        size_px = max(8, round(run.size * scale))
        font = _font(size_px)
        left, top = round(run.x * scale), round(run.y * scale)
        draw.text((left, top), run.text, fill=0, font=font)
        x0, y0, x1, y1 = draw.textbbox((left, top), run.text, font=font)
        runs.append({"text": run.text, "box": [x0, y0, x1 - x0, max(1, y1 - y0)]})
    return image, {"width": image.width, "height": image.height, "runs": runs}


def _layout_json(pages: list[dict[str, Any]]) -> str:
    return json.dumps({"version": LAYOUT_VERSION, "pages": pages}, separators=(",", ":"))


def scan(pages: Sequence[Page], fmt: str = "JPEG", dpi: int = 100, quality: int = 70) -> bytes:
    """A scan: JPEG or PNG (first page only) or TIFF (every page a frame), layout in the metadata."""
    drawn = [render(page, dpi) for page in pages]
    record = _layout_json([layout for _, layout in drawn])
    out = io.BytesIO()
    first = drawn[0][0]
    if fmt == "JPEG":
        first.save(out, "JPEG", quality=quality, dpi=(dpi, dpi), comment=record.encode())
    elif fmt == "PNG":
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_text(LAYOUT_KEY, record)
        first.save(out, "PNG", pnginfo=info, dpi=(dpi, dpi))
    elif fmt == "TIFF":
        first.save(
            out,
            "TIFF",
            save_all=True,
            append_images=[image for image, _ in drawn[1:]],
            compression="tiff_deflate",
            dpi=(dpi, dpi),
            description=record,
        )
    else:
        raise ValueError(f"unsupported scan format {fmt!r}")
    return out.getvalue()


def image_pdf(pages: Sequence[Page], dpi: int = 100, quality: int = 70) -> bytes:
    """A scanned PDF: every page one JPEG (with its layout record), no text layer."""
    from PIL import Image

    built = []
    for page in pages:
        jpeg = scan([page], "JPEG", dpi, quality)
        with Image.open(io.BytesIO(jpeg)) as image:
            w, h = image.size
        content = b"q %g 0 0 %g 0 0 cm /Im1 Do Q" % (PAGE_WIDTH_PT, PAGE_HEIGHT_PT)
        built.append((content, jpeg, (w, h)))
    return _pdf(built, PAGE_WIDTH_PT, PAGE_HEIGHT_PT)


def mixed_pdf(pages: Sequence[Page], scanned: Sequence[bool], dpi: int = 100, quality: int = 70) -> bytes:
    """A PDF whose pages are text (born-digital) or JPEG scans, page by page as ``scanned`` says."""
    from PIL import Image

    built: list[tuple[bytes, bytes | None, tuple[int, int]]] = []
    for page, is_scan in zip(pages, scanned, strict=True):
        if not is_scan:
            ops = [
                b"BT /F1 %g Tf 1 0 0 1 %g %g Tm (" % (run.size, run.x, PAGE_HEIGHT_PT - run.y - run.size)
                + _escape(run.text)
                + b") Tj ET"
                for run in page
            ]
            built.append((b"\n".join(ops), None, (0, 0)))
            continue
        jpeg = scan([page], "JPEG", dpi, quality)
        with Image.open(io.BytesIO(jpeg)) as image:
            size = image.size
        built.append((b"q %g 0 0 %g 0 0 cm /Im1 Do Q" % (PAGE_WIDTH_PT, PAGE_HEIGHT_PT), jpeg, size))
    return _pdf(built, PAGE_WIDTH_PT, PAGE_HEIGHT_PT)


def read_layout(image_bytes: bytes) -> list[dict[str, Any]] | None:
    """The layout record a scan carries, page by page (None when it has none)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            raw: Any = image.info.get("comment") or image.info.get(LAYOUT_KEY)
            if raw is None and hasattr(image, "tag_v2"):
                raw = image.tag_v2.get(270)
    except OSError:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if not raw:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    pages = record.get("pages") if isinstance(record, dict) else None
    return pages if isinstance(pages, list) else None


# -- broken files ---------------------------------------------------------------------------------


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    """The first ``keep`` share of a file, as a cut-off copy leaves it."""
    return data[: max(1, int(len(data) * keep))]


def encrypted(data: bytes, password: str = "secret") -> bytes:
    """The PDF re-written by pypdf with a user password (RC4, no extra dependency)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zero_pages() -> bytes:
    """A well-formed PDF whose page tree is empty, written by pypdf."""
    from pypdf import PdfWriter

    out = io.BytesIO()
    PdfWriter().write(out)
    return out.getvalue()


# -- pages with business content ------------------------------------------------------------------


def table_runs(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    columns: Sequence[float],
    top: float,
    step: float = 16.0,
) -> list[Run]:
    """A table: the header row then each row, one run per non-empty cell at its column's x."""
    runs = [Run(text, x, top) for text, x in zip(header, columns, strict=True)]
    for index, row in enumerate(rows, start=1):
        runs.extend(Run(text, x, top + index * step) for text, x in zip(row, columns, strict=True) if text)
    return runs


def letter_page(title: str, paragraphs: Sequence[str], top: float = 72.0) -> list[Run]:
    """A page of prose: a title and one run per line of text."""
    runs = [Run(title, 72, top, 16)]
    y = top + 32
    for paragraph in paragraphs:
        runs.append(Run(paragraph, 72, y))
        y += 16
    return runs
