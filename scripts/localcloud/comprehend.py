"""Local stand-ins for Amazon Comprehend: DetectDominantLanguage, DetectEntities, DetectKeyPhrases,
DetectPiiEntities.

moto raises NotImplementedError for DetectEntities and DetectDominantLanguage and answers
DetectPiiEntities and DetectKeyPhrases with canned data whose offsets ignore the input. These
stand-ins are NOT models: every answer comes from the request text by simple rules, with real
character offsets (code points, as Comprehend counts them), so ``Text[BeginOffset:EndOffset]`` is
what was found:

* language: the script of the letters (Hiragana/Katakana ``ja``, Hangul ``ko``, Han ``zh``, Arabic
  ``ar``, Devanagari ``hi``, Cyrillic ``ru``), else the most frequent stop words of ``en``, ``es``,
  ``fr``, ``de``, ``it``, ``pt``;
* entities: ``DATE`` (ISO and written dates, years in brackets), ``QUANTITY`` (numbers with a unit or
  percent), ``PERSON`` (two or three capitalised words, initials allowed), ``ORGANIZATION``
  (capitalised words ending in University, Institute, Inc, ...), ``OTHER`` (DOIs, URLs, emails);
* key phrases: runs of one to three content words between stop words and punctuation;
* PII: ``EMAIL``, ``PHONE``, ``URL``, ``DATE_TIME``, ``SSN``, ``CREDIT_DEBIT_NUMBER`` and ``NAME``
  (the PERSON rule), type and offsets only, as the real answer has no ``Text``.

Each rejects what AWS rejects: more than 100 KB of UTF-8 (``TextSizeLimitExceededException``), a
language the operation does not support (``UnsupportedLanguageException``; PII supports only
``en`` and ``es``).

Add ``[stand-in: throttle]`` to a text to get a ``ThrottlingException`` (for retry tests).
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.awsrequest import AWSResponse

from scripts.localcloud import hooks

logger = logging.getLogger(__name__)

MAX_BYTES = 100_000
ENTITY_LANGUAGES = frozenset({"en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW"})
PII_LANGUAGES = frozenset({"en", "es"})
THROTTLE_MARKER = "[stand-in: throttle]"

_STOP = {
    "en": "a the of and to in is that for it with as was on are by this be from or an at which we our "
    "their these have has not but can also been were they its more than such into between using",
    "es": "el la de que y en los del se las por un para con una su al lo como más pero sus le ya "
    "o este sí porque esta entre cuando muy sin sobre también",
    "fr": "le la les de des du et en un une est que qui dans pour pas sur au aux avec ce ces il elle "
    "nous vous sont par plus ou mais",
    "de": "der die das und in den von zu mit sich des auf für ist im dem nicht ein eine als auch es "
    "an werden aus er hat dass sie nach wird bei",
    "it": "il lo la i gli le di del della che e è in un una per con non sono da al alla nel si come "
    "anche più ma",
    "pt": "o a os as de do da dos das que e é em um uma para com não por no na se mais como mas ao "
    "aos foi são",
}
_STOP_WORDS = {language: frozenset(words.split()) for language, words in _STOP.items()}
_ALL_STOP = frozenset().union(*_STOP_WORDS.values())

_SCRIPTS = (
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
)
_LETTER_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_DATE = re.compile(
    rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b"
    rf"|\b\d{{1,2}} (?:{_MONTHS}) \d{{4}}\b|\b(?:{_MONTHS}) \d{{1,2}}, \d{{4}}\b"
    r"|(?<=\()(?:19|20)\d{2}(?=\))"
)
_QUANTITY = re.compile(
    r"\b\d+(?:[.,]\d+)?\s?(?:%|percent\b|kg\b|km\b|ms\b|GB\b|MB\b|samples\b|participants\b)"
)
_CAP = r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_PERSON = re.compile(rf"\b{_CAP}(?: [A-Z]\.)*(?: {_CAP}){{1,2}}\b")
_ORG = re.compile(
    r"\b(?:[A-Z][\w&-]*\s){0,4}(?:University|Institute|Laboratory|College|Inc|Ltd|Corporation|Corp|"
    r"GmbH|Foundation|Society|Agency)\b(?: of(?: [A-Z][\w-]*)+)?"
)
_DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+[^\s\"<>.,;)]")
_URL = re.compile(r"\bhttps?://[^\s<>\"]+[^\s<>\".,;)]")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<!\w)(?:\+\d{1,3}[ -]?)?(?:\(\d{2,4}\)[ -]?|\d{2,4}[ -.])\d{3,4}[ -.]\d{3,4}\b")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_CARD = re.compile(r"\b(?:\d{4}[ -]){3}\d{4}\b")
_PHRASE_SPLIT = re.compile(r"[^\w'-]+|\b\d+\b", re.UNICODE)
_PHRASE_WORD = re.compile(r"[\w'-]+", re.UNICODE)
# Capitalised words that start sentences or headings rather than names.
_NOT_NAMES = frozenset(
    {
        "The", "This", "These", "That", "Those", "In", "On", "At", "For", "With", "From", "We", "Our",
        "It", "Its", "A", "An", "Abstract", "Introduction", "Keywords", "References", "Results",
        "Methods", "Discussion", "Conclusion", "Table", "Figure", "Section", "Journal", "Proceedings",
        "Vol",
    }
)  # fmt: skip


class StandInRequestError(Exception):
    """What AWS would refuse; ``code`` is the error code the client raises."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def _score(text: str, base: float = 0.85) -> float:
    return round(base + hashlib.sha256(text.encode()).digest()[0] / 255.0 * (0.999 - base), 4)


