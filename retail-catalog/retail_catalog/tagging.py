"""Image tagging with Amazon Rekognition DetectLabels.

The image is sent as bytes rather than as an S3 reference: Rekognition reads S3 objects with its
own service identity, which the file-system identity behind an FSx for ONTAP access point does not
know. Bytes also let WebP (which Rekognition does not accept) be re-encoded first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from retail_catalog.errors import ImageRejectedError
from retail_catalog.images import ImageHeader, prepare_for_rekognition
from shared.clients import aws_client
from shared.observability import xray_subsegment
from shared.polling.aws import call

logger = logging.getLogger(__name__)

MAX_LABELS = 25
# Rekognition answers these for one unusable image; the request itself was fine.
PER_IMAGE_CODES = frozenset(
    {"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException"}
)


@dataclass(frozen=True)
class Label:
    """One detected label at or above the confidence threshold."""

    name: str
    confidence: float
    parents: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "confidence": self.confidence,
            "parents": list(self.parents),
            "categories": list(self.categories),
        }


@dataclass(frozen=True)
class TaggingResult:
    labels: tuple[Label, ...]
    header: ImageHeader
    converted: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": [label.to_dict() for label in self.labels],
            "format": self.header.format,
            "width": self.header.width,
            "height": self.header.height,
            "converted_for_tagging": self.converted,
        }


def rekognition_client() -> Any:
    return aws_client("rekognition")


def validate_threshold(confidence_threshold: float) -> float:
    """Rekognition's scale: a percentage from 0 to 100."""
    value = float(confidence_threshold)
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"confidence_threshold is a percentage 0..100, got {confidence_threshold!r}")
    return value


def tag_image(
    data: bytes,
    *,
    confidence_threshold: float,
    rekognition: Any | None = None,
    max_labels: int = MAX_LABELS,
) -> TaggingResult:
    """Detect labels in one image; labels under ``confidence_threshold`` (percent) are dropped.

    Raises :class:`~retail_catalog.errors.ImageRejectedError` for an image that cannot be tagged
    and :class:`~retail_catalog.errors.TransientServiceError` when Rekognition throttles.
    """
    threshold = validate_threshold(confidence_threshold)
    payload, header = prepare_for_rekognition(data)
    client = rekognition or rekognition_client()
    with xray_subsegment("rekognition_detect_labels", {"format": header.format}):
        response = call(
            "rekognition",
            "DetectLabels",
            client.detect_labels,
            per_item_codes=PER_IMAGE_CODES,
            rejected=ImageRejectedError,
            Image={"Bytes": payload},
            MaxLabels=max_labels,
            MinConfidence=threshold,
        )
    labels = []
    for item in response.get("Labels", ()):
        confidence = float(item.get("Confidence", 0.0))
        if confidence < threshold or not item.get("Name"):
            continue
        labels.append(
            Label(
                name=str(item["Name"]),
                confidence=round(confidence, 2),
                parents=tuple(str(p["Name"]) for p in item.get("Parents", ()) if p.get("Name")),
                categories=tuple(str(c["Name"]) for c in item.get("Categories", ()) if c.get("Name")),
            )
        )
    labels.sort(key=lambda label: (-label.confidence, label.name))
    return TaggingResult(labels=tuple(labels), header=header, converted=payload is not data)
