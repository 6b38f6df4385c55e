"""Check digits of the identifiers on shipping documents: UPU S10 item ids and ISO 6346 containers.

* **UPU S10** (postal items, e.g. ``RR123456785DE``): two service letters, eight serial digits, one
  check digit, the ISO 3166 alpha-2 country of the issuing post. The check digit is computed from
  the serial with the weights 8 6 4 2 3 5 9 7: ``c = 11 - (sum mod 11)``, and 10 becomes 0, 11
  becomes 5.
* **ISO 6346** (freight containers, e.g. ``CSQU3054383``): three owner letters, a category letter
  (U, J or Z), six serial digits, one check digit. Letters take the values 10..38 skipping the
  multiples of 11; the i-th character (0-based) is weighted 2**i; the check digit is
  ``(sum mod 11) mod 10``.

:func:`find_identifiers` finds every candidate in a text and says, for each, whether its check
digit holds: a wrong one is reported (a named finding), never silently accepted or corrected.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

logger = logging.getLogger(__name__)

S10 = "upu-s10"
ISO6346 = "iso-6346"
S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_S10 = re.compile(r"\b([A-Z]{2})\s?(\d{3})\s?(\d{3})\s?(\d{2})\s?(\d)\s?([A-Z]{2})\b")
_ISO6346 = re.compile(r"\b([A-Z]{3}[UJZ])\s?(\d{6})\s?-?\s?(\d)\b")
_LETTER_VALUES: dict[str, int] = {}


def _letter_values() -> dict[str, int]:
    if not _LETTER_VALUES:
        value = 10
        for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
            if value % 11 == 0:
                value += 1
            _LETTER_VALUES[letter] = value
            value += 1
    return _LETTER_VALUES


def s10_check_digit(serial: str) -> int:
    """The S10 check digit of an eight-digit serial number."""
    if len(serial) != 8 or not serial.isdigit() or not serial.isascii():
        raise ValueError("an S10 serial number is exactly eight digits")
    check = 11 - sum(int(d) * w for d, w in zip(serial, S10_WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(check, check)


def s10_valid(identifier: str) -> bool:
    """True when ``identifier`` is an S10 item id (13 characters, spaces ignored) whose check digit holds."""
    compact = identifier.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{9}[A-Z]{2}", compact):
        return False
    return s10_check_digit(compact[2:10]) == int(compact[10])


def iso6346_check_digit(first_ten: str) -> int:
    """The ISO 6346 check digit of owner code, category and serial (``CSQU305438`` -> 3)."""
    text = first_ten.upper()
    if not re.fullmatch(r"[A-Z]{3}[UJZ]\d{6}", text):
        raise ValueError("an ISO 6346 number starts with three owner letters, U/J/Z and six digits")
    values = _letter_values()
    total: int = sum((values[ch] if ch.isalpha() else int(ch)) << i for i, ch in enumerate(text))
    return total % 11 % 10


def iso6346_valid(identifier: str) -> bool:
    """True when ``identifier`` is a container number (spaces and a dash ignored) whose check digit holds."""
    compact = identifier.replace(" ", "").replace("-", "").upper()
    if not re.fullmatch(r"[A-Z]{3}[UJZ]\d{7}", compact):
        return False
    return iso6346_check_digit(compact[:10]) == int(compact[10])


@dataclass(frozen=True)
class Identifier:
    """An identifier found in a text: its scheme, normalised value and whether the check digit holds."""

    scheme: str
    value: str
    valid: bool
    expected_check_digit: int

    def to_dict(self) -> dict[str, object]:
        return {
            "scheme": self.scheme,
            "value": self.value,
            "valid": self.valid,
            "expected_check_digit": self.expected_check_digit,
        }


def s10_identifier(text: str) -> Identifier | None:
    """The identifier if ``text`` has the S10 shape (whatever its check digit), else None."""
    found = _S10.fullmatch(text.strip().upper())
    if not found:
        return None
    value = "".join(found.groups())
    expected = s10_check_digit(value[2:10])
    return Identifier(S10, value, expected == int(value[10]), expected)


def iso6346_identifier(text: str) -> Identifier | None:
    found = _ISO6346.fullmatch(text.strip().upper())
    if not found:
        return None
    value = "".join(found.groups())
    expected = iso6346_check_digit(value[:10])
    return Identifier(ISO6346, value, expected == int(value[10]), expected)


def find_identifiers(text: str) -> list[Identifier]:
    """Every S10 item id and ISO 6346 container number in ``text``, in order, valid or not."""
    found: list[tuple[int, Identifier]] = []
    for match in _S10.finditer(text.upper()):
        ident = s10_identifier(match.group(0))
        if ident:
            found.append((match.start(), ident))
    for match in _ISO6346.finditer(text.upper()):
        ident = iso6346_identifier(match.group(0))
        if ident:
            found.append((match.start(), ident))
    return [ident for _, ident in sorted(found, key=lambda pair: pair[0])]
