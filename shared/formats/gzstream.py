"""Streaming decompression of gzip and BGZF in bounded memory, with typed errors that name the offset.

Two ways in, both hand-written on :mod:`zlib` because :mod:`gzip` either wants the whole member set
behind a seekable file (and reports a truncated stream as a bare ``EOFError`` with no position) or,
for ``gzip.decompress``, the whole file in memory:

* :func:`iter_gunzip` turns an iterable of compressed chunks (``RangedReader.iter_chunks`` or
  ``S3AccessPoint.iter_chunks``) into decompressed chunks. It follows any number of gzip members
  one after another (``cat a.gz b.gz``, and BGZF, which is a series of small members), skips the
  zero padding some tools leave after the last member, and checks each member's CRC-32 and length
  (zlib does, in gzip mode). Memory is one input chunk plus at most ``max_output`` bytes of output
  plus zlib's 32 KiB window, whatever the file size.
* :class:`BgzfReader` reads BGZF (SAM/BAM/VCF.gz, SAMv1 section 4.1) block by block from a seekable
  file, e.g. a :class:`shared.formats.ranged.RangedReader`, so a BAM header costs only its first
  blocks. Each block is at most 64 KiB; its ``BSIZE`` field says where the next one starts.

A stream that is not gzip, is cut short, or fails its checks raises :class:`CompressedStreamError`
with ``offset`` (the compressed byte where the problem was found) and ``member_offset`` (where the
member or block that failed begins), never a silently short result. :func:`iter_decoded` sniffs the
magic bytes so a reader accepts plain and gzip input alike, and :func:`iter_lines` cuts decoded
chunks into numbered lines with a bound on line length.
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from shared.errors import PatternError

logger = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_MAX_OUTPUT = 256 * 1024
DEFAULT_MAX_LINE = 16 * 1024 * 1024
BGZF_MAX_BLOCK = 65536
# The 28-byte empty block that ends every well-formed BGZF file (SAMv1 4.1.2).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_GZIP_WBITS = 31  # 16 + MAX_WBITS: a gzip header and trailer around deflate data


class SeekableReader(Protocol):
    """What the BGZF block reader needs of a file: ``io.BytesIO``, an open file, a ``RangedReader``."""

    def read(self, size: int = -1, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...


class CompressedStreamError(PatternError, ValueError):
    """A gzip/BGZF stream is not gzip, is truncated, or is corrupt; ``offset`` says where."""


class LineTooLongError(PatternError, ValueError):
    """A line exceeds the reader's bound (a binary file read as text, or a missing newline)."""


@dataclass
class StreamStats:
    """What a decompression pass saw: compressed bytes consumed, bytes produced, gzip members."""

    compressed_bytes: int = 0
    uncompressed_bytes: int = 0
    members: int = 0


def is_gzip(head: bytes) -> bool:
    """Whether ``head`` starts like a gzip member (magic and the deflate method)."""
    return len(head) >= 3 and head[:2] == GZIP_MAGIC and head[2] == 8


def is_bgzf(head: bytes) -> bool:
    """Whether ``head`` (at least 18 bytes) starts like a BGZF block: gzip with a ``BC`` extra field."""
    if not is_gzip(head) or len(head) < 18 or not head[3] & 4:
        return False
    xlen = struct.unpack_from("<H", head, 10)[0]
    return _bsize(head[12 : 12 + xlen]) is not None


