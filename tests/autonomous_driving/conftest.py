"""Fixtures for UC9: moto with the volume's access point, the output bucket and the token table."""

from __future__ import annotations

from typing import Any

import pytest

from tests.autonomous_driving.uc9_helpers import StepFunctionsRecorder, Uc9


@pytest.fixture
def uc9(access_point: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Uc9:
    return Uc9.create(access_point, monkeypatch)


@pytest.fixture
def sfn() -> StepFunctionsRecorder:
    return StepFunctionsRecorder()
