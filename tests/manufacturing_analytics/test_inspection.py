"""Inspection images: the defect decision follows named labels and thresholds, and the image content."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image

from manufacturing_analytics import inspection, samples
from manufacturing_analytics.sensors import parse_zone
from scripts.localcloud.surface_labels import answer, surface_labels
from shared.errors import ConfigError

RULES = inspection.DefectRules.parse(inspection.DEFAULT_RULES)
TOKYO = parse_zone("Asia/Tokyo")
SHIFTS = inspection.parse_shifts(inspection.DEFAULT_SHIFTS)


def _label(name: str, confidence: float, *aliases: str) -> dict[str, Any]:
    return {"Name": name, "Confidence": confidence, "Aliases": [{"Name": a} for a in aliases]}


def _decide(image: bytes) -> dict[str, Any]:
    sent, _ = inspection.fit_for_rekognition(image)
    return RULES.decide(answer(sent, 25, 50.0)["Labels"])


@pytest.mark.parametrize("seed", range(1, 9))
def test_a_normal_part_is_not_flagged(seed: int) -> None:
    # The earlier implementation flagged nearly every image: bolt holes, a stamped lot number and
    # brushed-metal texture must not read as a defect, whatever other labels the image gets.
    decision = _decide(samples.part_image(640, 480, seed))
    assert decision["defect"] is False, decision
    assert decision["matches"] == []


@pytest.mark.parametrize(("defect", "label"), [("crack", "Crack"), ("rust", "Rust")])
def test_a_visible_defect_is_flagged_by_its_label(defect: str, label: str) -> None:
    decision = _decide(samples.part_image(640, 480, 21, defect))
    assert decision["defect"] is True
    assert decision["label"] == label


def test_the_labels_follow_the_pixels_not_the_file() -> None:
    normal, cracked = samples.part_image(640, 480, 5), samples.part_image(640, 480, 5, "crack")
    assert "Crack" not in {label["Name"] for label in surface_labels(normal)}
    assert "Crack" in {label["Name"] for label in surface_labels(cracked)}
    # The same crack saved as PNG instead of JPEG is still a crack.
    png = io.BytesIO()
    Image.open(io.BytesIO(cracked)).save(png, "PNG")
    assert "Crack" in {label["Name"] for label in surface_labels(png.getvalue())}


def test_a_colourful_photo_gets_no_surface_labels() -> None:
    # Other use cases' images (products, street scenes) keep the general stand-in's answer.
    photo = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 40, 40)).save(photo, "JPEG")
    assert surface_labels(photo.getvalue()) == []


def test_a_named_label_below_its_threshold_is_a_near_miss_not_a_defect() -> None:
    decision = RULES.decide([_label("Crack", 79.9), _label("Metal", 99.0), _label("Scratch", 60.0)])
    assert decision["defect"] is False
    assert [m["label"] for m in decision["near_misses"]] == ["Crack", "Scratch"]


def test_unnamed_labels_never_flag_whatever_their_confidence() -> None:
    assert (
        RULES.decide([_label("Machine", 99.9), _label("Metal", 99.9), _label("Text", 99.0)])["defect"]
        is False
    )


def test_an_alias_counts_as_the_label_and_the_strongest_match_wins() -> None:
    decision = RULES.decide([_label("Oxidation", 90.0, "Corrosion"), _label("Crack", 95.0)])
    assert decision["defect"] is True
    assert (decision["label"], decision["confidence"]) == ("Crack", 95.0)
    assert [m["label"] for m in decision["matches"]] == ["Crack", "Corrosion"]


def test_thresholds_are_parameters() -> None:
    strict = inspection.DefectRules.parse("Crack:96")
    assert strict.decide([_label("Crack", 95.0)])["defect"] is False
    assert inspection.DefectRules.parse("crack:90").decide([_label("CRACK", 95.0)])["defect"] is True
    for bad in ("", "Crack", "Crack:101", ":50"):
        with pytest.raises(ConfigError):
            inspection.DefectRules.parse(bad)


def test_an_image_over_5_mb_is_resized_under_the_limit_and_keeps_its_defect() -> None:
    big = samples.big_png()
    assert len(big) > inspection.MAX_IMAGE_BYTES
    sent, info = inspection.fit_for_rekognition(big)
    assert len(sent) <= inspection.MAX_IMAGE_BYTES
    assert info["resized"] is True and info["format"] == "PNG"
    assert Image.open(io.BytesIO(sent)).format == "JPEG"
    assert RULES.decide(answer(sent, 25, 50.0)["Labels"])["label"] == "Crack"


def test_an_image_under_the_limit_is_sent_unchanged() -> None:
    image = samples.part_image(640, 480, 3)
    sent, info = inspection.fit_for_rekognition(image)
    assert sent is image
    assert info == {"format": "JPEG", "width": 640, "height": 480, "bytes": len(image), "resized": False}


def test_a_truncated_or_unsupported_image_is_a_typed_error() -> None:
    image = samples.part_image(640, 480, 3)
    with pytest.raises(inspection.ImageError, match="not a decodable image"):
        inspection.fit_for_rekognition(image[: len(image) // 3])
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    with pytest.raises(inspection.ImageError, match="GIF image"):
        inspection.fit_for_rekognition(gif.getvalue())
    with pytest.raises(inspection.ImageError):
        inspection.fit_for_rekognition(b"not an image")


@pytest.mark.parametrize(
    ("hour", "shift"), [(5, "C"), (6, "A"), (13, "A"), (14, "B"), (21, "B"), (22, "C"), (23, "C")]
)
def test_the_shift_is_the_last_start_passed_in_local_time(hour: int, shift: str) -> None:
    local = datetime(2026, 3, 1, hour, 30, tzinfo=TOKYO)
    assert inspection.shift_of(local.astimezone(UTC), TOKYO, SHIFTS) == shift


def test_the_capture_time_comes_from_the_name_in_plant_time_else_last_modified() -> None:
    moment, source = inspection.capture_time("p/part-1_20260301T071500.jpg", TOKYO, "")
    assert (moment, source) == (datetime(2026, 2, 28, 22, 15, tzinfo=UTC), "file name")
    moment, _ = inspection.capture_time("p/part-1_20260301-071500Z.jpg", TOKYO, "")
    assert moment == datetime(2026, 3, 1, 7, 15, tzinfo=UTC)
    moment, source = inspection.capture_time("p/part.jpg", TOKYO, "2026-03-01T10:00:00+00:00")
    assert (moment, source) == (datetime(2026, 3, 1, 10, tzinfo=UTC), "last modified")


def test_shifts_parse_and_refuse_nonsense() -> None:
    assert inspection.parse_shifts("N@22,D@07") == ((7, "D"), (22, "N"))
    for bad in ("", "A@25", "A", "@6"):
        with pytest.raises(ConfigError):
            inspection.parse_shifts(bad)
