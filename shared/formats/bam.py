"""BAM header reader: references and read groups from the first BGZF blocks of a file.

Hand-written rather than pysam: pysam wraps htslib, which has no wheel a Lambda arm64 layer can
take without a native build, and the header is a small fixed layout (SAMv1 section 4.2): the magic
``BAM\\1``, the SAM header text (``@HD``, ``@SQ``, ``@RG``, ``@PG`` lines) and the binary reference
list. :func:`read_bam_header` pulls decompressed bytes through
:class:`shared.formats.gzstream.BgzfReader` from a seekable file (a
:class:`shared.formats.ranged.RangedReader` over the access point), so only the blocks that hold
the header are fetched, whatever the size of the alignments behind it; one more ranged read of the
last 28 bytes checks the BGZF end-of-file marker, whose absence means a truncated file.

Problems are typed: :class:`BamError` (not BAM, a header field out of range, text and binary
references that disagree) and :class:`shared.formats.gzstream.CompressedStreamError` (a broken or
truncated BGZF block), each naming the offset.
"""

from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass, field
from typing import Any

from shared.errors import PatternError
from shared.formats.gzstream import BGZF_EOF, BgzfReader, SeekableReader

logger = logging.getLogger(__name__)

BAM_MAGIC = b"BAM\x01"
MAX_HEADER_TEXT = 64 * 1024 * 1024
MAX_REFERENCES = 10_000_000
MAX_NAME = 1024 * 1024


class BamError(PatternError, ValueError):
    """The file is not BAM or its header is malformed; ``offset`` is in the decompressed stream."""


@dataclass
class BamHeader:
    """What the header of one BAM file declares."""

    version: str = ""
    sort_order: str = ""
    references: list[tuple[str, int]] = field(default_factory=list)
    read_groups: list[dict[str, str]] = field(default_factory=list)
    programs: list[dict[str, str]] = field(default_factory=list)
    text_bytes: int = 0
    blocks_read: int = 0
    header_compressed_bytes: int = 0
    eof_marker: bool | None = None

    def to_dict(self, max_references: int = 100) -> dict[str, Any]:
        return {
            "version": self.version,
            "sort_order": self.sort_order,
            "reference_count": len(self.references),
            "reference_length": sum(length for _, length in self.references),
            "references": [{"name": n, "length": length} for n, length in self.references[:max_references]],
            "read_groups": self.read_groups,
            "samples": sorted({rg["SM"] for rg in self.read_groups if "SM" in rg}),
            "programs": [p.get("ID", "") for p in self.programs],
            "header_text_bytes": self.text_bytes,
            "bgzf_blocks_read": self.blocks_read,
            "header_compressed_bytes": self.header_compressed_bytes,
            "eof_marker": self.eof_marker,
        }


def _tags(line: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in line.split("\t")[1:]:
        tag, sep, value = item.partition(":")
        if sep:
            tags[tag] = value
    return tags


def _int32(reader: BgzfReader, what: str, low: int, high: int, name: str) -> int:
    offset = reader.tell()
    value = int(struct.unpack("<i", reader.read_exact(4, what))[0])
    if not low <= value <= high:
        raise BamError(
            f"{name}: {what} is {value} at decompressed offset {offset}, outside {low}..{high}",
            offset=offset,
            name=name,
        )
    return value


def parse_header(reader: BgzfReader, *, name: str = "stream") -> BamHeader:
    """The header from a :class:`BgzfReader` positioned at the start of the stream."""
    magic = reader.read(4)
    if magic != BAM_MAGIC:
        raise BamError(
            f"{name}: not BAM: the stream starts with {magic!r}, not {BAM_MAGIC!r}", offset=0, name=name
        )
    header = BamHeader()
    l_text = _int32(reader, "l_text (header text length)", 0, MAX_HEADER_TEXT, name)
    text = reader.read_exact(l_text, "the header text").rstrip(b"\x00").decode("utf-8", errors="replace")
    header.text_bytes = l_text
    text_refs: list[tuple[str, int]] = []
    for line in text.splitlines():
        tags = _tags(line)
        if line.startswith("@HD"):
            header.version, header.sort_order = tags.get("VN", ""), tags.get("SO", "")
        elif line.startswith("@SQ"):
            text_refs.append((tags.get("SN", ""), int(tags["LN"]) if tags.get("LN", "").isdigit() else -1))
        elif line.startswith("@RG"):
            if "ID" not in tags:
                raise BamError(f"{name}: an @RG line without ID: {line[:80]!r}", name=name)
            header.read_groups.append(tags)
        elif line.startswith("@PG"):
            header.programs.append(tags)
    n_ref = _int32(reader, "n_ref (reference count)", 0, MAX_REFERENCES, name)
    for index in range(n_ref):
        l_name = _int32(reader, f"l_name of reference {index}", 1, MAX_NAME, name)
        raw = reader.read_exact(l_name, f"the name of reference {index}")
        if raw[-1:] != b"\x00":
            raise BamError(
                f"{name}: reference {index}'s name is not NUL-terminated", offset=reader.tell(), name=name
            )
        length = _int32(reader, f"l_ref of reference {index}", 0, 2**31 - 1, name)
        header.references.append((raw[:-1].decode("utf-8", errors="replace"), length))
    if text_refs and text_refs != header.references:
        first = next(
            (i for i, (a, b) in enumerate(zip(text_refs, header.references, strict=False)) if a != b),
            min(len(text_refs), len(header.references)),
        )
        raise BamError(
            f"{name}: the @SQ lines and the binary reference list disagree at reference {first} "
            f"({len(text_refs)} @SQ lines, {len(header.references)} binary references)",
            reference=first,
            name=name,
        )
    header.blocks_read = reader.blocks_read
    header.header_compressed_bytes = reader.compressed_offset
    return header


def has_eof_marker(file: SeekableReader, size: int) -> bool:
    """Whether the file ends with the 28-byte BGZF end-of-file block (one ranged read)."""
    if size < len(BGZF_EOF):
        return False
    file.seek(size - len(BGZF_EOF))
    return file.read(len(BGZF_EOF)) == BGZF_EOF


def read_bam_header(file: SeekableReader, *, size: int | None = None, name: str = "stream") -> BamHeader:
    """The header of the BAM ``file`` (seekable), and whether it ends with the BGZF EOF marker."""
    header = parse_header(BgzfReader(file, name=name), name=name)
    if size is None:
        size = file.seek(0, io.SEEK_END)
    header.eof_marker = has_eof_marker(file, size)
    return header
