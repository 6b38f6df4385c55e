"""UPU S10 and ISO 6346 check digits: published examples, an independent oracle, and properties."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logistics_ocr.checkdigits import (
    ISO6346,
    S10,
    find_identifiers,
    iso6346_check_digit,
    iso6346_valid,
    s10_check_digit,
    s10_valid,
)

# ISO 6346 letter values as the standard's table prints them (multiples of 11 skipped).
ISO_VALUES = [
    10,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    23,
    24,
    25,
    26,
    27,
    28,
    29,
    30,
    31,
    32,
    34,
    35,
    36,
    37,
    38,
]
ISO_TABLE = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", ISO_VALUES, strict=True))

serials = st.text(alphabet=string.digits, min_size=8, max_size=8)
owners = st.text(alphabet=string.ascii_uppercase, min_size=3, max_size=3)
categories = st.sampled_from("UJZ")
container_serials = st.text(alphabet=string.digits, min_size=6, max_size=6)


def s10_oracle(serial: str) -> int:
    """UPU S10 as the standard states it: weights 8 6 4 2 3 5 9 7, 11 - (sum mod 11), 10 -> 0, 11 -> 5."""
    total = 0
    for digit, weight in zip(serial, [8, 6, 4, 2, 3, 5, 9, 7], strict=True):
        total += int(digit) * weight
    check = 11 - total % 11
    if check == 10:
        return 0
    if check == 11:
        return 5
    return check


def iso_oracle(code: str) -> int:
    total = sum((ISO_TABLE[c] if c.isalpha() else int(c)) * (2**i) for i, c in enumerate(code))
    return (total % 11) % 10


def test_published_examples() -> None:
    assert s10_check_digit("47312482") == 9  # UPU S10 example AA473124829GB
    assert s10_valid("AA473124829GB") and s10_valid("AA 473 124 829 GB")
    assert not s10_valid("AA473124828GB")
    assert iso6346_check_digit("CSQU305438") == 3  # ISO 6346 example CSQU 305438 3
    assert iso6346_valid("CSQU3054383") and iso6346_valid("CSQU 305438-3")
    assert not iso6346_valid("CSQU3054384")


def test_malformed_input_is_refused_not_guessed() -> None:
    for bad in ("4731248", "4731248a", "473124829"):
        with pytest.raises(ValueError, match="eight digits"):
            s10_check_digit(bad)
    with pytest.raises(ValueError, match="U/J/Z"):
        iso6346_check_digit("CSQX305438")  # X is no category
    assert not s10_valid("A1473124829GB") and not iso6346_valid("CSQU30543")


@given(serials)
def test_s10_matches_the_standard_and_only_its_own_digit_validates(serial: str) -> None:
    check = s10_check_digit(serial)
    assert check == s10_oracle(serial)
    assert s10_valid(f"RR{serial}{check}SE")
    for other in set(range(10)) - {check}:
        assert not s10_valid(f"RR{serial}{other}SE")


@given(serials, st.integers(0, 7), st.integers(1, 9))
def test_s10_catches_a_changed_digit_unless_the_standard_maps_both_to_the_same_check(
    serial: str, position: int, delta: int
) -> None:
    changed = serial[:position] + str((int(serial[position]) + delta) % 10) + serial[position + 1 :]
    check = s10_check_digit(serial)
    # Only the 10 -> 0 and 11 -> 5 folding can hide a single-digit change.
    assert s10_valid(f"RR{changed}{check}SE") == (s10_oracle(changed) == check)
    if s10_check_digit(changed) == check:
        assert check in (0, 5)


@given(owners, categories, container_serials)
def test_iso6346_matches_the_standard_table(owner: str, category: str, serial: str) -> None:
    code = f"{owner}{category}{serial}"
    check = iso6346_check_digit(code)
    assert check == iso_oracle(code)
    assert iso6346_valid(code + str(check))
    assert not iso6346_valid(code + str((check + 1) % 10))


@given(serials, st.booleans())
def test_find_identifiers_reports_wrong_check_digits_instead_of_dropping_them(
    serial: str, wrong: bool
) -> None:
    check = (s10_check_digit(serial) + (1 if wrong else 0)) % 10
    text = f"Tracking No: CP {serial[:3]} {serial[3:6]} {serial[6:]} {check} DK\nContainer: CSQU3054383"
    found = find_identifiers(text)
    assert [(i.scheme, i.value, i.valid) for i in found] == [
        (S10, f"CP{serial}{check}DK", not wrong),
        (ISO6346, "CSQU3054383", True),
    ]
