"""Fixtures for the retail-catalog tests: sample images, stubbed AI clients, buckets."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from shared.formats.samples.images import SampleImage, sample_set

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def _no_xray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tracing is not under test here; keep subsegments as no-ops."""
    monkeypatch.setenv("ENABLE_XRAY", "false")
    monkeypatch.setenv("USE_CASE", "retail-catalog")


@pytest.fixture(scope="session")
def samples() -> list[SampleImage]:
    return sample_set()


@pytest.fixture
def sample(samples: list[SampleImage]) -> Any:
    """Look up a sample image by a substring of its key."""

    def find(fragment: str) -> SampleImage:
        matches = [s for s in samples if fragment in s.key]
        assert len(matches) == 1, f"{fragment!r} matches {[m.key for m in matches]}"
        return matches[0]

    return find


class FakeRekognition:
    """Answers DetectLabels with fixed labels and records each request."""

    def __init__(self, labels: list[dict[str, Any]] | None = None, error: Exception | None = None) -> None:
        self.labels = labels if labels is not None else [
            {"Name": "Shoe", "Confidence": 97.25, "Parents": [{"Name": "Footwear"}],
             "Categories": [{"Name": "Apparel and Accessories"}]},
            {"Name": "Sneaker", "Confidence": 88.0, "Parents": [{"Name": "Shoe"}]},
            {"Name": "Blur", "Confidence": 12.0},
        ]  # fmt: skip
        self.error = error
        self.requests: list[dict[str, Any]] = []

    def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        if self.error is not None:
            raise self.error
        return {"Labels": self.labels, "LabelModelVersion": "3.0"}


class FakeBedrock:
    """Answers Converse with a fixed catalog entry (or a given text) and records each request."""

    def __init__(
        self, text: str | None = None, stop_reason: str = "end_turn", error: Exception | None = None
    ):
        self.text = (
            text
            if text is not None
            else json.dumps(
                {
                    "title": "Red running sneaker",
                    "description": "A lightweight running shoe.",
                    "category": "Footwear",
                    "keywords": ["sneaker", "running", "sneaker"],
                    "attributes": {"color": "red", "material": "mesh"},
                }
            )
        )
        self.stop_reason = stop_reason
        self.error = error
        self.requests: list[dict[str, Any]] = []

    def converse(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        if self.error is not None:
            raise self.error
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": self.text}]}},
            "stopReason": self.stop_reason,
            "usage": {"inputTokens": 120, "outputTokens": 45, "totalTokens": 165},
        }


@pytest.fixture
def rekognition() -> FakeRekognition:
    return FakeRekognition()


@pytest.fixture
def bedrock() -> FakeBedrock:
    return FakeBedrock()


@pytest.fixture
def stubbed_rekognition() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("rekognition", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber


@pytest.fixture
def stubbed_bedrock() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("bedrock-runtime", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber


@pytest.fixture
def buckets(aws: None, samples: list[SampleImage]) -> dict[str, Any]:
    """A source bucket holding the sample set (standing in for the volume) and an output bucket."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="fsxn-volume")
    s3.create_bucket(Bucket="catalog-output")
    # Seeded through moto's backend: the same objects as put_object, without the HTTP round trips.
    from moto.s3.models import s3_backends

    backend = s3_backends["123456789012"]["global"]
    etags = {
        image.key: backend.put_object("fsxn-volume", image.key, image.data).etag.strip('"')
        for image in samples
    }
    return {"source": "fsxn-volume", "output": "catalog-output", "client": s3, "etags": etags}


@pytest.fixture
def listed_file(buckets: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """Build the event a polling state receives for one listed sample file (plus ``extra`` fields)."""

    def build(key: str, **extra: Any) -> dict[str, Any]:
        return {
            "key": key,
            "etag": buckets["etags"][key],
            "size": 1,
            "last_modified": "2026-01-01T00:00:00+00:00",
            "run_id": "run-1",
            **extra,
        }

    return build


@pytest.fixture
def make_rekognition() -> type[FakeRekognition]:
    return FakeRekognition


@pytest.fixture
def make_bedrock() -> type[FakeBedrock]:
    return FakeBedrock
