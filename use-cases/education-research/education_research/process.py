"""One paper version into its result document: text layer, metadata, language and key phrases.

The PDF is read from the access point (its listed size checked first), its text layer parsed
(:mod:`education_research.papers`), and Comprehend (``shared.language``, byte chunks) detects the
language from the opening ``LANGUAGE_CHARS`` characters and, only for a paper without a keyword
line, the key phrases of its first ``KEY_PHRASE_CHARS`` characters, which then fill its keywords.
Comprehend bills per 100 characters, so the whole text is never sent. A broken file is a FAILED
result with the reader's reason (:mod:`education_research.pdftext`); throttling raises and is
retried by the state.

The result document carries a ``paper`` section with everything the index step needs, including
the first ``INDEX_BODY_CHARS`` characters of the text, so the index is built without reading any
PDF again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

from education_research.papers import PaperMetadata, parse_paper
from education_research.pdftext import PdfError, read_pdf
from shared.config import CommonConfig, env
from shared.errors import FAILED, SUCCEEDED
from shared.language.chunking import chunk_text, utf8_size
from shared.language.comprehend import Comprehend, LanguageAnalysis, unsupported_reason
from shared.observability import stats, xray_subsegment
from shared.polling.results import result_document, write_result
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

SUFFIXES = (".pdf",)
KEYWORDS_FROM_PHRASES = 6


@dataclasses.dataclass(frozen=True, kw_only=True)
class PaperConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    max_pdf_mib: int = env("MAX_PDF_MIB", 50)
    enable_comprehend: bool = env("ENABLE_COMPREHEND", True)
    # Comprehend bills per 100 characters: the language comes from the opening characters, and key
    # phrases (only for a paper without a keyword line) from the front matter, never the whole text.
    language_chars: int = env("LANGUAGE_CHARS", 2_000)
    key_phrase_chars: int = env("KEY_PHRASE_CHARS", 10_000)
    index_body_chars: int = env("INDEX_BODY_CHARS", 20_000)


@dataclasses.dataclass(frozen=True)
class SourceFile:
    key: str
    etag: str
    size: int

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> SourceFile:
        return cls(str(event["key"]), str(event.get("etag", "")), int(event["size"]))


def keywords_from_phrases(analysis: LanguageAnalysis, limit: int = KEYWORDS_FROM_PHRASES) -> list[str]:
    """The most frequent key phrases (lower case, two letters at least), best first."""
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    for phrase in analysis.key_phrases:
        norm = " ".join(phrase.text.lower().split())
        if len(norm) < 3 or norm.isdigit():
            continue
        counts[norm] += 1
        first.setdefault(norm, norm)
    ranked = sorted(counts, key=lambda p: (-counts[p], -len(p.split()), p))
    return [first[p] for p in ranked[:limit]]


def describe(
    comprehend: Comprehend, text: str, *, needs_keywords: bool, cfg: PaperConfig
) -> LanguageAnalysis:
    """The paper's language; and, when it has no keyword line, key phrases of its front matter."""
    language, score = comprehend.dominant_language(text[: cfg.language_chars])
    front = text[: cfg.key_phrase_chars]
    analysis = LanguageAnalysis(language, score, chunks=len(chunk_text(front)))
    if not needs_keywords:
        analysis.skipped["key_phrases"] = "the paper has a keyword line"
        return analysis
    reason = unsupported_reason("key_phrases", language)
    if reason:
        analysis.skipped["key_phrases"] = reason
        return analysis
    analysis.key_phrases = comprehend.key_phrases(front, language)
    return analysis


def comprehend_section(
    comprehend: Comprehend, analysis: LanguageAnalysis | None, text: str, calls_before: int, cfg: PaperConfig
) -> dict[str, Any]:
    if analysis is None:
        return {"status": "SKIPPED", "reason": "ENABLE_COMPREHEND is false"}
    return {
        "status": SUCCEEDED,
        "language": analysis.language,
        "language_score": analysis.language_score,
        "key_phrases": len(analysis.key_phrases),
        "chunks": analysis.chunks,
        "text_bytes": utf8_size(text),
        "sent_chars": min(len(text), cfg.language_chars)
        + (min(len(text), cfg.key_phrase_chars) if analysis.key_phrases else 0),
        "calls": sum(comprehend.calls.values()) - calls_before,
        "skipped": analysis.skipped,
    }


def paper_section(
    file: SourceFile, meta: PaperMetadata, *, language: str, pages: int, body: str
) -> dict[str, Any]:
    return {
        **meta.to_dict(),
        "source_key": file.key,
        "etag": file.etag,
        "language": language,
        "pages": pages,
        "body": body,
    }


def process_paper(
    source: S3AccessPoint,
    output: S3AccessPoint,
    file: SourceFile,
    *,
    run_id: str,
    cfg: PaperConfig,
    comprehend: Comprehend,
) -> dict[str, Any]:
    """Read, parse and describe one paper; write its result document and return its summary."""
    limit = cfg.max_pdf_mib * 1024 * 1024

    def failed(reason: str, error: str) -> dict[str, Any]:
        body = result_document(
            key=file.key,
            etag=file.etag,
            status=FAILED,
            source=source.target,
            reason=reason,
            error=error,
            sections={"run_id": run_id, "size": file.size},
        )
        write_result(output, body)
        stats().failed()
        return summary(body)

    if file.size > limit:
        return failed(
            f"file is {file.size} bytes, above MAX_PDF_MIB={cfg.max_pdf_mib}", "ObjectTooLargeError"
        )
    data = source.get_bytes(file.key, max_bytes=limit)
    try:
        with xray_subsegment("read_pdf", {"bytes": len(data)}):
            pdf = read_pdf(data, file.key)
    except PdfError as error:
        return failed(error.reason, type(error).__name__)
    text = pdf.text
    meta = parse_paper(text)
    analysis = None
    calls_before = sum(comprehend.calls.values())
    if cfg.enable_comprehend:
        with xray_subsegment("comprehend", {"bytes": utf8_size(text)}):
            analysis = describe(comprehend, text, needs_keywords=not meta.keywords, cfg=cfg)
        if not meta.keywords and analysis.key_phrases:
            meta.keywords = keywords_from_phrases(analysis)
            meta.keywords_source = "comprehend"
    language = analysis.language if analysis else ""
    body = result_document(
        key=file.key,
        etag=file.etag,
        status=SUCCEEDED,
        source=source.target,
        sections={
            "run_id": run_id,
            "size": file.size,
            "pdf": {"pages": pdf.page_count, "pages_with_text": pdf.pages_with_text},
            "paper": paper_section(
                file, meta, language=language, pages=pdf.page_count, body=text[: cfg.index_body_chars]
            ),
            "comprehend": comprehend_section(comprehend, analysis, text, calls_before, cfg),
        },
    )
    write_result(output, body)
    stats().processed(files=1, bytes_=file.size)
    return summary(body)


def summary(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the Paper step returns to the state machine: small, whatever the document holds."""
    out = {"key": body["source"]["key"], "status": body["status"], "output_key": body["output_key"]}
    for name in ("reason", "error"):
        if name in body:
            out[name] = body[name]
    return out
