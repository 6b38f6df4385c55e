"""Language core and UC13: Comprehend calls per 1 MB of text against the byte-chunk floor.

* Calls: 1 MB (UTF-8 bytes) of three texts (English prose, Greek and Chinese prose with 2- and
  3-byte characters, and a text with spaces only every 2,000 bytes) through
  :class:`shared.language.comprehend.Comprehend` with the local stand-in answering
  ``DetectKeyPhrases`` (no botocore: the figure is the chunking's). Reported: calls per MB beside
  the floor ``ceil(bytes / 100,000)``, their ratio (target at most 1.15: cutting at sentence or
  whitespace boundaries costs at most a few extra calls), and, for the same texts cut into
  100,000-character chunks, how many chunks would exceed the byte limit and be refused by AWS.
* Chunking speed: MB/s of :func:`chunk_text` beside a bare ``str.encode`` of the same text.
* UC13: papers/s through the text-layer reader and parser (the demo's sample papers), papers/s
  inserted into the FTS5 index, bytes of index per paper, and on the demo papers the Comprehend
  calls per paper (baseline: the one DetectDominantLanguage every paper needs) and the characters
  sent per paper beside the characters of its whole text (Comprehend bills per 100 characters).
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from scripts import catalog
from scripts.bench import Report, stopwatch
from scripts.localcloud.comprehend import ComprehendStandIn
from shared.language.chunking import COMPREHEND_MAX_BYTES, chunk_floor, chunk_text, utf8_size
from shared.language.comprehend import Comprehend

logger = logging.getLogger(__name__)

MB = 1_000_000
TARGET_RATIO = 1.15

_ENGLISH = (
    "Institutional repositories keep theses and articles on shared file systems. "
    "A full-text index built from each paper's text layer changes what students find. "
)
_GREEK_CHINESE = "\u0397 βιβλιοθήκη κρατά διατριβές και άρθρα. 图书馆保存论文和文章。 "
_FEW_SPACES = "x" * 1999 + " "


def _text(unit: str, size: int = MB) -> str:
    """``unit`` repeated to about ``size`` UTF-8 bytes."""
    return unit * max(1, size // utf8_size(unit))


class _Direct:
    """The stand-in's answers without botocore (the wrapper counts the requests)."""

    def detect_key_phrases(self, **params: Any) -> dict[str, Any]:
        return ComprehendStandIn.answer("DetectKeyPhrases", params)

    def detect_dominant_language(self, **params: Any) -> dict[str, Any]:
        return ComprehendStandIn.answer("DetectDominantLanguage", params)


def _calls(report: Report) -> None:
    for label, unit in (
        ("english", _ENGLISH),
        ("greek+chinese", _GREEK_CHINESE),
        ("few spaces", _FEW_SPACES),
    ):
        text = _text(unit)
        megabytes = utf8_size(text) / MB
        comprehend = Comprehend(_Direct())
        comprehend.key_phrases(text, "en")
        calls = comprehend.calls["DetectKeyPhrases"]
        floor = chunk_floor(text, COMPREHEND_MAX_BYTES)
        ratio = calls / floor
        report.add(
            f"{label}: DetectKeyPhrases calls per MB",
            calls / megabytes,
            "calls/MB",
            baseline=floor / megabytes,
            target=f"<= {TARGET_RATIO}x the byte floor",
            met=ratio <= TARGET_RATIO,
        )
        by_chars = [text[i : i + COMPREHEND_MAX_BYTES] for i in range(0, len(text), COMPREHEND_MAX_BYTES)]
        refused = sum(1 for piece in by_chars if utf8_size(piece) > COMPREHEND_MAX_BYTES)
        report.add(
            f"{label}: 100k-character chunks over the byte limit", refused, "chunks", baseline=len(by_chars)
        )


def _speed(report: Report) -> None:
    text = _text(_GREEK_CHINESE, 4 * MB)
    size = utf8_size(text) / MB
    with stopwatch() as chunking:
        chunk_text(text)
    with stopwatch() as encoding:
        text.encode("utf-8")
    report.add("chunk_text, mixed multi-byte text", size / chunking(), "MB/s", baseline=size / encoding())


def _uc13(report: Report) -> None:
    catalog.make_importable()
    from education_research import demo, samples
    from education_research.papers import parse_paper
    from education_research.pdftext import read_pdf
    from education_research.search_index import apply_run, open_index

    papers = [demo.extra_paper(i) for i in range(40)] + list(samples.COLLECTION)
    blobs = [p.pdf() for p in papers]
    parsed = []
    with stopwatch() as reading:
        for paper, blob in zip(papers, blobs, strict=True):
            pdf = read_pdf(blob, paper.key)
            parsed.append((paper.key, pdf.text, parse_paper(pdf.text)))
    report.add("UC13 papers read and parsed (text layer)", len(parsed) / reading(), "papers/s")
    rows = [
        {**meta.to_dict(), "source_key": key, "etag": "e", "language": "en", "pages": 1, "body": text}
        for key, text, meta in parsed
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "papers.sqlite"
        connection = open_index(str(path))
        with stopwatch() as indexing:
            apply_run(connection, rows, [], "bench")
        connection.close()
        size = path.stat().st_size
    report.add("UC13 papers into the FTS5 index", len(rows) / indexing(), "papers/s")
    report.add("UC13 index size per paper", size / len(rows), "bytes")
    from education_research.process import PaperConfig, describe

    cfg = PaperConfig(use_case="education-research", access_point="ap", output_bucket="out")
    comprehend = Comprehend(_Direct())
    sent = 0
    for _, text, meta in parsed:
        analysis = describe(comprehend, text, needs_keywords=not meta.keywords, cfg=cfg)
        sent += min(len(text), cfg.language_chars) + (
            min(len(text), cfg.key_phrase_chars) if analysis.key_phrases else 0
        )
    calls = sum(comprehend.calls.values())
    report.add("UC13 Comprehend calls per paper (demo papers)", calls / len(parsed), "calls", baseline=1.0)
    report.add(
        "UC13 characters sent to Comprehend per paper",
        sent / len(parsed),
        "chars",
        baseline=sum(len(text) for _, text, _ in parsed) / len(parsed),
    )


def run(report: Report) -> None:
    _calls(report)
    _speed(report)
    _uc13(report)
    logger.debug("sqlite %s", sqlite3.sqlite_version)