def _check(text: str, language: str | None, supported: frozenset[str] | None) -> None:
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise StandInRequestError(
            "TextSizeLimitExceededException",
            f"Input text size exceeds limit. Max length of request text allowed is {MAX_BYTES} bytes "
            f"while in this request the text size is {size} bytes",
        )
    if THROTTLE_MARKER in text:
        raise StandInRequestError("ThrottlingException", "Rate exceeded", 400)
    if supported is not None and language not in supported:
        raise StandInRequestError(
            "UnsupportedLanguageException",
            f"Amazon Comprehend can not process the language in the input text. Language code "
            f"{language!r} is not supported by this operation",
        )


def detect_dominant_language(text: str) -> dict[str, Any]:
    """The language by script, else by stop words (see the module docstring)."""
    _check(text, None, None)
    letters = len(_LETTER_WORD.findall(text)) or 1
    for code, pattern in _SCRIPTS:
        share = len(pattern.findall(text)) / max(1, len(text.strip()))
        if share > 0.2:
            return {"Languages": [{"LanguageCode": code, "Score": round(min(0.99, 0.5 + share), 4)}]}
    words = [w.lower() for w in _LETTER_WORD.findall(text)]
    counts = Counter({code: sum(w in stop for w in words) for code, stop in _STOP_WORDS.items()})
    ranked = counts.most_common()
    if not ranked or ranked[0][1] == 0:
        return {"Languages": [{"LanguageCode": "en", "Score": 0.3}]}
    total = sum(count for _, count in ranked) or 1
    languages = [
        {"LanguageCode": code, "Score": round(min(0.99, count / total + min(0.3, count / letters)), 4)}
        for code, count in ranked[:3]
        if count
    ]
    return {"Languages": languages}


