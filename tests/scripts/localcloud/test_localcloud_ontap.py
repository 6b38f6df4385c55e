"""The ONTAP stand-in itself: seed validation, ONTAP's error shapes, routing, and the local-cloud wiring."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from scripts.localcloud import LocalCloud
from scripts.localcloud.ontap import OntapStandIn, SeedError, parse_seed
from shared import config
from shared.ontap import OntapClient, OntapConfig, reset_credentials_cache

SEED: dict[str, Any] = {
    "credentials": {"username": "admin", "password": "pw"},
    "svms": [
        {
            "name": "svm1",
            "volumes": [
                {
                    "name": "vol1",
                    "files": {"a/b.txt": {"acls": [{"user": "Everyone", "rights": "read"}]}},
                }
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def standin() -> Iterator[OntapStandIn]:
    with OntapStandIn(SEED) as server:
        yield server


def _get(server: OntapStandIn, path: str, password: str = "pw") -> tuple[int, Any]:
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_cert_data=server.ca_pem)
    token = base64.b64encode(f"admin:{password}".encode()).decode()
    response = pool.request("GET", server.endpoint + path, headers={"Authorization": f"Basic {token}"})
    return response.status, json.loads(response.data)


def test_an_unknown_field_is_ontaps_400(standin: OntapStandIn) -> None:
    uuid = standin.svm_uuid("svm1")
    status, body = _get(
        standin, f"/api/protocols/file-security/permissions/{uuid}/%2Fvol1%2Fa%2Fb.txt?fields=acls,rights"
    )

    assert status == 400
    assert body == {
        "error": {
            "message": 'The value "rights" is invalid for field "fields" (<field,...>)',
            "code": "262197",
            "target": "fields",
        }
    }


def test_fields_select_what_comes_back(standin: OntapStandIn) -> None:
    uuid = standin.svm_uuid("svm1")
    status, body = _get(
        standin, f"/api/protocols/file-security/permissions/{uuid}/%2Fvol1%2Fa%2Fb.txt?fields=owner"
    )

    assert status == 200
    assert set(body) == {"svm", "path", "owner"}
    assert body["path"] == "/vol1/a/b.txt"


def test_a_raw_slash_in_the_path_does_not_match_the_route(standin: OntapStandIn) -> None:
    uuid = standin.svm_uuid("svm1")
    status, body = _get(standin, f"/api/protocols/file-security/permissions/{uuid}/vol1/a/b.txt")

    assert status == 404
    assert body["error"]["code"] == "3"


def test_missing_path_unknown_svm_and_bad_credentials(standin: OntapStandIn) -> None:
    uuid = standin.svm_uuid("svm1")
    status, body = _get(standin, f"/api/protocols/file-security/permissions/{uuid}/%2Fvol1%2Fnope")
    assert (status, body["error"]["code"], body["error"]["target"]) == (404, "655865", "path")
    status, body = _get(standin, "/api/protocols/file-security/permissions/no-such-uuid/%2Fvol1")
    assert (status, body["error"]["target"]) == (404, "svm.uuid")
    status, body = _get(standin, "/api/svm/svms", password="wrong")
    assert status == 401 and "error" in body


def test_an_unexpected_query_argument_is_refused(standin: OntapStandIn) -> None:
    status, body = _get(standin, "/api/svm/svms?nam=svm1&fields=uuid")
    assert (status, body["error"]["target"]) == (400, "nam")


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({"svms": [{"volumes": []}]}, r"svms\[0\]: an SVM has a name"),
        ({"svms": [{"name": "s", "volumes": [{"name": "v", "junction_path": "v"}]}]}, "junction_path"),
        (
            {"svms": [{"name": "s", "volumes": [{"name": "v", "files": {"../x": {}}}]}]},
            "relative path without",
        ),
        (
            {"svms": [{"name": "s", "volumes": [{"name": "v", "files": {"x": {"acls": [{"user": "u"}]}}}]}]},
            "exactly one of 'rights' and 'advanced_rights'",
        ),
        (
            {
                "svms": [
                    {
                        "name": "s",
                        "volumes": [
                            {"name": "v", "files": {"x": {"acls": [{"user": "u", "rights": "all"}]}}}
                        ],
                    }
                ]
            },
            "rights 'all' is not one of",
        ),
        (
            {
                "svms": [
                    {
                        "name": "s",
                        "volumes": [
                            {
                                "name": "v",
                                "files": {"x": {"acls": [{"user": "u", "rights": "read", "deny": 1}]}},
                            }
                        ],
                    }
                ]
            },
            "unknown keys",
        ),
    ],
)
def test_a_malformed_seed_names_the_entry(seed: dict[str, Any], message: str) -> None:
    with pytest.raises(SeedError, match=message):
        parse_seed(seed)


def test_uuids_are_stable_across_runs() -> None:
    assert parse_seed(SEED).svms[0].uuid == parse_seed(SEED).svms[0].uuid


def test_the_local_cloud_starts_it_with_a_secret(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    reset_credentials_cache()
    ontap = cloud.start_ontap(SEED)
    monkeypatch.setenv("ONTAP_ENDPOINT", ontap.endpoint)
    monkeypatch.setenv("ONTAP_SECRET_ID", ontap.secret_arn)
    monkeypatch.setenv("ONTAP_CA_BUNDLE_PEM", ontap.ca_pem)
    client = OntapClient.from_config(config.from_environ(OntapConfig))
    volume = client.volume("svm1", "vol1")
    (ace,) = client.permissions_for_key(volume, "a/b.txt").acls
    assert (ace.user, ace.basic_rights) == ("Everyone", "read")
    reset_credentials_cache()

    # The cloud stops it through the adapter protocol when it closes.
    assert ontap in cloud._installed
    ontap.uninstall()
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        urllib3.PoolManager(cert_reqs="CERT_NONE").request("GET", ontap.endpoint + "/api/svm/svms", retries=0)
    ontap.uninstall()  # a second stop, as the cloud's own exit does, is harmless