def iter_gunzip(
    chunks: Iterable[bytes],
    *,
    name: str = "stream",
    max_output: int = DEFAULT_MAX_OUTPUT,
    stats: StreamStats | None = None,
) -> Iterator[bytes]:
    """Decompress a multi-member gzip stream chunk by chunk; raise :class:`CompressedStreamError`."""
    if max_output <= 0:
        raise ValueError("max_output must be positive")
    stats = stats if stats is not None else StreamStats()
    offset = 0  # compressed bytes fully accounted for before ``pending``
    member_offset = 0
    decoder: zlib._Decompress | None = None
    pending = b""
    seen_input = False
    for chunk in chunks:
        if not chunk:
            continue
        seen_input = True
        pending = pending + chunk if pending else chunk
        while pending:
            if decoder is None:
                stripped = pending.lstrip(b"\x00")
                if stats.members and len(stripped) < len(pending):
                    offset += len(pending) - len(stripped)  # padding after a member
                    pending = stripped
                    if not pending:
                        break
                if len(pending) < 2:
                    break  # wait for the second magic byte
                if pending[:2] != GZIP_MAGIC:
                    what = "trailing data after the last member" if stats.members else "not gzip data"
                    raise CompressedStreamError(
                        f"{name}: {what} at offset {offset} (bytes {pending[:4].hex()})",
                        offset=offset,
                        member_offset=offset,
                        name=name,
                    )
                decoder = zlib.decompressobj(_GZIP_WBITS)
                member_offset = offset
            data = pending
            while True:
                try:
                    out = decoder.decompress(data, max_output)
                except zlib.error as error:
                    raise CompressedStreamError(
                        f"{name}: corrupt gzip member starting at offset {member_offset}, found within "
                        f"bytes {offset}..{offset + len(pending)}: {error}",
                        offset=offset,
                        member_offset=member_offset,
                        name=name,
                    ) from error
                if out:
                    stats.uncompressed_bytes += len(out)
                    yield out
                data = decoder.unconsumed_tail
                if not data:
                    break
            if decoder.eof:
                rest = decoder.unused_data
                offset += len(pending) - len(rest)
                stats.compressed_bytes = offset
                stats.members += 1
                decoder = None
                pending = rest
            else:
                offset += len(pending)
                stats.compressed_bytes = offset
                pending = b""
    stats.compressed_bytes = offset + len(pending)
    if decoder is not None:
        raise CompressedStreamError(
            f"{name}: truncated gzip stream: the member starting at offset {member_offset} is cut off "
            f"at offset {offset} (no end of deflate data or no CRC/length trailer)",
            offset=offset,
            member_offset=member_offset,
            name=name,
        )
    if pending.strip(b"\x00"):
        raise CompressedStreamError(
            f"{name}: {len(pending)} stray byte(s) at offset {offset}, too short to be a gzip member",
            offset=offset,
            member_offset=offset,
            name=name,
        )
    if not seen_input:
        raise CompressedStreamError(f"{name}: empty stream, not gzip", offset=0, member_offset=0, name=name)


def iter_decoded(
    chunks: Iterable[bytes],
    *,
    name: str = "stream",
    max_output: int = DEFAULT_MAX_OUTPUT,
    stats: StreamStats | None = None,
) -> Iterator[bytes]:
    """Plain or gzip/BGZF input alike: decompress when the first bytes are the gzip magic."""
    iterator = iter(chunks)
    head = b""
    for chunk in iterator:
        head += chunk
        if len(head) >= 3:
            break

    def replay() -> Iterator[bytes]:
        if head:
            yield head
        yield from iterator

    if is_gzip(head):
        yield from iter_gunzip(replay(), name=name, max_output=max_output, stats=stats)
        return
    for chunk in replay():
        if stats is not None:
            stats.compressed_bytes += len(chunk)
            stats.uncompressed_bytes += len(chunk)
        yield chunk


def iter_lines(
    chunks: Iterable[bytes], *, name: str = "stream", max_line: int = DEFAULT_MAX_LINE
) -> Iterator[bytes]:
    """Lines of decoded chunks, without their ``\\n`` or ``\\r\\n``; the last may lack a newline.

    A line longer than ``max_line`` raises :class:`LineTooLongError` naming its line number, so a
    binary file fed to a text reader cannot grow the buffer without bound.
    """
    rest = b""
    number = 0
    for chunk in chunks:
        if not chunk:
            continue
        data = rest + chunk if rest else chunk
        lines = data.split(b"\n")
        rest = lines.pop()
        for line in lines:
            number += 1
            yield line[:-1] if line.endswith(b"\r") else line
        if len(rest) > max_line:
            raise LineTooLongError(
                f"{name}: line {number + 1} is longer than {max_line} bytes", line=number + 1, name=name
            )
    if rest:
        yield rest[:-1] if rest.endswith(b"\r") else rest


def iter_line_lists(
    chunks: Iterable[bytes], *, name: str = "stream", max_line: int = DEFAULT_MAX_LINE
) -> Iterator[list[bytes]]:
    """Like :func:`iter_lines`, a list of complete lines per chunk: no Python call per line.

    Line ends are ``\n``; a ``\r`` before it is kept (callers that care strip it). The last line
    comes alone at the end if it has no newline.
    """
    rest = b""
    number = 0
    for chunk in chunks:
        if not chunk:
            continue
        lines = (rest + chunk if rest else chunk).split(b"\n")
        rest = lines.pop()
        number += len(lines)
        if len(rest) > max_line:
            raise LineTooLongError(
                f"{name}: line {number + 1} is longer than {max_line} bytes", line=number + 1, name=name
            )
        if lines:
            yield lines
    if rest:
        yield [rest]