def _spans(patterns: list[tuple[str, re.Pattern[str]]], text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping matches, earlier patterns first on a tie: (begin, end, type)."""
    taken: list[tuple[int, int, str]] = []
    for kind, pattern in patterns:
        for match in pattern.finditer(text):
            begin, end = match.span()
            if kind in {"PERSON", "NAME"}:
                first = match.group(0).split(" ", 1)[0]
                if first in _NOT_NAMES:
                    continue
            if any(begin < e and b < end for b, e, _ in taken):
                continue
            taken.append((begin, end, kind))
    taken.sort()
    return taken


def detect_entities(text: str, language: str) -> dict[str, Any]:
    _check(text, language, ENTITY_LANGUAGES)
    spans = _spans(
        [
            ("OTHER", _DOI),
            ("OTHER", _URL),
            ("OTHER", _EMAIL),
            ("DATE", _DATE),
            ("QUANTITY", _QUANTITY),
            ("ORGANIZATION", _ORG),
            ("PERSON", _PERSON),
        ],
        text,
    )
    return {
        "Entities": [
            {
                "Score": _score(text[b:e]),
                "Type": kind,
                "Text": text[b:e],
                "BeginOffset": b,
                "EndOffset": e,
            }
            for b, e, kind in spans
        ]
    }


def detect_key_phrases(text: str, language: str) -> dict[str, Any]:
    """Runs of up to three content words (not stop words, at least 4 letters for a lone word)."""
    _check(text, language, ENTITY_LANGUAGES)
    stop = _STOP_WORDS.get(language, _ALL_STOP)
    phrases: list[dict[str, Any]] = []
    run: list[re.Match[str]] = []

    def flush() -> None:
        while run:
            group = run[:3]
            del run[:3]
            begin, end = group[0].start(), group[-1].end()
            phrase = text[begin:end]
            if len(group) > 1 or len(phrase) >= 4:
                phrases.append(
                    {"Score": _score(phrase), "Text": phrase, "BeginOffset": begin, "EndOffset": end}
                )

    position = 0
    for match in _PHRASE_WORD.finditer(text):
        gap = text[position : match.start()]
        position = match.end()
        if gap.strip() or match.group(0).lower() in stop or match.group(0).isdigit():
            flush()
        if match.group(0).lower() in stop or match.group(0).isdigit():
            continue
        run.append(match)
    flush()
    return {"KeyPhrases": phrases}


def detect_pii_entities(text: str, language: str) -> dict[str, Any]:
    _check(text, language, PII_LANGUAGES)
    spans = _spans(
        [
            ("EMAIL", _EMAIL),
            ("URL", _URL),
            ("SSN", _SSN),
            ("CREDIT_DEBIT_NUMBER", _CARD),
            ("DATE_TIME", _DATE),
            ("PHONE", _PHONE),
            ("NAME", _PERSON),
        ],
        text,
    )
    return {
        "Entities": [
            {"Score": _score(text[b:e]), "Type": kind, "BeginOffset": b, "EndOffset": e}
            for b, e, kind in spans
        ]
    }


# -- wiring ----------------------------------------------------------------------------------------

_PARAMS_KEY = "localcloud_api_params"


def _stash_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS_KEY] = params


@dataclass
class ComprehendStandIn:
    """Registers the Comprehend hooks on every botocore session created while installed."""

    calls: Counter[str] = field(default_factory=Counter)
    _handlers: list[tuple[str, Callable[..., Any]]] = field(default_factory=list)

    OPERATIONS: ClassVar[tuple[str, ...]] = (
        "DetectDominantLanguage",
        "DetectEntities",
        "DetectKeyPhrases",
        "DetectPiiEntities",
    )

    def install(self) -> None:
        self._handlers.extend(
            hooks.hooks_for("comprehend", self.OPERATIONS, _stash_params, self._make_handler)
        )
        hooks.install(self._handlers)

    def uninstall(self) -> None:
        hooks.uninstall(self._handlers)

    @staticmethod
    def answer(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        text = str(params.get("Text", ""))
        language = str(params.get("LanguageCode", ""))
        if operation == "DetectDominantLanguage":
            return detect_dominant_language(text)
        if operation == "DetectEntities":
            return detect_entities(text, language)
        if operation == "DetectKeyPhrases":
            return detect_key_phrases(text, language)
        if operation == "DetectPiiEntities":
            return detect_pii_entities(text, language)
        raise KeyError(operation)

    def _make_handler(self, operation: str) -> Callable[..., Any]:
        def before_call(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            self.calls[operation] += 1
            try:
                parsed = self.answer(operation, context.get(_PARAMS_KEY, {}))
                status = 200
            except StandInRequestError as error:
                parsed = {"Error": {"Code": error.code, "Message": str(error)}}
                status = error.status
            parsed["ResponseMetadata"] = {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())}
            return AWSResponse("https://comprehend.local", status, {}, None), parsed

        return before_call
