"""Per-file ACL collection against the ONTAP stand-in over TLS: the document, and every error path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from legal_compliance.collect import collect_file
from scripts.localcloud.ontap import OntapStandIn
from shared.ontap import Credentials, OntapClient, reset_credentials_cache
from shared.polling.errors import TransientServiceError
from shared.polling.keys import output_key
from shared.s3ap import S3AccessPoint

SEED: dict[str, Any] = {
    "credentials": {"username": "auditor", "password": "pw"},
    "svms": [
        {
            "name": "svm1",
            "volumes": [
                {
                    "name": "share",
                    "junction_path": "/share",
                    "files": {
                        "finance/pay roll #1.csv": {
                            "owner": "S-1-5-21-1-2-3-1107",
                            "protected": True,
                            "acls": [
                                {"user": "Everyone", "rights": "full_control"},
                                {"user": "CORP\\intern", "access": "access_deny", "rights": "write"},
                                {"user": "CORP\\hr", "advanced_rights": {"read_data": True}},
                            ],
                        }
                    },
                }
            ],
        }
    ],
}


class Fixed:
    def __init__(self, password: str = "pw") -> None:
        self.value = Credentials("auditor", password)

    def get(self) -> Credentials:
        return self.value

    def refresh(self) -> Credentials:
        return self.value


@pytest.fixture
def ontap() -> Iterator[OntapStandIn]:
    reset_credentials_cache()
    with OntapStandIn(SEED) as server:
        yield server


@pytest.fixture
def output(aws: None) -> S3AccessPoint:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="out")
    return S3AccessPoint("out")


def client(ontap: OntapStandIn, password: str = "pw") -> OntapClient:
    return OntapClient(
        ontap.endpoint, Fixed(password), ca_bundle_pem=ontap.ca_pem, backoff_seconds=0.0, max_retries=1
    )


def file(key: str) -> dict[str, Any]:
    return {"key": key, "etag": '"abc123"', "size": 10, "last_modified": "2020-01-01T00:00:00+00:00"}


def collect(ontap: OntapStandIn, output: S3AccessPoint, key: str, password: str = "pw") -> dict[str, Any]:
    c = client(ontap, password)
    return collect_file(c, lambda: c.volume("svm1", "share"), output, file(key), run_id="r1", source="ap")


def stored(output: S3AccessPoint, key: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(output.get_bytes(output_key(key, '"abc123"')))
    return body


def test_a_file_gets_its_descriptor_with_what_each_ace_grants(
    ontap: OntapStandIn, output: S3AccessPoint
) -> None:
    key = "finance/pay roll #1.csv"
    step = collect(ontap, output, key)
    assert step["status"] == "SUCCEEDED" and step["key"] == key
    document = stored(output, key)
    permissions = document["permissions"]
    assert permissions["path"] == "/share/finance/pay roll #1.csv"
    assert permissions["owner"] == "S-1-5-21-1-2-3-1107"
    assert permissions["dacl_protected"] is True
    everyone, deny, hr = permissions["acls"]
    assert everyone["rights"] == "full_control" and everyone["grants_write"] and everyone["full_control"]
    assert deny["access"] == "access_deny" and deny["grants_write"] and not deny["full_control"]
    assert hr["grants_read"] and not hr["grants_write"] and hr["rights"] is None  # special permissions
    assert document["last_modified"] == "2020-01-01T00:00:00+00:00" and document["run_id"] == "r1"
    # the request used the documented endpoint with the path as one encoded segment
    assert any("%2Fshare%2Ffinance%2Fpay%20roll%20%231.csv" in r for r in ontap.requests)


def test_a_missing_path_is_a_failed_result_for_that_file(ontap: OntapStandIn, output: S3AccessPoint) -> None:
    step = collect(ontap, output, "finance/gone.xlsx")
    assert step["status"] == "FAILED" and step["error"] == "OntapNotFoundError"
    document = stored(output, "finance/gone.xlsx")
    assert "does not exist" in document["reason"] and document["ontap"]["status"] == 404


def test_a_key_that_cannot_be_an_ontap_path_is_a_failed_result(
    ontap: OntapStandIn, output: S3AccessPoint
) -> None:
    step = collect(ontap, output, "finance\\pay.csv")  # a backslash is an SMB separator
    assert step["status"] == "FAILED" and step["error"] == "InvalidKeyError"
    assert not any("pay.csv" in r for r in ontap.requests)  # refused before any request


def test_refused_credentials_leave_the_file_for_the_next_run(
    ontap: OntapStandIn, output: S3AccessPoint
) -> None:
    with pytest.raises(TransientServiceError) as caught:
        collect(ontap, output, "finance/pay roll #1.csv", password="wrong")
    assert caught.value.details["code"] == "OntapAuthenticationError"
    assert list(output.iter_objects("results/")) == []


def test_a_cluster_answering_503_leaves_the_file_for_the_next_run(
    ontap: OntapStandIn, output: S3AccessPoint
) -> None:
    c = client(ontap)
    volume = c.volume("svm1", "share")
    ontap.fail_next(503, count=5)
    with pytest.raises(TransientServiceError, match="OntapUnavailableError"):
        collect_file(c, lambda: volume, output, file("finance/pay roll #1.csv"), run_id="r1")
    assert list(output.iter_objects("results/")) == []
