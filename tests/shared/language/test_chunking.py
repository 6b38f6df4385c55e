"""Byte chunking: limits in UTF-8 bytes, boundaries, offsets into the original text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.language.chunking import (
    COMPREHEND_MAX_BYTES,
    COMPREHEND_MEDICAL_MAX_BYTES,
    chunk_floor,
    chunk_text,
    utf8_size,
)

# Letters of 1, 2, 3 and 4 UTF-8 bytes, spaces and sentence ends.
_ALPHABET = st.sampled_from(["a", "Z", "é", "ß", "λ", "中", "文", "😀", "🧪", " ", "\n", ". ", "。"])
TEXTS = st.lists(_ALPHABET, max_size=400).map("".join) | st.text(max_size=300)


@settings(max_examples=200, deadline=None)
@given(text=TEXTS, max_bytes=st.integers(min_value=4, max_value=64))
def test_chunks_cover_the_text_within_the_byte_limit(text: str, max_bytes: int) -> None:
    chunks = chunk_text(text, max_bytes)
    assert "".join(c.text for c in chunks) == text
    for chunk in chunks:
        assert chunk.text
        assert utf8_size(chunk.text) <= max_bytes
        assert text[chunk.start : chunk.end] == chunk.text
        encoded = chunk.text.encode()
        assert text.encode()[chunk.byte_start : chunk.byte_start + len(encoded)] == encoded
    assert len(chunks) >= chunk_floor(text, max_bytes)


def test_limit_is_bytes_not_characters() -> None:
    # 40,000 characters of 3 bytes each: 120,000 bytes, more than the 100 KB limit.
    text = "中文字" * 13_334
    assert len(text) < COMPREHEND_MAX_BYTES < utf8_size(text)
    chunks = chunk_text(text)
    assert len(chunks) == 2
    assert all(utf8_size(c.text) <= COMPREHEND_MAX_BYTES for c in chunks)


def test_cuts_at_a_sentence_end_rather_than_mid_word() -> None:
    sentence = "Lambda reads the paper. "
    text = sentence * 10
    chunks = chunk_text(text, 60)
    assert all(c.text.endswith(". ") for c in chunks)


def test_prefers_a_paragraph_break() -> None:
    text = "First paragraph sentence one. Sentence two.\n\nSecond paragraph here. And more."
    chunks = chunk_text(text, 60)
    assert chunks[0].text.endswith("\n\n")


def test_cuts_at_whitespace_when_there_is_no_sentence_end() -> None:
    text = "word " * 50
    assert all(c.text.endswith(" ") for c in chunk_text(text, 33))


def test_a_run_without_spaces_is_cut_at_a_character_boundary() -> None:
    text = "😀" * 30  # 4 bytes each, no boundary at all
    chunks = chunk_text(text, 10)
    assert [len(c.text) for c in chunks] == [2] * 15


def test_medical_limit_is_under_20000_bytes() -> None:
    assert COMPREHEND_MEDICAL_MAX_BYTES < 20_000
    text = "Patient takes aspirin daily. " * 2000
    assert all(utf8_size(c.text) < 20_000 for c in chunk_text(text, COMPREHEND_MEDICAL_MAX_BYTES))


def test_empty_text_has_no_chunks_and_a_tiny_limit_is_refused() -> None:
    assert chunk_text("") == []
    with pytest.raises(ValueError, match="at least 4"):
        chunk_text("abc", 3)
