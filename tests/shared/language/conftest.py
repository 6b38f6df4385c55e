"""Comprehend and Converse stand-ins installed on botocore for one test (no moto needed)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from scripts.localcloud.ai_standins import AIStandIns
from scripts.localcloud.comprehend import ComprehendStandIn


@pytest.fixture
def comprehend_standin() -> Iterator[ComprehendStandIn]:
    stand_in = ComprehendStandIn()
    stand_in.install()
    try:
        yield stand_in
    finally:
        stand_in.uninstall()


@pytest.fixture
def comprehend_client(comprehend_standin: ComprehendStandIn) -> object:
    return boto3.session.Session().client("comprehend", region_name="us-east-1")


@pytest.fixture
def converse_client() -> Iterator[object]:
    stand_in = AIStandIns(lambda bucket, key: b"")
    stand_in.install()
    try:
        yield boto3.session.Session().client("bedrock-runtime", region_name="us-east-1")
    finally:
        stand_in.uninstall()
