"""Comprehend over chunks: language routing, offsets into the original text, per-document refusals."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts.localcloud.comprehend import ComprehendStandIn
from shared.language.comprehend import (
    Comprehend,
    LanguageRejectedError,
    UnsupportedLanguageError,
)
from shared.polling.errors import TransientServiceError

ENGLISH = (
    "Ada Lovelace wrote to Charles Babbage on 1843-07-02 about the engine. "
    "Contact ada@example.org or call 555-123-4567. The results are in the table. "
)
# Multi-byte text before the entities, so character and byte offsets differ.
GREEK_PREFIX = "Λόγος και αριθμός — 数学と言語 😀. "


class DirectClient:
    """The stand-in's answers without botocore: for property tests that call it thousands of times."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def _answer(self, operation: str, **params: Any) -> dict[str, Any]:
        self.requests.append({"operation": operation, **params})
        return ComprehendStandIn.answer(operation, params)

    def detect_dominant_language(self, **params: Any) -> dict[str, Any]:
        return self._answer("DetectDominantLanguage", **params)

    def detect_entities(self, **params: Any) -> dict[str, Any]:
        return self._answer("DetectEntities", **params)

    def detect_key_phrases(self, **params: Any) -> dict[str, Any]:
        return self._answer("DetectKeyPhrases", **params)

    def detect_pii_entities(self, **params: Any) -> dict[str, Any]:
        return self._answer("DetectPiiEntities", **params)


def test_entities_offsets_index_the_original_text_across_chunks(comprehend_client: Any) -> None:
    text = GREEK_PREFIX + ENGLISH * 3
    comprehend = Comprehend(comprehend_client, max_bytes=200)
    entities = comprehend.entities(text, "en")
    assert comprehend.calls["DetectEntities"] > 1  # really chunked
    assert entities
    for entity in entities:
        assert text[entity.begin : entity.end] == entity.text
    names = [e.text for e in entities if e.type == "PERSON"]
    assert names.count("Ada Lovelace") == 3
    dates = [e for e in entities if e.type == "DATE"]
    assert [d.text for d in dates] == ["1843-07-02"] * 3
    # The third date is beyond the first chunk: its offset is into the whole text.
    assert dates[2].begin == text.rindex("1843-07-02")


def test_pii_offsets_without_text_in_the_answer(comprehend_client: Any) -> None:
    text = GREEK_PREFIX + ENGLISH * 2
    pii = Comprehend(comprehend_client, max_bytes=150).pii_entities(text, "en")
    found = {(p.type, p.text_in(text)) for p in pii}
    assert ("EMAIL", "ada@example.org") in found
    assert ("PHONE", "555-123-4567") in found
    assert "ada@example.org" not in repr(pii)  # the finding itself never carries the text


def test_analyse_routes_by_language_and_records_what_it_skipped(comprehend_client: Any) -> None:
    french = "Le chercheur et la chercheuse sont dans le laboratoire de Paris avec les étudiants. " * 3
    analysis = Comprehend(comprehend_client).analyse(french)
    assert analysis.language == "fr"
    assert "pii" in analysis.skipped and "'fr'" in analysis.skipped["pii"]
    assert analysis.key_phrases  # French key phrases are supported
    assert analysis.pii == []


def test_analyse_english_runs_every_feature(comprehend_client: Any) -> None:
    analysis = Comprehend(comprehend_client).analyse(ENGLISH)
    assert analysis.language == "en"
    assert analysis.skipped == {}
    assert analysis.entities and analysis.key_phrases and analysis.pii
    assert analysis.to_dict()["chunks"] == 1


def test_japanese_is_detected_and_pii_skipped(comprehend_client: Any) -> None:
    analysis = Comprehend(comprehend_client).analyse("これは日本語の論文です。データを解析しました。")
    assert analysis.language == "ja"
    assert set(analysis.skipped) == {"pii"}


def test_pii_in_an_unsupported_language_raises_when_asked_directly(comprehend_client: Any) -> None:
    with pytest.raises(UnsupportedLanguageError, match="PII detection supports en, es"):
        Comprehend(comprehend_client).pii_entities("Hallo Welt", "de")


def test_stand_in_rejects_what_aws_rejects(comprehend_client: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="TextSizeLimitExceededException"):
        comprehend_client.detect_entities(Text="a" * 100_001, LanguageCode="en")
    with pytest.raises(ClientError, match="UnsupportedLanguageException"):
        comprehend_client.detect_pii_entities(Text="Bonjour", LanguageCode="fr")
    # Through the wrapper, an oversized chunk (a limit set too high) is a per-document refusal.
    with pytest.raises(LanguageRejectedError, match="TextSizeLimitExceededException"):
        Comprehend(comprehend_client, max_bytes=200_000).entities("b " * 60_000, "en")


def test_throttling_is_transient(comprehend_client: Any) -> None:
    with pytest.raises(TransientServiceError):
        Comprehend(comprehend_client).entities("Text [stand-in: throttle] here", "en")


def test_blank_text_makes_no_call(comprehend_client: Any) -> None:
    comprehend = Comprehend(comprehend_client)
    analysis = comprehend.analyse("   \n ")
    assert analysis.language == "und"
    assert sum(comprehend.calls.values()) == 0
    assert analysis.skipped["entities"] == "the text is empty"


_WORDS = st.sampled_from(
    ["Ada Lovelace", "1843-07-02", "ada@example.org", "中文", "😀", "λόγος", "the", "engine", ".", "\n"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(_WORDS, min_size=1, max_size=80), max_bytes=st.integers(min_value=16, max_value=120))
def test_property_every_offset_indexes_the_original(parts: list[str], max_bytes: int) -> None:
    text = " ".join(parts)
    client = DirectClient()
    comprehend = Comprehend(client, max_bytes=max_bytes)
    for entity in comprehend.entities(text, "en") + comprehend.key_phrases(text, "en"):
        assert text[entity.begin : entity.end] == entity.text
        assert entity.text.strip() == entity.text and entity.text
    for request in client.requests:
        assert len(request["Text"].encode()) <= max_bytes
    for pii in comprehend.pii_entities(text, "en"):
        assert 0 <= pii.begin < pii.end <= len(text)
