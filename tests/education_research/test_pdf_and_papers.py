"""The paper reader against PDFs made without our sample writer (by hand from the spec, and by pypdf)."""

from __future__ import annotations

import io

import pytest

from education_research import samples
from education_research.papers import parse_paper, split_authors
from education_research.pdftext import (
    CorruptPdfError,
    EmptyPdfError,
    EncryptedPdfError,
    NoTextLayerError,
    NotPdfError,
    read_pdf,
)
from shared.polling.errors import FileRejectedError

PAGE_LINES = [
    "Learning Analytics for Thesis Supervision",
    "Hedy Lamarr, Katherine Johnson",
    "Institute of Examples",
    "Abstract",
    "We study supervision meetings recorded in a thesis archive.",
    "Keywords: learning analytics; supervision",
    "DOI: 10.7777/hand.made.42",
    "1 Introduction",
    "Supervision leaves traces in the archive.",
    "References",
    "[1] Grace Hopper. Compilers for Everyone. ACM Queue, 1952. https://doi.org/10.1145/1234.5678.",
    "[2] Ada Lovelace. Notes on the Analytical Engine. Taylor, 1843.",
]


def hand_made_pdf(lines: list[str]) -> bytes:
    """One page, uncompressed content, one Td move per line: written here from ISO 32000-1 §7."""
    ops = ["BT", "/F1 11 Tf", "60 780 Td"]
    for index, line in enumerate(lines):
        text = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(("0 -16 Td " if index else "") + f"({text}) Tj")
    ops.append("ET")
    content = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 6\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def test_hand_made_pdf_gives_every_field() -> None:
    pdf = read_pdf(hand_made_pdf(PAGE_LINES), "hand.pdf")
    paper = parse_paper(pdf.text)
    assert paper.title == "Learning Analytics for Thesis Supervision"
    assert paper.authors == ["Hedy Lamarr", "Katherine Johnson"]
    assert paper.abstract == "We study supervision meetings recorded in a thesis archive."
    assert paper.keywords == ["learning analytics", "supervision"]
    assert paper.doi == "10.7777/hand.made.42"
    assert paper.key == "doi:10.7777/hand.made.42"
    assert [r.doi for r in paper.references] == ["10.1145/1234.5678", ""]
    assert [r.title for r in paper.references] == ["Compilers for Everyone", "Notes on the Analytical Engine"]
    assert [r.year for r in paper.references] == [1952, 1843]
    assert paper.references[1].key == "title:notes on the analytical engine"
    assert paper.missing == []


def test_missing_fields_stay_empty_and_are_listed() -> None:
    lines = ["A Paper Without Much", "Solo Author", "1 Introduction", "Body text of the paper goes here."]
    paper = parse_paper(read_pdf(hand_made_pdf(lines)).text)
    assert paper.title == "A Paper Without Much"
    assert paper.doi == "" and paper.keywords == [] and paper.references == []
    assert set(paper.missing) >= {"abstract", "doi", "keywords"}


def test_multi_page_paper_from_the_sample_writer() -> None:
    paper = samples.COLLECTION[5]
    pdf = read_pdf(paper.pdf())
    assert pdf.page_count > 1 and pdf.pages_with_text == pdf.page_count
    parsed = parse_paper(pdf.text)
    assert parsed.title == paper.title
    assert len(parsed.references) == len(paper.references)


def test_author_lines() -> None:
    assert split_authors("Ada Lovelace1, Grace Hopper2* and Alan Turing†") == [
        "Ada Lovelace",
        "Grace Hopper",
        "Alan Turing",
    ]
    assert split_authors("María García y Jorge Luis Pérez") == ["María García", "Jorge Luis Pérez"]


def _pypdf_blank() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pypdf_encrypted() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(hand_made_pdf(PAGE_LINES))))
    writer.encrypt(user_password="u", owner_password="o", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: hand_made_pdf(PAGE_LINES)[:300], CorruptPdfError, "truncated"),
        (_pypdf_encrypted, EncryptedPdfError, "encrypted"),
        (_pypdf_blank, NoTextLayerError, "no usable text layer"),
        (lambda: b"GIF89a" + bytes(40), NotPdfError, "474946383961"),
        (lambda: samples.write_pdf([], zero_pages=True), EmptyPdfError, "zero pages"),
    ],
)
def test_broken_files_raise_typed_errors_that_name_the_defect(
    make: object, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words) as raised:
        read_pdf(make(), "papers/x.pdf")  # type: ignore[operator]
    assert isinstance(raised.value, FileRejectedError)  # a FAILED result, not a crash
    assert "papers/x.pdf" in str(raised.value)
