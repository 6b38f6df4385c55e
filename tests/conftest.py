"""Fixtures shared by every test: fake credentials, moto, and an access point over a bucket."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scripts import catalog
from shared import clients, config, observability

# Use-case packages (retail_catalog, ...) import from their folders, as inside a function's zip.
catalog.make_importable()

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials so no test can reach real AWS, and fresh config, client and tracer caches."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    config.reset()
    clients.reset()
    observability.set_tracer(None)
    yield
    config.reset()
    clients.reset()
    observability.set_tracer(None)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto, in-process, for the duration of one test."""
    with mock_aws():
        yield


@pytest.fixture
def access_point(aws: None) -> dict[str, Any]:
    """A bucket standing in for an FSx for ONTAP volume, exposed through an access point ARN."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="fsxn-volume")
    control = boto3.client("s3control", region_name=REGION)
    control.create_access_point(AccountId=ACCOUNT, Name="fsxn-ap", Bucket="fsxn-volume")
    arn = f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/fsxn-ap"
    return {"bucket": "fsxn-volume", "arn": arn, "client": s3}


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
