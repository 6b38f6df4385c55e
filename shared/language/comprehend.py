"""Comprehend over texts of any length: byte chunks, language routing, offsets into the original.

:class:`Comprehend` wraps the synchronous, single-document calls:

* :meth:`Comprehend.dominant_language`: ``DetectDominantLanguage`` on the first chunk (one call,
  whatever the length: the opening 100 KB of a document decide its language).
* :meth:`Comprehend.entities`, :meth:`Comprehend.key_phrases`, :meth:`Comprehend.pii_entities`:
  one call per non-blank chunk of at most :data:`COMPREHEND_MAX_BYTES` UTF-8 bytes
  (:mod:`shared.language.chunking`); each answer's ``BeginOffset`` / ``EndOffset`` (code points
  within the chunk) become offsets into the whole text, so ``text[e.begin:e.end]`` is the entity.
* :meth:`Comprehend.medical_entities`, :meth:`Comprehend.phi`: Comprehend Medical
  (``DetectEntitiesV2``, ``DetectPHI``), English only, chunks under 20,000 bytes.
* :meth:`Comprehend.analyse`: detect the language, then run each requested feature the language
  supports; a feature the language does not support is a recorded reason in
  :attr:`LanguageAnalysis.skipped` (PII detection supports only ``en`` and ``es``), never a crash.

A language the caller names but the call does not support raises
:class:`UnsupportedLanguageError`; Comprehend refusing one document (too large, unsupported)
raises :class:`LanguageRejectedError`, a :class:`~shared.polling.errors.FileRejectedError` that the
skeleton turns into a FAILED result; throttling raises
:class:`~shared.polling.errors.TransientServiceError` (``shared.polling.aws.call``).

PII is never logged: :class:`PiiEntity` keeps type, offsets and score, and its text only on demand
(:meth:`PiiEntity.text_in`). ``calls`` counts the requests made, per operation, for cost figures.

    comprehend = Comprehend()                       # clients made on first use
    analysis = comprehend.analyse(text)             # language + entities + key phrases + PII
    analysis.language, analysis.skipped             # "fr", {"pii": "PII detection supports ..."}
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from shared.clients import LazyClient
from shared.language.chunking import (
    COMPREHEND_MAX_BYTES,
    COMPREHEND_MEDICAL_MAX_BYTES,
    Chunk,
    chunk_text,
)
from shared.polling import aws
from shared.polling.errors import FileRejectedError

logger = logging.getLogger(__name__)

# Languages of the built-in DetectEntities / DetectKeyPhrases models.
ENTITY_LANGUAGES = frozenset({"en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW"})
KEY_PHRASE_LANGUAGES = ENTITY_LANGUAGES
# DetectPiiEntities.
PII_LANGUAGES = frozenset({"en", "es"})
# Comprehend Medical.
MEDICAL_LANGUAGES = frozenset({"en"})

FEATURES = ("entities", "key_phrases", "pii")
_SUPPORTED = {"entities": ENTITY_LANGUAGES, "key_phrases": KEY_PHRASE_LANGUAGES, "pii": PII_LANGUAGES}
_LABELS = {"entities": "entity detection", "key_phrases": "key phrase detection", "pii": "PII detection"}

# Codes with which Comprehend refuses one document rather than the deployment.
PER_DOCUMENT_CODES = frozenset(
    {"TextSizeLimitExceededException", "UnsupportedLanguageException", "InvalidRequestException"}
)


class LanguageRejectedError(FileRejectedError):
    """Comprehend refused this document (too large, unsupported language, invalid request)."""


class UnsupportedLanguageError(LanguageRejectedError):
    """The operation does not support the document's language."""


@dataclass(frozen=True)
class Entity:
    """An entity or key phrase; ``begin`` and ``end`` are character offsets into the whole text."""

    type: str
    text: str
    begin: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "text": self.text,
            "begin": self.begin,
            "end": self.end,
            "score": self.score,
        }


