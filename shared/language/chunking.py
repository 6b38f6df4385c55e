"""Splitting text into chunks that fit a byte limit, at sentence or whitespace boundaries.

Comprehend measures its input in UTF-8 bytes, not characters: 100 KB for ``DetectEntities``,
``DetectKeyPhrases``, ``DetectPiiEntities`` and ``DetectDominantLanguage``, under 20,000 bytes for
Comprehend Medical. A text in Greek, Chinese or with many emoji reaches those limits with far fewer
characters than its ``len()`` suggests, so :func:`chunk_text` cuts by bytes.

Each :class:`Chunk` keeps its ``start``: the offset, in characters (code points, as Python indexes
a ``str`` and as Comprehend reports ``BeginOffset``), of its first character in the original text.
The chunks cover the text exactly, in order and without overlap, so ``"".join(c.text for c in
chunks) == text`` and ``text[c.start : c.start + len(c.text)] == c.text``. A cut never falls inside
a multi-byte character; it prefers, in the last half of the allowed window, a paragraph break, then
the end of a sentence, then any whitespace, and cuts at the byte limit only when the window holds
none of them (a 100 KB run without a space).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# "100 KB": 100,000 bytes is under the limit however AWS counts a kilobyte.
COMPREHEND_MAX_BYTES = 100_000
# Comprehend Medical: "under 20,000 bytes".
COMPREHEND_MEDICAL_MAX_BYTES = 19_999
# The smallest limit that always holds one character (a UTF-8 character takes at most 4 bytes).
MIN_MAX_BYTES = 4

_PARAGRAPH = re.compile(rb"\n[ \t\r]*\n\s*")
# End of a sentence: . ! ? (and closing quotes or brackets) then whitespace; or a CJK full stop.
_SENTENCE = re.compile(rb"[.!?][\"')\]]*\s+|(?:\xe3\x80\x82|\xef\xbc\x81|\xef\xbc\x9f)\s*")
_SPACE = re.compile(rb"\s+")


@dataclass(frozen=True)
class Chunk:
    """A piece of the text: ``text`` starts at character ``start`` and byte ``byte_start``."""

    text: str
    start: int
    byte_start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    @property
    def is_blank(self) -> bool:
        """Only whitespace: nothing for a service to read (Comprehend rejects it anyway)."""
        return not self.text.strip()


def _char_boundary(data: bytes, cut: int) -> int:
    """The largest position <= ``cut`` that is not inside a multi-byte UTF-8 character."""
    while cut > 0 and cut < len(data) and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut


def _last_end(pattern: re.Pattern[bytes], data: bytes, lo: int, hi: int) -> int:
    """The end of the last match of ``pattern`` that ends within ``(lo, hi]``, else -1."""
    best = -1
    for match in pattern.finditer(data, lo, hi):
        best = match.end()
    return best


def _cut(data: bytes, start: int, max_bytes: int) -> int:
    """Where the chunk that starts at byte ``start`` ends."""
    if len(data) - start <= max_bytes:
        return len(data)
    hard = _char_boundary(data, start + max_bytes)
    lo = start + max_bytes // 2
    for pattern in (_PARAGRAPH, _SENTENCE, _SPACE):
        end = _last_end(pattern, data, lo, hard)
        if end > start:
            return end
    if hard <= start:  # cannot happen with max_bytes >= 4, kept as a guard against a loop
        raise ValueError(f"max_bytes {max_bytes} cannot hold the character at byte {start}")
    return hard


def iter_chunks(text: str, max_bytes: int = COMPREHEND_MAX_BYTES) -> Iterator[Chunk]:
    """The chunks of ``text``, each at most ``max_bytes`` of UTF-8 (see the module docstring)."""
    if max_bytes < MIN_MAX_BYTES:
        raise ValueError(f"max_bytes must be at least {MIN_MAX_BYTES}, got {max_bytes}")
    data = text.encode("utf-8")
    byte_pos = 0
    char_pos = 0
    while byte_pos < len(data):
        end = _cut(data, byte_pos, max_bytes)
        piece = data[byte_pos:end].decode("utf-8")
        yield Chunk(piece, char_pos, byte_pos)
        char_pos += len(piece)
        byte_pos = end


def chunk_text(text: str, max_bytes: int = COMPREHEND_MAX_BYTES) -> list[Chunk]:
    """:func:`iter_chunks` as a list."""
    return list(iter_chunks(text, max_bytes))


def utf8_size(text: str) -> int:
    """The size of ``text`` in UTF-8 bytes, the unit Comprehend's limits use."""
    return len(text.encode("utf-8"))


def chunk_floor(text: str, max_bytes: int = COMPREHEND_MAX_BYTES) -> int:
    """The fewest chunks any byte chunking could produce: ceil(bytes / max_bytes)."""
    size = utf8_size(text)
    return -(-size // max_bytes)
