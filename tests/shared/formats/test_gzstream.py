"""Streaming gzip/BGZF: multi-member streams, padding, truncation and corruption named by offset.

The BGZF blocks here are built by hand from SAMv1 section 4.1 (gzip header with the ``BC`` extra
subfield, raw deflate, CRC-32, ISIZE) and checked against Python's :mod:`gzip`, an independent reader.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest

from shared.formats.gzstream import (
    BGZF_EOF,
    BgzfReader,
    CompressedStreamError,
    LineTooLongError,
    StreamStats,
    is_bgzf,
    is_gzip,
    iter_decoded,
    iter_gunzip,
    iter_lines,
    read_bgzf_block,
)


def bgzf_block(payload: bytes) -> bytes:
    """One BGZF block, written from the spec: 18-byte header, raw deflate, CRC-32 and ISIZE."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    cdata = compressor.compress(payload) + compressor.flush()
    bsize = 18 + len(cdata) + 8 - 1
    header = b"\x1f\x8b\x08\x04" + b"\x00\x00\x00\x00" + b"\x00\xff" + struct.pack("<H", 6)
    header += b"BC" + struct.pack("<HH", 2, bsize)
    return header + cdata + struct.pack("<II", zlib.crc32(payload), len(payload))


def bgzf(payload: bytes, block: int = 60000) -> bytes:
    blocks = [bgzf_block(payload[i : i + block]) for i in range(0, len(payload), block)]
    return b"".join(blocks) + BGZF_EOF


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_the_spec_eof_marker_is_an_empty_bgzf_block() -> None:
    assert bgzf_block(b"") == BGZF_EOF
    assert gzip.decompress(BGZF_EOF) == b""


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_multi_member_gzip_in_any_chunking(chunk: int) -> None:
    a, b = os.urandom(5000), b"ACGT" * 20000
    data = gzip.compress(a) + gzip.compress(b, mtime=0) + b"\x00" * 5
    stats = StreamStats()
    assert b"".join(iter_gunzip(chunked(data, chunk), stats=stats)) == a + b
    assert stats.members == 2
    assert stats.compressed_bytes == len(data)
    assert stats.uncompressed_bytes == len(a) + len(b)


def test_bgzf_built_from_the_spec_reads_with_gzip_and_with_ours() -> None:
    payload = b"".join(b"chr1\t%d\t.\tA\tG\n" % i for i in range(20000))
    data = bgzf(payload)
    assert gzip.decompress(data) == payload
    assert is_bgzf(data) and is_gzip(data) and not is_bgzf(gzip.compress(b"x"))
    stats = StreamStats()
    assert b"".join(iter_gunzip(chunked(data, 9999), stats=stats)) == payload
    assert stats.members == len(payload) // 60000 + 2


def test_bgzf_reader_reads_blocks_on_demand() -> None:
    payload = os.urandom(200_000)
    data = bgzf(payload)
    reader = BgzfReader(io.BytesIO(data), name="x.bam")
    assert reader.read(10) == payload[:10]
    assert reader.blocks_read == 1
    assert reader.read(70_000) == payload[10:70_010]
    assert reader.blocks_read == 2
    assert reader.read(1_000_000) == payload[70_010:]
    assert reader.saw_eof_marker
    first = read_bgzf_block(io.BytesIO(data), 0)
    assert first is not None and first.data == payload[:60000]


def test_truncated_gzip_names_the_member_and_offset() -> None:
    data = gzip.compress(b"a" * 1000) + gzip.compress(os.urandom(4000))
    first = len(gzip.compress(b"a" * 1000))
    cut = data[:-10]
    with pytest.raises(CompressedStreamError) as caught:
        b"".join(iter_gunzip(chunked(cut, 512), name="r1.fastq.gz"))
    assert caught.value.details["member_offset"] == first
    assert caught.value.details["offset"] == len(cut)
    assert "truncated" in caught.value.reason and "r1.fastq.gz" in caught.value.reason


def test_corrupt_gzip_is_an_error_not_short_data() -> None:
    data = bytearray(gzip.compress(os.urandom(3000)))
    data[-6] ^= 0xFF  # inside the CRC-32 / ISIZE trailer
    with pytest.raises(CompressedStreamError, match="corrupt"):
        b"".join(iter_gunzip([bytes(data)]))


def test_not_gzip_and_trailing_garbage() -> None:
    with pytest.raises(CompressedStreamError, match="not gzip data at offset 0"):
        list(iter_gunzip([b"@read1\nACGT\n"]))
    with pytest.raises(CompressedStreamError, match="trailing data") as caught:
        list(iter_gunzip([gzip.compress(b"x"), b"junk"]))
    assert caught.value.details["offset"] == len(gzip.compress(b"x"))
    with pytest.raises(CompressedStreamError, match="empty"):
        list(iter_gunzip([]))


def test_bgzf_block_errors() -> None:
    block = bgzf_block(b"hello world" * 100)
    with pytest.raises(CompressedStreamError, match="offset 0: truncated"):
        read_bgzf_block(io.BytesIO(block[:-3]), 0)
    with pytest.raises(CompressedStreamError, match="not BGZF"):
        read_bgzf_block(io.BytesIO(gzip.compress(b"plain")), 0)
    bad = bytearray(block)
    bad[-4] ^= 1  # ISIZE
    with pytest.raises(CompressedStreamError, match="ISIZE"):
        read_bgzf_block(io.BytesIO(bytes(bad)), 0)
    bad = bytearray(block)
    bad[-8] ^= 1  # CRC
    with pytest.raises(CompressedStreamError, match="CRC"):
        read_bgzf_block(io.BytesIO(bytes(bad)), 0)
    reader = BgzfReader(io.BytesIO(block), name="t.bam")
    with pytest.raises(CompressedStreamError, match="ends inside the header"):
        reader.read_exact(5000, "the header")


def test_plain_and_gzip_input_alike_and_lines() -> None:
    text = b"l1\r\nl2\nl3"
    assert list(iter_lines(iter_decoded([text]))) == [b"l1", b"l2", b"l3"]
    assert list(iter_lines(iter_decoded(chunked(gzip.compress(text), 2)))) == [b"l1", b"l2", b"l3"]
    with pytest.raises(LineTooLongError, match="line 2"):
        list(iter_lines([b"ok\n", b"x" * 100], max_line=50))


def test_memory_stays_bounded_for_a_large_stream() -> None:
    block = os.urandom(1 << 16)

    def source() -> Iterator[bytes]:
        compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
        for _ in range(160):  # 10 MiB uncompressed
            yield compressor.compress(block)
        yield compressor.flush()

    tracemalloc.start()
    total = sum(len(part) for part in iter_gunzip(source(), max_output=65536))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total == 160 << 16
    assert peak < 4 << 20
