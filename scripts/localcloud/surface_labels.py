"""Surface-defect labels on the embedded cloud: DetectLabels answers that follow what the image shows.

The general stand-in (:func:`scripts.localcloud.ai_standins.detect_labels`) picks labels from the
SHA-256 of the image bytes, so two images differ but nothing in them matters; a defect decision
tested on it would be tested on noise. This adapter makes the general stand-in answer
``rekognition.DetectLabels`` with the same hash labels **plus** labels measured from the pixels
when the image is a plain surface (a median colour saturation under 6%, as bare metal has):

* ``Crack`` (alias ``Fracture``): a connected run of pixels much darker than the surface (70 grey
  levels below its median) that is long (at least 15% of the image diagonal) and thin (pixels per
  unit of length at most 6). Bolt holes and stamped marks are dark but compact, so they are not
  cracks. Confidence grows with the length.
* ``Rust`` (alias ``Corrosion``): orange-brown pixels (red well above blue, saturated) covering at
  least 0.5% of the image. Confidence grows with the share.
* ``Metal``: every plain surface, with a confidence from its uniformity.

Images that are not a plain surface (a retail product photo, a street scene) get exactly the hash
answer, so the other use cases see no change. NOT a model: a deterministic reading of synthetic
test images that lets the demo and the tests check that the defect decision follows the content.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable
from typing import Any

from scripts.localcloud.ai_standins import AIStandIns, detect_labels

logger = logging.getLogger(__name__)

OPERATION = "rekognition.DetectLabels"
ANALYSIS_SIDE = 512  # pixels of the longer side the analysis works on
DARK_BELOW_MEDIAN = 70
CRACK_MIN_LENGTH = 0.15  # of the diagonal
CRACK_MAX_WIDTH = 6.0
RUST_MIN_SHARE = 0.005
SURFACE_MAX_SATURATION = 0.06


def _label(
    name: str, confidence: float, alias: str | None = None, parent: str | None = None
) -> dict[str, Any]:
    return {
        "Name": name,
        "Confidence": round(min(99.5, confidence), 3),
        "Instances": [],
        "Parents": [{"Name": parent}] if parent else [],
        "Aliases": [{"Name": alias}] if alias else [],
        "Categories": [{"Name": "Materials"}],
    }


def _components(mask: Any) -> list[tuple[int, int, int, int, int]]:
    """Connected components (8-neighbour) of a boolean array: (pixels, top, left, bottom, right)."""
    import numpy as np

    height, width = mask.shape
    seen = np.zeros_like(mask, dtype=bool)
    found: list[tuple[int, int, int, int, int]] = []
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if seen[y0, x0]:
            continue
        seen[y0, x0] = True
        stack = [(int(y0), int(x0))]
        count, top, left, bottom, right = 0, int(y0), int(x0), int(y0), int(x0)
        while stack:
            y, x = stack.pop()
            count += 1
            top, bottom, left, right = min(top, y), max(bottom, y), min(left, x), max(right, x)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        found.append((count, top, left, bottom, right))
    return found


def surface_labels(image: bytes) -> list[dict[str, Any]]:
    """The content labels of a plain surface image ([] for anything else, or bytes that do not decode)."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image)) as opened:
            picture = opened.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError):
        return []
    picture.thumbnail((ANALYSIS_SIDE, ANALYSIS_SIDE))
    rgb = np.asarray(picture, dtype=np.float32)
    high, low = rgb.max(axis=2), rgb.min(axis=2)
    saturation = np.where(high > 0, (high - low) / np.maximum(high, 1), 0)
    if float(np.median(saturation)) > SURFACE_MAX_SATURATION:
        return []
    labels = [_label("Metal", 80 + 19 * (1 - float(np.median(saturation)) / SURFACE_MAX_SATURATION))]
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rust = (red > 90) & (red - blue > 60) & (green < red) & (green > blue) & (saturation > 0.4)
    share = float(rust.mean())
    if share >= RUST_MIN_SHARE:
        labels.append(_label("Rust", 70 + 600 * share, alias="Corrosion"))
    grey = rgb.mean(axis=2)
    dark = grey < float(np.median(grey)) - DARK_BELOW_MEDIAN
    diagonal = math.hypot(*grey.shape)
    longest = 0.0
    for count, top, left, bottom, right in _components(dark & ~rust):
        length = math.hypot(bottom - top + 1, right - left + 1)
        if length >= CRACK_MIN_LENGTH * diagonal and count / length <= CRACK_MAX_WIDTH:
            longest = max(longest, length / diagonal)
    if longest:
        labels.append(_label("Crack", 60 + 120 * longest, alias="Fracture"))
    return labels


def answer(image: bytes, max_labels: int = 10, min_confidence: float = 55.0) -> dict[str, Any]:
    """The hash labels of the general stand-in, with the surface labels merged in by confidence."""
    response = detect_labels(image, 1000, min_confidence)
    measured = [label for label in surface_labels(image) if label["Confidence"] >= min_confidence]
    if not measured:
        response["Labels"] = response["Labels"][:max_labels]
        return response
    names = {label["Name"] for label in measured}
    merged = measured + [label for label in response["Labels"] if label["Name"] not in names]
    merged.sort(key=lambda label: -label["Confidence"])
    response["Labels"] = merged[:max_labels]
    return response


class SurfaceLabels:
    """Puts :func:`answer` behind the general stand-in's DetectLabels hook while installed.

    No hook of its own: the general stand-in's ``before-call`` handler stays where it is (after any
    fault-injecting hooks a test or bench registers first, and counting its calls), and only the
    answer it computes for ``rekognition.DetectLabels`` comes from here.
    """

    def __init__(self, ai: AIStandIns) -> None:
        self.ai = ai
        self._original: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None

    def install(self) -> None:
        original = self.ai._answer

        def _answer(operation: str, params: dict[str, Any]) -> dict[str, Any]:
            if operation != OPERATION:
                return original(operation, params)
            return answer(
                self.ai._image_bytes(params["Image"]),
                int(params.get("MaxLabels", 10)),
                float(params.get("MinConfidence", 55.0)),
            )

        self._original = original
        self.ai._answer = _answer  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            self.ai._answer = self._original  # type: ignore[method-assign,assignment]
            self._original = None