@dataclass(frozen=True)
class PiiEntity:
    """A PII finding: type and offsets only, so printing or logging it leaks nothing."""

    type: str
    begin: int
    end: int
    score: float

    def text_in(self, text: str) -> str:
        return text[self.begin : self.end]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "begin": self.begin, "end": self.end, "score": self.score}


@dataclass
class LanguageAnalysis:
    """What :meth:`Comprehend.analyse` found, and what it did not run and why."""

    language: str
    language_score: float
    entities: list[Entity] = field(default_factory=list)
    key_phrases: list[Entity] = field(default_factory=list)
    pii: list[PiiEntity] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    chunks: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "language_score": self.language_score,
            "entities": [e.to_dict() for e in self.entities],
            "key_phrases": [k.to_dict() for k in self.key_phrases],
            "pii": [p.to_dict() for p in self.pii],
            "skipped": dict(self.skipped),
            "chunks": self.chunks,
        }


def unsupported_reason(feature: str, language: str) -> str | None:
    """Why ``feature`` cannot run on ``language``, or None when it can."""
    supported = _SUPPORTED[feature]
    if language in supported:
        return None
    return f"{_LABELS[feature]} supports {', '.join(sorted(supported))}; the text is {language!r}"


def _offsets(chunk: Chunk, item: dict[str, Any]) -> tuple[int, int]:
    return chunk.start + int(item["BeginOffset"]), chunk.start + int(item["EndOffset"])


