"""Deterministic sample product images for tests, demos and benchmarks.

Every image is drawn from its spec alone (no randomness without a seed, no clock), so the same
spec always gives the same bytes with the pinned Pillow. The default set covers the three catalog
formats in several sizes and aspect ratios, plus files that must fail the quality check on
purpose: truncated, too small, an odd aspect ratio, and a file that is not an image at all. Two
files share a name in different folders, which is what output keys must keep apart.

``seed_bucket`` fills a moto bucket with N objects through moto's backend, because creating ten
thousand objects through the S3 API takes minutes locally.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

logger = logging.getLogger(__name__)

FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
DEFECTS = ("truncated", "too_small", "odd_aspect", "not_image")


@dataclass(frozen=True)
class SampleSpec:
    """One sample file: where it goes, what it looks like, and which defect it carries (if any)."""

    key: str
    width: int
    height: int
    seed: int
    defect: str | None = None

    @property
    def format(self) -> str:
        return FORMATS[self.key.rsplit(".", 1)[-1].lower()]

    @property
    def expected_issues(self) -> tuple[str, ...]:
        """The quality issue codes this file must produce under the default rules."""
        return {
            None: (),
            "truncated": ("corrupt",),
            "too_small": ("too_small",),
            "odd_aspect": ("aspect_ratio",),
            "not_image": ("unreadable",),
        }[self.defect]


@dataclass(frozen=True)
class SampleImage:
    spec: SampleSpec
    data: bytes

    @property
    def key(self) -> str:
        return self.spec.key


DEFAULT_SPECS: tuple[SampleSpec, ...] = (
    SampleSpec("products/shoes/sneaker-001.jpg", 1200, 1200, 1),
    SampleSpec("products/shoes/boot-002.jpg", 1600, 1200, 2),
    SampleSpec("products/bags/sneaker-001.jpg", 800, 1000, 3),
    SampleSpec("products/bags/tote-003.png", 1000, 1000, 4),
    SampleSpec("products/apparel/shirt-004.webp", 900, 1200, 5),
    SampleSpec("products/apparel/jacket-005.webp", 1500, 1000, 6),
    SampleSpec("products/home/lamp-006.png", 640, 640, 7),
    SampleSpec("products/home/rug-007.jpeg", 2000, 1100, 8),
    SampleSpec("products/home/vase-008.jpg", 700, 900, 9, defect="truncated"),
    SampleSpec("products/toys/robot-009.png", 200, 150, 10, defect="too_small"),
    SampleSpec("products/toys/banner-010.webp", 2400, 600, 11, defect="odd_aspect"),
    SampleSpec("incoming/unsorted/readme-011.jpg", 800, 800, 12, defect="not_image"),
)


def render(spec: SampleSpec) -> bytes:
    """The bytes of one sample file, drawn deterministically from ``spec``."""
    if spec.defect == "not_image":
        text = f"this is not a picture: {spec.key}\n" * 64
        return text.encode("utf-8")
    rng = random.Random(spec.seed)
    background = tuple(rng.randrange(40, 220) for _ in range(3))
    image = Image.new("RGB", (spec.width, spec.height), background)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.randrange(spec.width), rng.randrange(spec.height)
        x1 = min(spec.width, x0 + rng.randrange(10, max(11, spec.width // 2)))
        y1 = min(spec.height, y0 + rng.randrange(10, max(11, spec.height // 2)))
        color = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=color)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=color)
    buffer = io.BytesIO()
    options: dict[str, Any] = {"quality": 85} if spec.format in {"JPEG", "WEBP"} else {}
    image.save(buffer, format=spec.format, **options)
    data = buffer.getvalue()
    if spec.defect == "truncated":
        data = data[: len(data) // 2]
    return data


def sample_set(specs: Sequence[SampleSpec] = DEFAULT_SPECS) -> list[SampleImage]:
    """The rendered default sample set (or the given specs)."""
    return [SampleImage(spec, render(spec)) for spec in specs]


# Catalog-sized images (above the default 500x500 minimum, aspect ratios 0.8 to 1.33) for demos and
# end-to-end runs, where every generated file should pass the quality check. Kept modest because
# WebP encoding is the slowest step of seeding.
CATALOG_SIZES: tuple[tuple[int, int], ...] = ((800, 800), (640, 800), (1000, 750), (600, 600))


def generated_specs(
    count: int,
    *,
    prefix: str = "products/",
    folders: int = 20,
    seed: int = 0,
    width: int = 64,
    height: int = 64,
    sizes: Sequence[tuple[int, int]] = (),
) -> Iterator[SampleSpec]:
    """``count`` valid specs spread over ``folders`` folders, cycling through the formats.

    The default 64x64 pixels suit volume tests and benchmarks, where listing matters and pixels do
    not; such images are below the default quality minimum (500x500). Pass ``sizes`` (for example
    :data:`CATALOG_SIZES`, cycled through) or ``width`` and ``height`` for images that should pass
    the quality check.
    """
    extensions = ("jpg", "png", "webp")
    for index in range(count):
        folder = f"{prefix}dept-{index % folders:03d}/"
        extension = extensions[index % len(extensions)]
        w, h = sizes[index % len(sizes)] if sizes else (width, height)
        yield SampleSpec(f"{folder}item-{index:07d}.{extension}", w, h, seed + index)


def write_directory(target: Path, images: Sequence[SampleImage]) -> list[Path]:
    """Write the images below ``target`` (e.g. to copy onto an NFS or SMB share for a real demo)."""
    written = []
    for image in images:
        path = target / image.key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image.data)
        written.append(path)
    return written


def upload(s3_client: Any, bucket: str, images: Sequence[SampleImage]) -> dict[str, str]:
    """Upload through the S3 API (an access point ARN or alias works as ``bucket``); key -> ETag."""
    etags = {}
    for image in images:
        content_type = CONTENT_TYPES.get(image.spec.format, "application/octet-stream")
        if image.spec.defect == "not_image":
            content_type = "application/octet-stream"
        response = s3_client.put_object(
            Bucket=bucket, Key=image.key, Body=image.data, ContentType=content_type
        )
        etags[image.key] = str(response["ETag"]).strip('"')
    return etags


def seed_bucket(
    bucket: str,
    count: int,
    *,
    account_id: str = "123456789012",
    prefix: str = "products/",
    folders: int = 20,
    distinct_bodies: int = 16,
) -> list[str]:
    """Put ``count`` image objects into a moto bucket directly through moto's S3 backend.

    Must run inside ``mock_aws`` with the bucket already created. Only ``distinct_bodies`` images
    are rendered; objects reuse them, so seeding 10,000 objects takes seconds. Returns the keys.
    """
    from moto.s3.models import s3_backends

    backend = s3_backends[account_id]["global"]
    bodies = [render(spec) for spec in generated_specs(distinct_bodies, prefix="seed/")]
    keys = []
    for index, spec in enumerate(generated_specs(count, prefix=prefix, folders=folders)):
        backend.put_object(bucket, spec.key, bodies[index % len(bodies)])
        keys.append(spec.key)
    return keys


def digest(images: Sequence[SampleImage]) -> str:
    """One hash over every key and body: proves the set is reproducible."""
    h = hashlib.sha256()
    for image in images:
        h.update(image.key.encode())
        h.update(hashlib.sha256(image.data).digest())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the retail sample images to a directory.")
    parser.add_argument("target", type=Path)
    parser.add_argument("--count", type=int, default=0, help="extra generated images beyond the default set")
    args = parser.parse_args(argv)
    specs = list(DEFAULT_SPECS) + list(generated_specs(args.count))
    paths = write_directory(args.target, sample_set(specs))
    print(f"wrote {len(paths)} files under {args.target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
