"""The ranged reader on moto: io semantics, bounded cache, ETag pinning, bytes counted."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest

from shared.errors import ObjectNotFoundError
from shared.formats.ranged import ObjectChangedError, RangedReader, open_ranged
from shared.s3ap import S3AccessPoint

DATA = os.urandom(300_000)


@pytest.fixture
def ap(access_point: dict[str, Any]) -> S3AccessPoint:
    access_point["client"].put_object(Bucket=access_point["bucket"], Key="dir/blob.bin", Body=DATA)
    access_point["client"].put_object(Bucket=access_point["bucket"], Key="empty.bin", Body=b"")
    return S3AccessPoint(access_point["arn"], access_point["client"])


def test_reads_seeks_and_tells_like_a_local_file(ap: S3AccessPoint) -> None:
    local = io.BytesIO(DATA)
    with RangedReader(ap, "dir/blob.bin", block_size=4096, max_blocks=4) as remote:
        for offset, whence, length in [
            (0, 0, 10),
            (5000, 0, 9000),
            (-100, 2, 50),
            (-30, 1, 200),
            (299_990, 0, 99),
        ]:
            assert remote.seek(offset, whence) == local.seek(offset, whence)
            assert remote.read(length) == local.read(length)
            assert remote.tell() == local.tell()
        remote.seek(1_000_000)
        assert remote.read(10) == b""
        assert remote.size == len(DATA)


def test_readinto_and_readall(ap: S3AccessPoint) -> None:
    with RangedReader(ap, "dir/blob.bin", block_size=8192) as remote:
        buffer = bytearray(1000)
        remote.seek(777)
        assert remote.readinto(buffer) == 1000
        assert bytes(buffer) == DATA[777:1777]
        assert remote.read() == DATA[1777:]


def test_a_header_read_fetches_one_block_and_counts_it(ap: S3AccessPoint) -> None:
    with RangedReader(ap, "dir/blob.bin", block_size=16384) as remote:
        remote.read(132)
        remote.seek(128)
        remote.read(4)
        assert remote.stats.requests == 1
        assert remote.stats.bytes_fetched == 16384
        assert remote.stats.cache_hits >= 1


def test_the_cache_is_bounded(ap: S3AccessPoint) -> None:
    with RangedReader(ap, "dir/blob.bin", block_size=1024, max_blocks=3) as remote:
        for offset in range(0, 20_000, 1024):
            remote.seek(offset)
            remote.read(10)
        assert len(remote._blocks) <= 3
        # A read larger than the whole cache goes straight to S3 and evicts nothing.
        remote.seek(0)
        assert remote.read(10_000) == DATA[:10_000]
        assert len(remote._blocks) <= 3


def test_a_file_that_changes_mid_read_is_an_error_not_mixed_bytes(ap: S3AccessPoint) -> None:
    remote = RangedReader(ap, "dir/blob.bin", block_size=4096, max_blocks=2)
    assert remote.read(10) == DATA[:10]
    ap.client.put_object(Bucket=ap.target, Key="dir/blob.bin", Body=b"x" * len(DATA))
    remote.seek(200_000)
    with pytest.raises(ObjectChangedError) as caught:
        remote.read(10)
    assert caught.value.details["key"] == "dir/blob.bin"


def test_a_listed_etag_that_no_longer_matches_fails_on_the_first_read(ap: S3AccessPoint) -> None:
    listed = ap.head("dir/blob.bin")
    ap.client.put_object(Bucket=ap.target, Key="dir/blob.bin", Body=b"new")
    with pytest.raises(ObjectChangedError):
        RangedReader(ap, "dir/blob.bin", etag=listed.etag, size=listed.size).read(4)


def test_iter_chunks_streams_the_rest_of_the_object_in_one_get(ap: S3AccessPoint) -> None:
    remote = RangedReader(ap, "dir/blob.bin")
    assert b"".join(remote.iter_chunks(start=100, chunk_size=65536)) == DATA[100:]
    assert remote.stats.bytes_fetched >= len(DATA) - 100


def test_empty_and_missing_objects(ap: S3AccessPoint) -> None:
    with RangedReader(ap, "empty.bin") as remote:
        assert remote.read() == b""
        assert remote.size == 0
    with pytest.raises(ObjectNotFoundError):
        RangedReader(ap, "missing.bin").read(1)


def test_buffered_wrapper_gives_readline(ap: S3AccessPoint) -> None:
    ap.client.put_object(Bucket=ap.target, Key="t.txt", Body=b"one\ntwo\nthree\n")
    wrapped = open_ranged(ap, "t.txt", block_size=4)
    assert wrapped.readline() == b"one\n"
    assert list(wrapped) == [b"two\n", b"three\n"]
    assert isinstance(wrapped.raw, RangedReader)
    # A text consumer (lasio reads a file object of str) wraps it once more.
    text = io.TextIOWrapper(open_ranged(ap, "t.txt", block_size=4), encoding="ascii")
    assert text.read().splitlines() == ["one", "two", "three"]


def test_closed_reader_refuses_io(ap: S3AccessPoint) -> None:
    remote = RangedReader(ap, "dir/blob.bin")
    remote.close()
    with pytest.raises(ValueError, match="closed"):
        remote.read(1)