class Comprehend:
    """Comprehend and Comprehend Medical calls over chunked text (see the module docstring)."""

    client = LazyClient("comprehend")

    def __init__(
        self,
        client: Any = None,
        medical_client: Any = None,
        *,
        max_bytes: int = COMPREHEND_MAX_BYTES,
        medical_max_bytes: int = COMPREHEND_MEDICAL_MAX_BYTES,
        min_score: float = 0.0,
    ) -> None:
        self._client = client
        self._medical_client = medical_client
        self.max_bytes = max_bytes
        self.medical_max_bytes = medical_max_bytes
        self.min_score = min_score
        self.calls: Counter[str] = Counter()

    @property
    def medical_client(self) -> Any:
        if self._medical_client is None:
            from shared.clients import aws_client

            self._medical_client = aws_client("comprehendmedical")
        return self._medical_client

    def _call(self, service: str, operation: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        self.calls[operation] += 1
        return aws.call(
            service,
            operation,
            fn,
            per_item_codes=PER_DOCUMENT_CODES,
            rejected=LanguageRejectedError,
            **kwargs,
        )

    def _chunks(self, text: str, max_bytes: int) -> list[Chunk]:
        return [chunk for chunk in chunk_text(text, max_bytes) if not chunk.is_blank]

    # -- language --

    def dominant_language(self, text: str) -> tuple[str, float]:
        """(code, score) of the dominant language of the first chunk; ("und", 0.0) for blank text."""
        chunks = self._chunks(text, self.max_bytes)
        if not chunks:
            return "und", 0.0
        answer = self._call(
            "comprehend", "DetectDominantLanguage", self.client.detect_dominant_language, Text=chunks[0].text
        )
        languages = sorted(answer.get("Languages", []), key=lambda item: -float(item.get("Score", 0.0)))
        if not languages:
            return "und", 0.0
        return str(languages[0]["LanguageCode"]), float(languages[0].get("Score", 0.0))

    def _require(self, feature: str, language: str) -> None:
        reason = unsupported_reason(feature, language)
        if reason:
            raise UnsupportedLanguageError(reason, language=language, feature=feature)

    # -- per-chunk operations --

    def entities(self, text: str, language: str) -> list[Entity]:
        """``DetectEntities`` over every chunk, offsets into ``text``."""
        self._require("entities", language)
        found: list[Entity] = []
        for chunk in self._chunks(text, self.max_bytes):
            answer = self._call(
                "comprehend",
                "DetectEntities",
                self.client.detect_entities,
                Text=chunk.text,
                LanguageCode=language,
            )
            found.extend(self._spans(text, chunk, answer.get("Entities", []), "Type"))
        return found

    def key_phrases(self, text: str, language: str) -> list[Entity]:
        """``DetectKeyPhrases`` over every chunk (type ``KEY_PHRASE``), offsets into ``text``."""
        self._require("key_phrases", language)
        found: list[Entity] = []
        for chunk in self._chunks(text, self.max_bytes):
            answer = self._call(
                "comprehend",
                "DetectKeyPhrases",
                self.client.detect_key_phrases,
                Text=chunk.text,
                LanguageCode=language,
            )
            found.extend(self._spans(text, chunk, answer.get("KeyPhrases", []), None))
        return found

    def pii_entities(self, text: str, language: str) -> list[PiiEntity]:
        """``DetectPiiEntities`` over every chunk (``en`` and ``es`` only), offsets into ``text``."""
        self._require("pii", language)
        found: list[PiiEntity] = []
        for chunk in self._chunks(text, self.max_bytes):
            answer = self._call(
                "comprehend",
                "DetectPiiEntities",
                self.client.detect_pii_entities,
                Text=chunk.text,
                LanguageCode=language,
            )
            for item in answer.get("Entities", []):
                score = float(item.get("Score", 0.0))
                if score < self.min_score:
                    continue
                begin, end = _offsets(chunk, item)
                found.append(PiiEntity(str(item.get("Type", "")), begin, end, score))
        return found

    def medical_entities(self, text: str) -> list[Entity]:
        """Comprehend Medical ``DetectEntitiesV2`` (English), chunks under 20,000 bytes."""
        return self._medical(text, "DetectEntitiesV2", "detect_entities_v2")

    def phi(self, text: str) -> list[Entity]:
        """Comprehend Medical ``DetectPHI`` (English), chunks under 20,000 bytes."""
        return self._medical(text, "DetectPHI", "detect_phi")

    def _medical(self, text: str, operation: str, method: str) -> list[Entity]:
        found: list[Entity] = []
        for chunk in self._chunks(text, self.medical_max_bytes):
            answer = self._call(
                "comprehendmedical", operation, getattr(self.medical_client, method), Text=chunk.text
            )
            found.extend(self._spans(text, chunk, answer.get("Entities", []), "Type"))
        return found

    def _spans(
        self, text: str, chunk: Chunk, items: Iterable[dict[str, Any]], type_key: str | None
    ) -> list[Entity]:
        spans: list[Entity] = []
        for item in items:
            score = float(item.get("Score", 0.0))
            if score < self.min_score:
                continue
            begin, end = _offsets(chunk, item)
            original = text[begin:end]
            if "Text" in item and item["Text"] != original:
                # The service's offsets disagree with its own text: keep the offsets (they index the
                # original) and say so, without printing either text.
                logger.warning("entity offsets %d..%d do not match the returned text", begin, end)
            kind = str(item.get(type_key, "")) if type_key else "KEY_PHRASE"
            spans.append(Entity(kind, original, begin, end, score))
        return spans

    # -- routing --

    def analyse(
        self, text: str, features: Iterable[str] = FEATURES, *, language: str | None = None
    ) -> LanguageAnalysis:
        """Detect the language (unless given), then run each feature that language supports."""
        wanted = list(features)
        unknown = [f for f in wanted if f not in _SUPPORTED]
        if unknown:
            raise ValueError(f"unknown feature(s) {unknown}; expected some of {list(FEATURES)}")
        score = 1.0
        if language is None:
            language, score = self.dominant_language(text)
        analysis = LanguageAnalysis(language, score, chunks=len(self._chunks(text, self.max_bytes)))
        if analysis.chunks == 0:
            analysis.skipped.update(dict.fromkeys(wanted, "the text is empty"))
            return analysis
        for feature in wanted:
            reason = unsupported_reason(feature, language)
            if reason:
                analysis.skipped[feature] = reason
                continue
            if feature == "entities":
                analysis.entities = self.entities(text, language)
            elif feature == "key_phrases":
                analysis.key_phrases = self.key_phrases(text, language)
            else:
                analysis.pii = self.pii_entities(text, language)
        return analysis
