"""Rekognition ``DetectModerationLabels`` stand-in (moto has none): an answer derived from the image bytes.

Not a model. The image must be given as ``Image.Bytes`` (JPEG or PNG, at most 5 MB, as the service
requires; anything else is an ``InvalidImageFormatException`` or ``ImageTooLargeException``). A
dark image (mean below 8 of 255) gets no labels; otherwise the SHA-256 of the bytes picks, about
one time in eight, one mild label, so tests can tell the cases apart and the same bytes always
give the same answer.
"""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse

from scripts.localcloud import hooks

logger = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024
_LABELS = (("Smoking", "Drugs & Tobacco"), ("Weapons", "Violence"), ("Alcoholic Beverages", "Alcohol"))
_PARAMS_KEY = "localcloud_moderation_params"


def detect_moderation_labels(image: bytes, min_confidence: float = 50.0) -> dict[str, Any]:
    from PIL import Image

    if image[:3] != b"\xff\xd8\xff" and image[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("InvalidImageFormatException")
    if len(image) > MAX_BYTES:
        raise ValueError("ImageTooLargeException")
    grey = Image.open(io.BytesIO(image)).convert("L")
    mean = sum(i * c for i, c in enumerate(grey.histogram())) / max(grey.width * grey.height, 1)
    digest = hashlib.sha256(image).digest()
    labels = []
    if mean >= 8 and digest[0] % 8 == 0:
        name, parent = _LABELS[digest[1] % len(_LABELS)]
        confidence = round(50.0 + digest[2] / 255.0 * 49.0, 3)
        if confidence >= min_confidence:
            labels.append({"Name": name, "ParentName": parent, "Confidence": confidence, "TaxonomyLevel": 2})
    return {"ModerationLabels": labels, "ModerationModelVersion": "local-standin"}


class ModerationStandIn:
    """Answers ``rekognition.DetectModerationLabels`` while installed; counts the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self._handlers: list[hooks.Hook] = []

    def _make_handler(self, operation: str) -> Callable[..., Any]:
        def before_call(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            self.calls += 1
            params = context.get(_PARAMS_KEY, {})
            meta = {"RequestId": str(uuid.uuid4()), "HTTPHeaders": {"x-local-stand-in": "moderation"}}
            image = params.get("Image", {})
            try:
                if "Bytes" not in image:
                    raise ValueError("InvalidParameterException")
                parsed = detect_moderation_labels(
                    bytes(image["Bytes"]), float(params.get("MinConfidence", 50.0))
                )
            except ValueError as error:
                body = {
                    "Error": {"Code": str(error), "Message": f"local stand-in: {error}"},
                    "ResponseMetadata": {**meta, "HTTPStatusCode": 400},
                }
                return AWSResponse("https://local.stand-in", 400, {}, None), body
            parsed["ResponseMetadata"] = {**meta, "HTTPStatusCode": 200}
            return AWSResponse("https://local.stand-in", 200, {}, None), parsed

        return before_call

    def install(self) -> None:
        def stash(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context[_PARAMS_KEY] = params

        self._handlers.extend(
            hooks.hooks_for("rekognition", ("DetectModerationLabels",), stash, self._make_handler)
        )
        hooks.install(self._handlers)

    def uninstall(self) -> None:
        hooks.uninstall(self._handlers)
