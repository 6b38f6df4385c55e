"""PDF and image inspection on files made by pypdf, Pillow and by hand, including broken ones."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pypdf import PdfWriter

from shared.documents import errors
from shared.documents.inspect import JPEG, PDF, TIFF, inspect_document, sniff
from shared.documents.pdf import ocr_decision, page_bytes, page_count, read_pdf, split_pages
from shared.formats.samples import documents as samples
from tests.shared.documents.samples import invoice_page


def _pypdf_blank(pages: int, width: float = 612, height: float = 792) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=width, height=height)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pillow_pdf(frames: int) -> bytes:
    images = [Image.new("RGB", (200, 300), (255, 255, 255)) for _ in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=72)
    return out.getvalue()


def test_page_count_comes_from_the_page_tree_of_an_independent_pdf() -> None:
    data = _pypdf_blank(3)
    assert page_count(data) == 3
    info = inspect_document(data, "scan.pdf")
    assert (info.format, info.page_count) == (PDF, 3)
    assert info.pages[0].width_in == pytest.approx(8.5)


def test_a_pillow_pdf_of_images_has_no_text_layer_and_needs_ocr() -> None:
    document = read_pdf(_pillow_pdf(2))
    assert document.page_count == 2
    decisions = [ocr_decision(page) for page in document.pages]
    assert not any(d.skip_ocr for d in decisions)
    assert "scanned page" in decisions[0].reason


def test_a_born_digital_page_skips_ocr_and_says_why() -> None:
    document = read_pdf(samples.text_pdf([invoice_page()]))
    decision = ocr_decision(document.pages[0])
    assert decision.skip_ocr
    assert "OCR skipped" in decision.reason and "characters" in decision.reason
    texts = [run.text for run in document.pages[0].runs]
    assert "Invoice No: INV-1001" in texts
    first = document.pages[0].runs[0]
    assert first.left == pytest.approx(72 / 612) and 0 < first.top < 0.1


def test_a_thin_text_layer_does_not_skip_ocr() -> None:
    document = read_pdf(samples.text_pdf([[samples.Run("p. 3", 500, 750)]]))
    decision = ocr_decision(document.pages[0])
    assert not decision.skip_ocr and "too thin" in decision.reason


def test_split_pages_keeps_the_chosen_pages_in_order() -> None:
    pages = [samples.letter_page(f"Page {n}", [f"This is the body of page number {n}."]) for n in (1, 2, 3)]
    data = samples.text_pdf(pages)
    split = read_pdf(split_pages(data, [3, 1]))
    assert [p.runs[0].text for p in split.pages] == ["Page 3", "Page 1"]
    assert page_count(page_bytes(data, 2)) == 1
    with pytest.raises(errors.EmptyDocumentError, match="page 4 does not exist"):
        split_pages(data, [4])


@pytest.mark.parametrize(
    ("name", "make", "error", "words"),
    [
        ("cut.pdf", lambda: samples.truncated(_pypdf_blank(2)), errors.TruncatedDocumentError, "%%EOF"),
        (
            "locked.pdf",
            lambda: samples.encrypted(_pypdf_blank(1)),
            errors.EncryptedDocumentError,
            "encrypted",
        ),
        ("empty.pdf", samples.zero_pages, errors.EmptyDocumentError, "zero pages"),
        (
            "photo.pdf",
            lambda: samples.scan([invoice_page()], "PNG"),
            errors.WrongExtensionError,
            "bytes are PNG",
        ),
        ("notes.pdf", lambda: b"just some text\n", errors.UnsupportedFormatError, "not a PDF"),
        ("nothing.pdf", lambda: b"", errors.EmptyDocumentError, "0 bytes"),
        (
            "cut.jpg",
            lambda: samples.truncated(samples.scan([invoice_page()], "JPEG")),
            errors.TruncatedDocumentError,
            "truncated",
        ),
    ],
)
def test_broken_files_raise_a_typed_error_naming_what_is_wrong(name: str, make, error, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=words):
        inspect_document(make(), name)


def test_a_hand_built_pdf_with_a_broken_xref_is_corrupt_or_read_without_guessing() -> None:
    data = (
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\nxref\nGARBAGE\ntrailer\n<<>>\n%%EOF\n"
    )
    with pytest.raises(errors.DocumentError):
        inspect_document(data, "broken.pdf")


def test_images_report_frames_pixels_and_inches() -> None:
    tiff = samples.scan([invoice_page(), invoice_page()], "TIFF", dpi=100)
    info = inspect_document(tiff, "scan.tif")
    assert (info.format, info.page_count) == (TIFF, 2)
    assert info.pages[0].width_px == 850 and info.pages[0].width_in == pytest.approx(8.5)
    out = io.BytesIO()
    Image.new("L", (300, 200), 255).save(out, "JPEG", dpi=(150, 150))
    jpeg = inspect_document(out.getvalue(), "photo.jpeg")
    assert (jpeg.format, jpeg.pages[0].width_in) == (JPEG, pytest.approx(2.0))
    assert sniff(out.getvalue()) == JPEG


def test_scans_carry_the_record_of_the_text_they_show() -> None:
    jpeg = samples.scan([invoice_page()], "JPEG")
    layout = samples.read_layout(jpeg)
    assert layout is not None
    assert layout[0]["runs"][1]["text"] == "Invoice No: INV-1001"
    scanned = samples.image_pdf([invoice_page()])
    from shared.documents.pdf import page_images

    assert samples.read_layout(page_images(scanned, 1)[0]) == layout
