"""Sample papers for the demo and tests: real PDFs with a text layer, and broken files.

:func:`write_pdf` builds a PDF from the spec (ISO 32000-1 §7: header, objects, cross-reference table,
trailer) with the standard Helvetica font and WinAnsi text, one text line per ``T*`` operator, and as
many pages as the lines need. The papers of :data:`COLLECTION` cite one another (by DOI, and one by
title only), so the citation graph has edges inside the collection. :func:`broken_files` gives the
files that must fail: truncated, encrypted (by pypdf, an independent writer), zero pages, an
image-only page without text, and a PNG named ``.pdf``.
"""

from __future__ import annotations

import io
import logging
import zlib
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

LINES_PER_PAGE = 46
WRAP = 92


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _wrap(line: str, width: int = WRAP) -> list[str]:
    if len(line) <= width:
        return [line]
    out, current = [], ""
    for word in line.split(" "):
        if current and len(current) + 1 + len(word) > width:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    out.append(current)
    return out


def write_pdf(
    lines: list[str], *, title: str = "", image_only: bool = False, zero_pages: bool = False
) -> bytes:
    """A PDF whose pages show ``lines`` (wrapped), or one page with only a drawn shape."""
    wrapped = [piece for line in lines for piece in (_wrap(line) if line else [""])]
    pages = [wrapped[i : i + LINES_PER_PAGE] for i in range(0, len(wrapped), LINES_PER_PAGE)] or [[]]
    if zero_pages:
        pages = []
    objects: list[bytes] = []
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for index, page in enumerate(pages):
        if image_only:
            content = b"q 0.8 g 72 400 468 300 re f Q q 0.2 g 100 450 200 20 re f Q"
        else:
            body = b"".join(b"(" + _escape(line) + b") Tj T*\n" for line in page)
            content = b"BT /F1 10 Tf 13 TL 56 800 Td\n" + body + b"ET"
        stream = zlib.compress(content)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * index} 0 R >>".encode()
        )
        objects.append(
            f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream"
        )
    info_number = len(objects) + 1
    objects.append(b"<< /Title (" + _escape(title) + b") /Producer (education_research.samples) >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_number} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


@dataclass(frozen=True)
class Paper:
    """A sample paper: its key on the volume and what a reader should find in it."""

    key: str
    title: str
    authors: tuple[str, ...]
    abstract: str
    doi: str = ""
    keywords: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    affiliation: str = "Department of Computing, Example University"
    abstract_heading: str = "Abstract"
    keywords_heading: str = "Keywords"
    extra: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        lines = [self.title, ", ".join(self.authors), self.affiliation, ""]
        if self.doi:
            lines.append(f"DOI: {self.doi}")
        lines += [self.abstract_heading, self.abstract, ""]
        if self.keywords:
            lines += [f"{self.keywords_heading}: {'; '.join(self.keywords)}", ""]
        lines += ["1 Introduction", *self.body, ""]
        if self.references:
            lines += ["References", *(f"[{i}] {ref}" for i, ref in enumerate(self.references, start=1))]
        return lines

    def pdf(self) -> bytes:
        return write_pdf(self.lines(), title=self.title)


_BODY = (
    "Institutional repositories keep theses, articles and data on shared file systems, and searching "
    "them is slow when the only index is the folder tree. We study how a full-text index built from "
    "the text layer of each paper, together with its citations, changes what students find.",
    "The study ran over two semesters with 120 participants and 3,400 documents; queries that named a "
    "concept rather than a title found the relevant paper 38% more often.",
)
_LONG_BODY = tuple(
    f"Section {n}. Retrieval quality depends on tokenisation, stemming and the weighting of fields such as "
    f"title and abstract; experiment {n} measured mean reciprocal rank over 50 queries."
    for n in range(1, 70)
)

COLLECTION: tuple[Paper, ...] = (
    Paper(
        "papers/2024/fulltext-search-repositories.pdf",
        "Full-Text Search for Institutional Repositories",
        ("Ada Lovelace", "Grace Hopper"),
        "We describe a full-text search index for institutional repositories built from the text layer "
        "of PDF papers and evaluate it with students and librarians.",
        doi="10.5555/edu.2024.001",
        keywords=("full-text search", "institutional repositories", "information retrieval"),
        references=(
            "Alan Turing. Citation Graphs in Practice. Journal of Scholarly Data, 2023. "
            "doi:10.5555/edu.2023.014",
            "Edsger Dijkstra. Ranking Functions Revisited. Information Retrieval Letters, 2019. "
            "doi:10.5555/ir.2019.7",
            "Barbara Liskov. Metadata Quality in Digital Libraries. Library Systems, 2022.",
        ),
        body=_BODY,
    ),
    Paper(
        "papers/2023/citation-graphs-in-practice.pdf",
        "Citation Graphs in Practice",
        ("Alan Turing",),
        "Citation graphs connect papers through their references. We show how keying every node by DOI, "
        "or by a normalised title when no DOI exists, merges duplicate nodes across a collection.",
        doi="10.5555/edu.2023.014",
        keywords=("citation graph", "bibliometrics", "DOI"),
        references=(
            "Barbara Liskov. Metadata Quality in Digital Libraries. Library Systems, 2022.",
            "Claude Shannon. A Mathematical Theory of Communication. Bell System Technical Journal, 1948. "
            "doi:10.1002/j.1538-7305.1948.tb01338.x",
        ),
        body=_BODY[:1],
    ),
    Paper(
        "papers/2022/metadata-quality-digital-libraries.pdf",
        "Metadata Quality in Digital Libraries",
        ("Barbara Liskov", "José Martínez"),
        "Missing or wrong metadata hides papers from search. We measure title, author and DOI "
        "completeness in three university libraries and propose validation rules.",
        keywords=("metadata quality", "digital libraries"),
        references=(
            "Claude Shannon. A Mathematical Theory of Communication. Bell System Technical Journal, 1948. "
            "doi:10.1002/j.1538-7305.1948.tb01338.x",
        ),
        body=_BODY,
    ),
    Paper(
        "papers/2019/ranking-functions-revisited.pdf",
        "Ranking Functions Revisited",
        ("Edsger Dijkstra", "Frances Allen"),
        "BM25 remains a strong baseline for ranking short queries against scientific abstracts. We "
        "compare it with learned sparse retrieval on a corpus of 40,000 papers.",
        doi="10.5555/ir.2019.7",
        references=(
            "Karen Sparck Jones. A Statistical Interpretation of Term Specificity. "
            "Journal of Documentation, 1972. "
            "doi:10.1108/eb026526",
        ),
        body=_BODY[1:],
    ),
    Paper(
        "papers/2025/busqueda-en-repositorios.pdf",
        "Búsqueda de texto completo en repositorios universitarios",
        ("María García", "Jorge Luis Pérez"),
        "Este artículo describe un índice de búsqueda de texto completo para los repositorios de la "
        "universidad y evalúa su uso por los estudiantes durante un semestre.",
        doi="10.5555/edu.2025.033",
        keywords=("búsqueda", "repositorios", "recuperación de información"),
        abstract_heading="Resumen",
        keywords_heading="Palabras clave",
        references=(
            "Ada Lovelace, Grace Hopper. Full-Text Search for Institutional Repositories. Journal of "
            "Scholarly Data, 2024. doi:10.5555/edu.2024.001",
        ),
        body=(
            "Los repositorios institucionales guardan tesis y artículos en sistemas de archivos compartidos.",
        ),
        affiliation="Universidad de Ejemplo",
    ),
    Paper(
        "papers/2021/large-scale-evaluation.pdf",
        "A Large-Scale Evaluation of Scholarly Search Engines",
        ("Tim Berners-Lee", "Margaret Hamilton", "Donald Knuth"),
        "We evaluate five scholarly search engines over 69 sections of experiments, reporting mean "
        "reciprocal rank and recall for each query class and each field weighting.",
        doi="10.5555/edu.2021.502",
        references=(
            "Edsger Dijkstra. Ranking Functions Revisited. Information Retrieval Letters, 2019. "
            "doi:10.5555/ir.2019.7",
            "Alan Turing. Citation graphs in practice. Journal of Scholarly Data, 2023.",
        ),
        body=_LONG_BODY,
    ),
)


def broken_files() -> dict[str, bytes]:
    """Files that must become FAILED results, each with the defect its name says."""
    from pypdf import PdfReader, PdfWriter

    good = COLLECTION[0].pdf()
    encrypted = io.BytesIO()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(good)))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    writer.write(encrypted)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
    return {
        "papers/broken/truncated.pdf": good[: len(good) // 2],
        "papers/broken/encrypted.pdf": encrypted.getvalue(),
        "papers/broken/zero-pages.pdf": write_pdf([], zero_pages=True),
        "papers/broken/scanned-image-only.pdf": write_pdf(["x"], image_only=True),
        "papers/broken/photo-named-as.pdf": png,
    }
