"""Tests for the access point client, against moto in-process through an access point ARN."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import AccessDeniedError, InvalidKeyError, InvalidTargetError, ObjectNotFoundError
from shared.s3ap import MIN_PART_SIZE, S3AccessPoint, validate_key, validate_target

ARN = "arn:aws:s3:us-east-1:123456789012:accesspoint/fsxn-ap"


@pytest.mark.parametrize(
    "target",
    [
        ARN,
        "fsxn-ap-abcdefghijklmnopqrstuvwxyz0123-ext-s3alias",
        "my-bucket",
        "arn:aws-cn:s3:cn-north-1:123456789012:accesspoint/x1y",
    ],
)
def test_validate_target_accepts_alias_arn_and_bucket(target: str) -> None:
    assert validate_target(target) == target


@pytest.mark.parametrize(
    "target",
    [
        "",
        "arn:aws:s3:::my-bucket",
        "arn:aws:s3:us-east-1:1234:accesspoint/x",
        "Bad_Bucket",
        "UPPER-ext-s3alias",
        "a..b",
    ],
)
def test_validate_target_rejects_malformed(target: str) -> None:
    with pytest.raises(InvalidTargetError):
        validate_target(target)


SAFE_SEGMENT = st.text(
    alphabet=st.characters(blacklist_characters="/\\\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=20,
).filter(lambda s: s != "..")


@given(st.lists(SAFE_SEGMENT, min_size=1, max_size=6))
def test_every_safe_key_is_accepted(segments: list[str]) -> None:
    key = "/".join(segments)
    if len(key.encode()) > 1024 or (len(key) > 1 and key[1] == ":"):
        return
    assert validate_key(key) == key


@given(
    st.lists(SAFE_SEGMENT, max_size=3),
    st.sampled_from(["..", "/abs", "\\abs", "C:\\x", "nul\x00byte", "a" * 1025, "é" * 513, ""]),
    st.lists(SAFE_SEGMENT, max_size=3),
)
def test_every_unsafe_key_is_rejected(before: list[str], bad: str, after: list[str]) -> None:
    if bad.startswith(("/", "\\", "C:")) or bad == "":
        key = bad + "/".join(after) if bad else ""
    else:
        key = "/".join([*before, bad, *after])
    with pytest.raises(InvalidKeyError):
        validate_key(key)


def _seed(client: Any, bucket: str, keys: list[str]) -> None:
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())


def test_iter_pages_pages_filters_and_skips_directory_markers(access_point: dict[str, Any]) -> None:
    keys = [f"products/{i:04d}.jpg" for i in range(25)] + ["products/readme.txt", "products/", "x/IMG.PNG"]
    _seed(access_point["client"], access_point["bucket"], keys)
    ap = S3AccessPoint(access_point["arn"], access_point["client"])
    pages = list(ap.iter_pages(suffixes=(".jpg", ".png"), page_size=10))
    assert [len(p) for p in pages] == [9, 10, 7]  # the marker and readme.txt are filtered out of full pages
    listed = [o.key for page in pages for o in page]
    assert listed == sorted([k for k in keys if k.lower().endswith((".jpg", ".png"))])
    only_x = [o.key for o in ap.iter_objects("x/")]
    assert only_x == ["x/IMG.PNG"]
    first = pages[0][0]
    assert first.size == len(first.key) and first.etag and first.fingerprint[0] == first.etag


def test_iter_pages_is_lazy(access_point: dict[str, Any]) -> None:
    _seed(access_point["client"], access_point["bucket"], [f"k{i:03d}" for i in range(30)])
    calls: list[str] = []
    access_point["client"].meta.events.register("before-call.s3.ListObjectsV2", lambda **_: calls.append("x"))
    pages = S3AccessPoint(access_point["arn"], access_point["client"]).iter_pages(page_size=10)
    next(pages)
    assert len(calls) == 1


def test_list_prefixes(access_point: dict[str, Any]) -> None:
    _seed(access_point["client"], access_point["bucket"], ["a/1", "a/2", "b/c/3", "top"])
    ap = S3AccessPoint(access_point["arn"], access_point["client"])
    assert list(ap.list_prefixes()) == ["a/", "b/"]


def test_iter_level_pages_prefixes_and_objects_of_one_level(access_point: dict[str, Any]) -> None:
    keys = ["a/1", "b/c/3", "top.jpg", "TOP2.JPG", "notes.txt", "dir-marker/", "z/9"]
    _seed(access_point["client"], access_point["bucket"], keys)
    ap = S3AccessPoint(access_point["arn"], access_point["client"])
    pages = list(ap.iter_level(suffixes=[".jpg"], page_size=2))
    assert len(pages) > 1  # followed the continuation tokens
    prefixes = [p for page in pages for p in page.prefixes]
    objects = [o.key for page in pages for o in page.objects]
    assert prefixes == ["a/", "b/", "dir-marker/", "z/"]
    assert objects == ["TOP2.JPG", "top.jpg"]  # suffix filter is case-insensitive; nothing from below
    assert [o.key for page in ap.iter_level("b/") for o in page.objects] == []
    assert [p for page in ap.iter_level("b/") for p in page.prefixes] == ["b/c/"]
    with pytest.raises(ValueError, match="page_size"):
        next(ap.iter_level(page_size=0))


def test_head_get_range_chunks_put_delete(access_point: dict[str, Any]) -> None:
    ap = S3AccessPoint(access_point["arn"], access_point["client"])
    etag = ap.put("dir/file.bin", bytes(range(256)) * 4, content_type="application/octet-stream")
    info = ap.head("dir/file.bin")
    assert info.size == 1024 and info.etag == etag
    assert ap.get_bytes("dir/file.bin", if_match=etag)[:3] == b"\x00\x01\x02"
    assert ap.get_range("dir/file.bin", 10, 12) == bytes([10, 11, 12])
    chunks = list(ap.iter_chunks("dir/file.bin", chunk_size=300))
    assert [len(c) for c in chunks] == [300, 300, 300, 124]
    ap.delete("dir/file.bin")
    with pytest.raises(ObjectNotFoundError):
        ap.head("dir/file.bin")
    with pytest.raises(ObjectNotFoundError):
        ap.get_bytes("dir/file.bin")


def test_invalid_key_is_rejected_before_any_call(access_point: dict[str, Any]) -> None:
    ap = S3AccessPoint(access_point["arn"], access_point["client"])
    with pytest.raises(InvalidKeyError, match=r"'\.\.'"):
        ap.get_bytes("a/../etc/passwd")


def test_multipart_upload_regroups_chunks(access_point: dict[str, Any]) -> None:
    ap = S3AccessPoint(access_point["arn"], access_point["client"])
    part = MIN_PART_SIZE
    chunks = [b"a" * (part // 2)] * 3 + [b"b" * 10]
    ap.upload_multipart("big.bin", chunks)
    body = ap.get_bytes("big.bin")
    assert len(body) == 3 * (part // 2) + 10 and body.endswith(b"b" * 10)


def test_multipart_upload_aborts_on_failure(access_point: dict[str, Any]) -> None:
    client = access_point["client"]
    ap = S3AccessPoint(access_point["arn"], client)

    def chunks() -> Any:
        yield b"x" * MIN_PART_SIZE
        raise RuntimeError("source read failed")

    with pytest.raises(RuntimeError, match="source read failed"):
        ap.upload_multipart("broken.bin", chunks())
    assert client.list_multipart_uploads(Bucket=access_point["bucket"]).get("Uploads", []) == []
    with pytest.raises(ObjectNotFoundError):
        ap.head("broken.bin")


def test_access_denied_names_both_authorization_layers() -> None:
    client = boto3.client("s3", region_name="us-east-1")
    ap = S3AccessPoint(ARN, client)
    with Stubber(client) as stub:
        stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(AccessDeniedError) as caught:
            ap.get_bytes("secret.jpg")
    reason = caught.value.reason
    assert "IAM" in reason and "file-system identity" in reason and "secret.jpg" in reason


def test_client_is_created_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[str] = []
    monkeypatch.setattr(boto3, "client", lambda name, **_: created.append(name))
    ap = S3AccessPoint(ARN)
    assert created == []
    _ = ap.client
    assert created == ["s3"]
