"""Fixtures for UC9: moto with the volume's access point, the output bucket and the token table."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from shared.tasktokens import table_definition
from tests.autonomous_driving.uc9_helpers import (
    JOB_PREFIX,
    OUTPUT_BUCKET,
    REGION,
    TOKEN_TABLE,
    StepFunctionsRecorder,
    Uc9,
)


@pytest.fixture
def uc9(access_point: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Uc9:
    s3 = access_point["client"]
    s3.create_bucket(Bucket=OUTPUT_BUCKET)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(**table_definition(TOKEN_TABLE))
    for name, value in {
        "USE_CASE": "autonomous-driving",
        "ENVIRONMENT": "test",
        "ENABLE_XRAY": "false",
        "ACCESS_POINT": access_point["arn"],
        "OUTPUT_BUCKET": OUTPUT_BUCKET,
        "TOKEN_TABLE": TOKEN_TABLE,
        "JOB_NAME_PREFIX": JOB_PREFIX,
        "QC_MIN_POINTS": "100",
        "MAX_FILES_PER_RUN": "50",
    }.items():
        monkeypatch.setenv(name, value)
    return Uc9(s3, access_point["bucket"], access_point["arn"], dynamodb, monkeypatch)


@pytest.fixture
def sfn() -> StepFunctionsRecorder:
    return StepFunctionsRecorder()
