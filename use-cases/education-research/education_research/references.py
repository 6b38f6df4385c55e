"""A paper's reference list: entries split, parsed, and keyed for the citation graph.

Each :class:`Reference` keeps its raw text, the DOI when one is written, the year, the authors part
and the title. Its :attr:`Reference.key` is what joins papers in the citation graph:
``doi:<lower-case DOI>`` when the reference gives a DOI, else ``title:<normalised title>``
(:func:`normalise_title`: accents removed, lower case, letters and digits only). A counter or a
position in the list is never a key, so the same work cited by two papers is one node.

Entries are found after a heading ``References`` / ``Bibliography`` / ``Literatur`` /
``Referencias``; an entry starts with ``[n]``, ``n.`` or, failing both, each non-empty line is one.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
_DOI_TRAILING = ".,;:)]}>'\""
_HEADING = re.compile(
    r"^\s*(?:\d+\.?\s*)?(References|Bibliography|Literatur|Referencias|Références|Works Cited)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_BRACKETED = re.compile(r"^\s*\[(\d{1,4})\]\s*", re.MULTILINE)
_NUMBERED = re.compile(r"^\s*(\d{1,4})\.\s+(?=[A-ZÀ-Þ])", re.MULTILINE)
_YEAR = re.compile(r"\((1[5-9]\d{2}|20\d{2})[a-z]?\)|\b(1[5-9]\d{2}|20\d{2})\b")
_DOI_LABEL = re.compile(r"\s*(?:doi:|https?://(?:dx\.)?doi\.org/)\s*", re.IGNORECASE)


def clean_doi(raw: str) -> str:
    """A DOI in lower case without a resolver prefix or trailing punctuation."""
    doi = _DOI_LABEL.sub("", raw.strip())
    while doi and doi[-1] in _DOI_TRAILING:
        if doi[-1] == ")" and doi.count("(") >= doi.count(")"):
            break
        doi = doi[:-1]
    return doi.lower()


def find_doi(text: str) -> str:
    found = DOI.search(text)
    return clean_doi(found.group(1)) if found else ""


def normalise_title(title: str) -> str:
    """Accents removed, lower case, runs of anything but letters and digits as one space."""
    decomposed = unicodedata.normalize("NFKD", title)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.findall(r"[^\W_]+", plain))


def paper_key(doi: str, title: str) -> str:
    """The graph key of a work: its DOI, else its normalised title ("" when it has neither)."""
    if doi:
        return f"doi:{clean_doi(doi)}"
    normalised = normalise_title(title)
    return f"title:{normalised}" if normalised else ""


@dataclass(frozen=True)
class Reference:
    raw: str
    authors: str
    title: str
    year: int | None
    doi: str

    @property
    def key(self) -> str:
        return paper_key(self.doi, self.title)

    def to_dict(self) -> dict[str, Any]:
        return {
            "raw": self.raw,
            "authors": self.authors,
            "title": self.title,
            "year": self.year,
            "doi": self.doi,
            "key": self.key,
        }


def reference_section(text: str) -> str:
    """The text after the last References heading, or "" when there is none."""
    matches = list(_HEADING.finditer(text))
    return text[matches[-1].end() :] if matches else ""


def split_entries(section: str) -> list[str]:
    """The entries of a reference section, each on one line."""
    for pattern in (_BRACKETED, _NUMBERED):
        starts = list(pattern.finditer(section))
        if len(starts) >= 1:
            entries = []
            for index, match in enumerate(starts):
                end = starts[index + 1].start() if index + 1 < len(starts) else len(section)
                entries.append(" ".join(section[match.end() : end].split()))
            return [entry for entry in entries if entry]
    return [" ".join(line.split()) for line in section.splitlines() if line.strip()]


def parse_reference(entry: str) -> Reference:
    """Authors, title, year and DOI of one entry: ``Authors. Title. Venue, year. doi:...``."""
    doi = find_doi(entry)
    without_doi = DOI.sub("", _DOI_LABEL.sub(" ", entry)) if doi else entry
    year_match = _YEAR.search(without_doi)
    year = int(year_match.group(1) or year_match.group(2)) if year_match else None
    # Sentences split at ". " but not after an initial ("A. Author").
    parts = [p.strip() for p in re.split(r"(?<![A-Z])(?<!\b[A-Z][a-z])\.\s+", without_doi) if p.strip()]
    authors = parts[0] if parts else ""
    title = parts[1] if len(parts) > 1 else ""
    if year_match and title.startswith(year_match.group(0)):
        title = title[len(year_match.group(0)) :].strip(" .")
    return Reference(entry, authors, title.strip(" ."), year, doi)


def parse_references(text: str) -> list[Reference]:
    """Every reference of a paper's text (empty when it has no reference section)."""
    return [parse_reference(entry) for entry in split_entries(reference_section(text))]
