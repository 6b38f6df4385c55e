"""Sequence grouping, padding, gaps, duplicates and robust outliers (plain functions, no I/O)."""

from __future__ import annotations

import pytest

from media_vfx import sequences as seq


def _frames(*keys: str, sizes: dict[str, int] | None = None) -> list[seq.Frame]:
    out = []
    for key in keys:
        frame = seq.parse_frame(key, (sizes or {}).get(key, 100), "e")
        assert frame is not None
        out.append(frame)
    return out


def test_frames_group_by_pattern_with_the_padding_detected() -> None:
    frames = _frames(
        "s/a.0001.exr", "s/a.0002.exr", "s/a.0004.exr", "s/b_12.dpx", "s/b_13.dpx", "s/A.0001.exr"
    )
    groups = seq.group(frames)
    assert sorted(groups) == ["s/A.####.exr", "s/a.####.exr", "s/b_##.dpx"]
    assert [f.number for f in groups["s/a.####.exr"]] == [1, 2, 4]
    assert seq.missing_numbers(f.number for f in groups["s/a.####.exr"]) == [3]


def test_unpadded_numbers_give_padding_zero() -> None:
    assert seq.detect_padding(_frames("x.1.exr", "x.2.exr", "x.10.exr")) == 0
    assert seq.pattern("x.", ".exr", 0) == "x.#.exr"


def test_a_number_written_twice_is_a_duplicate_and_the_odd_width_a_padding_mismatch() -> None:
    frames = _frames("a.0004.exr", "a.004.exr", "a.0005.exr", "a.0006.exr")
    assert seq.detect_padding(frames) == 4
    assert seq.duplicates(frames) == {4: ["a.0004.exr", "a.004.exr"]}
    assert seq.padding_mismatches(frames, 4) == ["a.004.exr"]


def test_a_key_without_a_number_is_no_frame() -> None:
    assert seq.parse_frame("notes/readme.exr") is None


def test_ranges_compress_to_an_openjd_range_expression() -> None:
    assert seq.compress_ranges([7, 1, 2, 3, 9, 10]) == "1-3,7,9-10"
    assert seq.compress_ranges([]) == ""


def test_size_outliers_are_robust_to_the_outlier_itself() -> None:
    sizes = {f"f{i}": 1000.0 + i for i in range(10)} | {"small": 300.0, "huge": 9000.0}
    found = seq.robust_outliers(sizes, z=5, min_relative=0.25)
    assert sorted(found) == ["huge", "small"]
    assert found["small"]["median"] == pytest.approx(1005.5, abs=3)


def test_a_constant_sequence_still_flags_a_far_frame_and_not_a_near_one() -> None:
    values = {f"f{i}": 1.0 for i in range(8)} | {"near": 1.2, "far": 50.0}
    assert sorted(seq.robust_outliers(values, z=8, min_relative=0.5, floor=1e-3)) == ["far"]


def test_header_fields_that_differ_from_the_common_value_are_named() -> None:
    headers = {
        "a": {"width": 64, "compression": "ZIP"},
        "b": {"width": 64, "compression": "ZIP"},
        "c": {"width": 48, "compression": "NONE"},
    }
    assert seq.inconsistent(headers, ("width", "compression")) == {
        "c": {"width": {"frame": 48, "sequence": 64}, "compression": {"frame": "NONE", "sequence": "ZIP"}}
    }


def test_the_version_changes_when_a_frame_changes() -> None:
    one = _frames("a.0001.exr", "a.0002.exr")
    two = [one[0], seq.Frame("a.0002.exr", 2, "0002", "a.", ".exr", 100, "other")]
    assert seq.version_of(one) != seq.version_of(two)
    assert seq.version_of(one) == seq.version_of(list(reversed(one)))
