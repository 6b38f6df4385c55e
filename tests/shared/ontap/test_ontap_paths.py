"""S3 key -> ONTAP path -> URL segment, and back; keys that cannot name a file are refused."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import InvalidKeyError
from shared.ontap import (
    OntapLookupError,
    PathEscapeError,
    decode_path,
    encode_path,
    key_for_path,
    ontap_path,
)

# Any character a file name can hold: no separator, no NUL, no lone surrogate.
segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\\x00"),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", ".."))
keys = st.lists(segment, min_size=1, max_size=6).map("/".join).filter(lambda k: len(k.encode()) <= 1024)
junctions = st.sampled_from(["/", "/legal", "/vol 1/sub#dir", "/データ"])


@given(junction=junctions, key=keys)
def test_every_key_round_trips_through_the_encoded_segment(junction: str, key: str) -> None:
    path = ontap_path(junction, key)
    segment_sent = encode_path(path)

    assert re.fullmatch(r"[A-Za-z0-9_.~%-]+", segment_sent), segment_sent
    assert decode_path(segment_sent) == path
    assert key_for_path(junction, decode_path(segment_sent)) == key


@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        ("a.txt", "%2Flegal%2Fa.txt"),
        ("a b/c.txt", "%2Flegal%2Fa%20b%2Fc.txt"),
        ("100%.txt", "%2Flegal%2F100%25.txt"),
        ("x#y?z.txt", "%2Flegal%2Fx%23y%3Fz.txt"),
        ("é/日本.txt", "%2Flegal%2F%C3%A9%2F%E6%97%A5%E6%9C%AC.txt"),
        ("plus+and&eq=.txt", "%2Flegal%2Fplus%2Band%26eq%3D.txt"),
        ("folder/", "%2Flegal%2Ffolder"),
    ],
)
def test_known_encodings(key: str, encoded: str) -> None:
    assert encode_path(ontap_path("/legal", key)) == encoded


def test_a_root_junction_has_no_double_slash() -> None:
    assert ontap_path("/", "a/b") == "/a/b"
    assert key_for_path("/", "/a/b") == "a/b"


@pytest.mark.parametrize("key", ["..", "../x", "a/../../b", "a/..", "a/../b"])
def test_dot_dot_segments_are_an_escape_error(key: str) -> None:
    with pytest.raises(PathEscapeError):
        ontap_path("/legal", key)


@pytest.mark.parametrize(
    "key", ["", "/abs", "a//b", "./a", "a/./b", "a\\b", "nul\x00", "bad\udc80", "x" * 1025]
)
def test_keys_that_name_no_file_are_invalid(key: str) -> None:
    with pytest.raises(InvalidKeyError) as caught:
        ontap_path("/legal", key)
    assert not isinstance(caught.value, PathEscapeError)


@pytest.mark.parametrize("path", ["/other/a.txt", "/legalese/a.txt", "/legal/", "/legal"])
def test_a_path_outside_the_junction_maps_to_no_key(path: str) -> None:
    with pytest.raises(PathEscapeError):
        key_for_path("/legal", path)


@pytest.mark.parametrize("junction", ["legal", "/legal/", "/a//b", "/a/../b", ""])
def test_malformed_junctions_are_refused(junction: str) -> None:
    with pytest.raises(OntapLookupError):
        ontap_path(junction, "a.txt")
