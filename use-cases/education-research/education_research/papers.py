"""A paper's metadata from its text: title, authors, abstract, DOI, keywords, references.

The rules follow the layout of most papers' first page: the title first (one or two lines), the
authors below it, then ``Abstract`` and ``Keywords:`` (also ``Key words``, ``Index Terms``,
``Palabras clave``, ``Schlüsselwörter``). A missing keyword line is filled by the caller from
Comprehend key phrases. Missing fields stay empty and
are listed in :attr:`PaperMetadata.missing`, never invented.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from education_research.references import Reference, find_doi, paper_key, parse_references, reference_section

logger = logging.getLogger(__name__)

_ABSTRACT = re.compile(r"^\s*(Abstract|Resumen|Zusammenfassung|Résumé|Summary)\b[\s:.—-]*", re.IGNORECASE)
_KEYWORDS = re.compile(
    r"^\s*(Keywords|Key words|Index Terms|Palabras clave|Schlüsselwörter|Mots-clés)\s*[:—-]\s*(.*)$",
    re.IGNORECASE,
)
_SECTION = re.compile(r"^\s*(?:1\.?|I\.)\s+[A-Z]|^\s*(Introduction|Introducción|Einleitung)\s*$")
_DOI_LINE = re.compile(r"^\s*(DOI|doi)\s*[:]?\s*10\.", re.IGNORECASE)
_AUTHOR_NOISE = re.compile(r"[\d*†‡§¶]+")
_NAME = re.compile(r"^[^\W\d_][\w.'-]*(?:\s+[^\W\d_][\w.'-]*){1,3}$")
_AFFILIATION = re.compile(r"University|Institute|Universidad|Universität|Laboratory|College|School|@", re.I)


@dataclass
class PaperMetadata:
    title: str
    authors: list[str]
    abstract: str
    doi: str
    keywords: list[str]
    references: list[Reference] = field(default_factory=list)
    year: int | None = None
    keywords_source: str = "paper"

    @property
    def key(self) -> str:
        return paper_key(self.doi, self.title)

    @property
    def missing(self) -> list[str]:
        return [
            name
            for name, value in (
                ("title", self.title),
                ("authors", self.authors),
                ("abstract", self.abstract),
                ("doi", self.doi),
                ("keywords", self.keywords),
            )
            if not value
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "paper_key": self.key,
            "title": self.title,
            "authors": list(self.authors),
            "abstract": self.abstract,
            "doi": self.doi,
            "year": self.year,
            "keywords": list(self.keywords),
            "keywords_source": self.keywords_source,
            "references": [r.to_dict() for r in self.references],
            "missing": self.missing,
        }


def split_authors(line: str) -> list[str]:
    """Names in an author line: split at commas, semicolons and "and", footnote marks removed."""
    cleaned = _AUTHOR_NOISE.sub("", line)
    parts = re.split(r",|;|\band\b|\by\b|\bund\b|&", cleaned)
    return [" ".join(p.split()) for p in parts if _NAME.match(" ".join(p.split()))]


def _front_matter(lines: list[str]) -> tuple[str, list[str], int]:
    """(title, authors, index of the first line after them) from the opening lines."""
    index = 0
    title_lines: list[str] = []
    while index < len(lines) and len(title_lines) < 3:
        line = lines[index]
        if _ABSTRACT.match(line) or _KEYWORDS.match(line) or _DOI_LINE.match(line):
            break
        if (title_lines and split_authors(line) and "," in line) or (title_lines and " and " in line):
            break
        if title_lines and len(split_authors(line)) == 1 and len(line.split()) <= 4:
            break
        title_lines.append(line)
        index += 1
    authors: list[str] = []
    while index < len(lines):
        line = lines[index]
        if _ABSTRACT.match(line) or _KEYWORDS.match(line) or _DOI_LINE.match(line):
            break
        if not _AFFILIATION.search(line):
            authors.extend(split_authors(line))
        index += 1
        if index > 12:
            break
    return " ".join(title_lines).strip(), authors, index


def _abstract(lines: list[str], start: int) -> str:
    for index in range(start, len(lines)):
        found = _ABSTRACT.match(lines[index])
        if not found:
            continue
        body = [lines[index][found.end() :].strip()]
        for line in lines[index + 1 :]:
            if _KEYWORDS.match(line) or _SECTION.match(line) or _DOI_LINE.match(line):
                break
            body.append(line.strip())
        return " ".join(part for part in body if part)
    return ""


def _keywords(lines: list[str]) -> list[str]:
    for line in lines:
        found = _KEYWORDS.match(line)
        if found:
            return [k.strip(" .") for k in re.split(r"[;,·]", found.group(2)) if k.strip(" .")]
    return []


def parse_paper(text: str) -> PaperMetadata:
    """The metadata of a paper from its text."""
    body = text[: len(text) - len(reference_section(text))] if reference_section(text) else text
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    title, authors, after = _front_matter(lines)
    front = "\n".join(lines[:60])
    doi = find_doi(front)
    years = [int(y) for y in re.findall(r"\b(19\d{2}|20\d{2})\b", front)]
    return PaperMetadata(
        title=title,
        authors=authors,
        abstract=_abstract(lines, after),
        doi=doi,
        keywords=_keywords(lines[:80]),
        references=parse_references(text),
        year=max(years) if years else None,
    )