@dataclass(frozen=True)
class BgzfBlock:
    """One BGZF block: where it starts in the file, its compressed size, and its payload."""

    offset: int
    size: int
    data: bytes

    @property
    def is_eof_marker(self) -> bool:
        return self.size == len(BGZF_EOF) and not self.data


def _bsize(extra: bytes) -> int | None:
    """The ``BSIZE`` of a BGZF extra field (subfield ``BC``, length 2), or None if absent."""
    position = 0
    while position + 4 <= len(extra):
        si1, si2, slen = (
            extra[position],
            extra[position + 1],
            struct.unpack_from("<H", extra, position + 2)[0],
        )
        if si1 == 66 and si2 == 67 and slen == 2 and position + 6 <= len(extra):
            return int(struct.unpack_from("<H", extra, position + 4)[0])
        position += 4 + slen
    return None


def read_bgzf_block(file: SeekableReader, offset: int, *, name: str = "stream") -> BgzfBlock | None:
    """The BGZF block at ``offset`` of a seekable ``file``, or None at the end of the file."""
    file.seek(offset)
    head = file.read(12)
    if not head:
        return None

    def broken(what: str) -> CompressedStreamError:
        return CompressedStreamError(
            f"{name}: BGZF block at offset {offset}: {what}", offset=offset, member_offset=offset, name=name
        )

    if len(head) < 12:
        raise broken(f"truncated header ({len(head)} of 12 bytes)")
    if not is_gzip(head):
        raise broken(f"not gzip (bytes {head[:4].hex()})")
    if not head[3] & 4:
        raise broken("no extra field, so not BGZF (plain gzip?)")
    xlen = struct.unpack_from("<H", head, 10)[0]
    extra = file.read(xlen)
    if len(extra) < xlen:
        raise broken("truncated extra field")
    bsize = _bsize(extra)
    if bsize is None:
        raise broken("no BC subfield in the extra field, so not BGZF")
    total = bsize + 1
    rest_length = total - 12 - xlen
    if rest_length < 8:
        raise broken(f"BSIZE {bsize} is smaller than the block's own header")
    rest = file.read(rest_length)
    if len(rest) < rest_length:
        raise broken(f"truncated: {len(rest)} of {rest_length} bytes after the header")
    crc, isize = struct.unpack_from("<II", rest, rest_length - 8)
    try:
        decoder = zlib.decompressobj(-15)
        data = decoder.decompress(rest[:-8], BGZF_MAX_BLOCK + 1)
    except zlib.error as error:
        raise broken(f"corrupt deflate data: {error}") from error
    if not decoder.eof or len(data) > BGZF_MAX_BLOCK:
        raise broken("deflate data does not end inside the block")
    if len(data) != isize:
        raise broken(f"ISIZE says {isize} bytes, the data inflates to {len(data)}")
    if zlib.crc32(data) != crc:
        raise broken("CRC-32 mismatch")
    return BgzfBlock(offset=offset, size=total, data=data)


class BgzfReader:
    """The decompressed byte stream of a BGZF file, pulled one block at a time from a seekable file.

    ``read(n)`` inflates only the blocks it needs, so reading a BAM header touches only the first
    blocks of a file of any size. ``blocks_read`` and ``compressed_offset`` say how far it went.
    """

    def __init__(self, file: SeekableReader, *, name: str = "stream") -> None:
        self.file = file
        self.name = name
        self.compressed_offset = 0
        self.blocks_read = 0
        self.saw_eof_marker = False
        self._buffer = bytearray()  # deleting from its front is cheap, so reads stay linear
        self._position = 0  # decompressed bytes handed out

    def tell(self) -> int:
        """Decompressed bytes returned so far."""
        return self._position

    def read(self, size: int) -> bytes:
        """Up to ``size`` decompressed bytes; fewer only at the end of the stream."""
        while len(self._buffer) < size:
            block = read_bgzf_block(self.file, self.compressed_offset, name=self.name)
            if block is None:
                break
            self.blocks_read += 1
            self.compressed_offset += block.size
            if block.is_eof_marker:
                self.saw_eof_marker = True
                continue
            self._buffer += block.data
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._position += len(data)
        return data

    def read_exact(self, size: int, what: str) -> bytes:
        """Exactly ``size`` bytes, or :class:`CompressedStreamError` saying ``what`` was cut short."""
        start = self._position
        data = self.read(size)
        if len(data) < size:
            raise CompressedStreamError(
                f"{self.name}: stream ends inside {what} (decompressed offset {start}, wanted {size} "
                f"bytes, got {len(data)})",
                offset=self.compressed_offset,
                member_offset=self.compressed_offset,
                name=self.name,
            )
        return data
