"""Fixtures for the local-cloud adapter tests: one open local cloud per module and zipped functions."""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scripts.localcloud import LocalCloud

ROLE = "arn:aws:iam::123456789012:role/localcloud-test"


class Clock:
    """A settable clock for record-age tests."""

    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def cloud(clock: Clock) -> Iterator[LocalCloud]:
    with LocalCloud(clock=clock) as opened:
        opened.client("iam").create_role(RoleName="localcloud-test", AssumeRolePolicyDocument="{}")
        yield opened


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, textwrap.dedent(text))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def make_function(cloud: LocalCloud) -> Callable[..., str]:
    """Create a function from inline sources (``{"handler.py": code}``); returns its ARN."""

    def make(name: str, files: dict[str, str], **config: Any) -> str:
        response = cloud.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler=config.pop("Handler", "handler.handler"),
            Code={"ZipFile": zip_of(files)},
            **config,
        )
        return str(response["FunctionArn"])

    return make
