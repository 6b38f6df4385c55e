"""Tests for typed errors and the FAILED result shape."""

from __future__ import annotations

import pytest

from shared.errors import FAILED, InvalidKeyError, PatternError, error_result, failed_result


def test_failed_result_always_carries_a_reason() -> None:
    assert failed_result("too small", key="a.jpg") == {
        "key": "a.jpg",
        "status": FAILED,
        "reason": "too small",
    }
    with pytest.raises(ValueError, match="reason"):
        failed_result("")


def test_error_result_keeps_type_and_details() -> None:
    error = InvalidKeyError("bad key", key="../x")
    assert error_result(error, stage="discovery") == {
        "key": "../x",
        "stage": "discovery",
        "error": "InvalidKeyError",
        "status": FAILED,
        "reason": "bad key",
    }


def test_pattern_error_is_an_exception_with_reason() -> None:
    error = PatternError("boom", code=7)
    assert str(error) == "boom" and error.to_dict() == {"error": "PatternError", "reason": "boom", "code": 7}
    assert isinstance(InvalidKeyError("x"), ValueError)
