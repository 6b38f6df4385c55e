"""The ONTAP client against the stand-in over real, verified TLS: lookups, ACLs and every typed error."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

import pytest
import trustme

from scripts.localcloud.ontap import OntapStandIn
from shared.ontap import (
    AUTHENTICATED_USERS,
    EVERYONE,
    PERMISSION_FIELDS,
    OntapAuthenticationError,
    OntapBadRequestError,
    OntapClient,
    OntapConfigError,
    OntapConnectionError,
    OntapLookupError,
    OntapNotFoundError,
    OntapPermissionError,
    OntapResponseError,
    OntapTlsError,
    OntapUnavailableError,
    PathEscapeError,
    broad_group,
    is_sid,
)
from tests.shared.ontap.conftest import SEED, SID, CountingCredentials

MakeClient = Callable[..., OntapClient]
NDA = "contracts/2024/nda.pdf"
ODD = "hr/salaries 2024 #1 ?%é.xlsx"


def test_volume_lookup_gives_svm_uuid_and_junction(make_client: MakeClient, ontap: OntapStandIn) -> None:
    volume = make_client().volume("svm-legal", "legal")

    assert volume.name == "legal"
    assert volume.junction_path == "/legal"
    assert volume.svm.name == "svm-legal"
    assert volume.svm.uuid == ontap.svm_uuid("svm-legal")
    assert "fields=uuid%2Cname%2Csvm.uuid%2Csvm.name%2Cnas.path" in ontap.requests[-1]


def test_acls_come_back_typed(make_client: MakeClient, ontap: OntapStandIn) -> None:
    client = make_client()
    permissions = client.permissions_for_key(client.volume("svm-legal", "legal"), NDA)

    assert permissions.path == "/legal/contracts/2024/nda.pdf"
    assert permissions.owner == "CORP\\alice"
    assert permissions.group == "CORP\\Domain Users"
    assert permissions.control_flags == 0x8014
    assert permissions.dacl_protected is False
    assert permissions.effective_style == "ntfs"
    by_user = {ace.user: ace for ace in permissions.acls}
    everyone = by_user["Everyone"]
    assert (everyone.access, everyone.basic_rights, everyone.inherited) == (
        "access_allow",
        "full_control",
        False,
    )
    assert everyone.full_control and everyone.grants_write and broad_group(everyone.user) == EVERYONE
    authenticated = by_user["NT AUTHORITY\\Authenticated Users"]
    assert authenticated.basic_rights == "modify" and authenticated.grants_write
    assert broad_group(authenticated.user) == AUTHENTICATED_USERS
    orphan = by_user[SID]
    assert is_sid(orphan.user) and orphan.inherited is True
    assert orphan.basic_rights == "read" and orphan.grants_read and not orphan.grants_write
    assert by_user["CORP\\legal"].basic_rights == "read_and_execute"
    deny = by_user["CORP\\intern"]
    assert deny.is_deny and not deny.is_allow and deny.basic_rights == "write"
    assert everyone.apply_to is not None and everyone.apply_to.files is True
    assert everyone.access_control == "file_directory"
    # ONTAP's GET answers advanced_rights without rights; the client derives the basic right.
    assert everyone.rights is None
    assert f"fields={'%2C'.join(PERMISSION_FIELDS)}" in ontap.requests[-1]


def test_special_characters_reach_ontap_as_one_encoded_segment(
    make_client: MakeClient, ontap: OntapStandIn
) -> None:
    client = make_client()
    permissions = client.permissions_for_key(client.volume("svm-legal", "legal"), ODD)

    assert permissions.path == "/legal/hr/salaries 2024 #1 ?%é.xlsx"
    assert permissions.dacl_protected is True
    assert permissions.owner == SID
    (ace,) = permissions.acls
    # Unknown values are kept: an advanced right this client does not know, and no basic right.
    assert dict(ace.advanced_rights) == {"read_data": True, "future_right": True}
    assert ace.basic_rights is None
    sent = ontap.requests[-1]
    assert "/%2Flegal%2Fhr%2Fsalaries%202024%20%231%20%3F%25%C3%A9.xlsx?fields=" in sent


def test_implicit_folder_carries_the_root_aces_as_inherited(make_client: MakeClient) -> None:
    client = make_client()
    folder = client.permissions_for_key(client.volume("svm-legal", "legal"), "contracts/")

    assert folder.path == "/legal/contracts"
    assert {ace.user for ace in folder.acls} == {"BUILTIN\\Administrators", "NT AUTHORITY\\SYSTEM"}
    assert all(ace.inherited for ace in folder.acls)


def test_ca_bundle_as_pem_text_verifies_too(ontap: OntapStandIn) -> None:
    client = OntapClient(ontap.endpoint, CountingCredentials(), ca_bundle_pem=ontap.ca_pem)

    assert client.svm("svm-legal").uuid == ontap.svm_uuid("svm-legal")


def test_a_certificate_from_an_unknown_ca_fails_verification(ontap: OntapStandIn) -> None:
    stranger = trustme.CA().cert_pem.bytes().decode()
    for client in (
        OntapClient(ontap.endpoint, CountingCredentials(), ca_bundle_pem=stranger),
        OntapClient(ontap.endpoint, CountingCredentials()),  # the system store does not know it either
    ):
        with pytest.raises(OntapTlsError, match=r"TLS with https://127\.0\.0\.1"):
            client.svm("svm-legal")
    assert ontap.requests == []


def test_a_certificate_for_another_host_fails_verification() -> None:
    with OntapStandIn(SEED, hostnames=("ontap.example.com",)) as other:
        client = OntapClient(other.endpoint, CountingCredentials(), ca_bundle_path=other.ca_path)
        with pytest.raises(OntapTlsError):
            client.svm("svm-legal")
        assert other.requests == []


def test_an_unreadable_ca_bundle_is_a_config_error(tmp_path: Any) -> None:
    with pytest.raises(OntapConfigError, match="CA bundle"):
        OntapClient("cluster", CountingCredentials(), ca_bundle_path=str(tmp_path / "missing.pem"))
    with pytest.raises(OntapConfigError, match="CA bundle"):
        OntapClient("cluster", CountingCredentials(), ca_bundle_pem="not a certificate")


def test_insecure_mode_is_loud_on_every_client(ontap: OntapStandIn, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="shared.ontap.client"):
        for _ in range(2):
            client = OntapClient(ontap.endpoint, CountingCredentials(), insecure_skip_tls_verify=True)
    warnings = [r for r in caplog.records if "verification OFF" in r.getMessage()]
    assert len(warnings) == 2
    assert client.svm("svm-legal").name == "svm-legal"


@pytest.mark.parametrize(
    ("endpoint", "options"),
    [
        ("http://127.0.0.1:1", {}),
        ("https://cluster/api", {}),
        ("cluster", {"insecure_skip_tls_verify": True, "ca_bundle_pem": "x"}),
        ("cluster", {"ca_bundle_pem": "x", "ca_bundle_path": "y"}),
        ("cluster", {"read_timeout_seconds": 0}),
    ],
)
def test_contradictory_or_unsafe_settings_are_refused(endpoint: str, options: dict[str, Any]) -> None:
    with pytest.raises(OntapConfigError):
        OntapClient(endpoint, CountingCredentials(), **options)


def test_pagination_follows_links_next_with_fields_on_every_page(ontap: OntapStandIn) -> None:
    volumes = [{"name": f"vol{i:02d}", "junction_path": f"/vol{i:02d}"} for i in range(25)]
    seed = {"credentials": {"username": "u", "password": "p"}, "svms": [{"name": "big", "volumes": volumes}]}
    with OntapStandIn(seed) as big:
        client = OntapClient(
            big.endpoint, CountingCredentials("u", "p"), ca_bundle_path=big.ca_path, page_size=4
        )
        records = list(client.iter_records("/api/storage/volumes", ("uuid", "name", "nas.path")))

        assert sorted(r["name"] for r in records) == [f"vol{i:02d}" for i in range(25)]
        assert all(r["nas"]["path"] == "/" + r["name"] for r in records)
        assert len(big.requests) == 7
        assert all("fields=uuid%2Cname%2Cnas.path" in request for request in big.requests)
        assert all("start.uuid=" in request for request in big.requests[1:])


def test_svm_lookup_pages_and_is_cached(make_client: MakeClient, ontap: OntapStandIn) -> None:
    client = make_client(page_size=1)
    first = client.svm("svm-other")

    assert client.svm("svm-other") == first
    assert len(ontap.requests) == 1


def test_one_unknown_field_fails_the_whole_request_with_ontaps_message(make_client: MakeClient) -> None:
    with pytest.raises(OntapBadRequestError) as caught:
        list(make_client().iter_records("/api/storage/volumes", ("uuid", "name", "nas.junction")))

    error = caught.value
    assert error.status == 400
    assert error.ontap_code == "262197"
    assert error.target == "fields"
    assert error.ontap_message == 'The value "nas.junction" is invalid for field "fields" (<field,...>)'
    assert "nas.junction" in error.reason and "262197" in error.reason


def test_missing_path_is_a_not_found_naming_svm_and_path(make_client: MakeClient) -> None:
    client = make_client()
    with pytest.raises(OntapNotFoundError) as caught:
        client.permissions_for_key(client.volume("svm-legal", "legal"), "contracts/missing.pdf")

    error = caught.value
    assert error.ontap_code == "655865"
    assert "'/legal/contracts/missing.pdf'" in error.reason and "'svm-legal'" in error.reason
    assert error.to_dict()["path"] == "/legal/contracts/missing.pdf"
    assert error.to_dict()["svm"] == "svm-legal"


def test_bad_credentials_are_re_read_once_and_never_resent_unchanged(
    make_client: MakeClient, ontap: OntapStandIn
) -> None:
    credentials = CountingCredentials(password="wrong")
    client = make_client(credentials)
    svm = make_client().svm("svm-legal")
    ontap.requests.clear()

    with pytest.raises(OntapAuthenticationError) as caught:
        client.file_permissions(svm, "/legal/contracts/2024/nda.pdf")

    assert caught.value.status == 401
    assert "'/legal/contracts/2024/nda.pdf'" in caught.value.reason and "'svm-legal'" in caught.value.reason
    assert credentials.refreshes == 1
    assert len(ontap.requests) == 1


def test_forbidden_names_svm_and_path(make_client: MakeClient, ontap: OntapStandIn) -> None:
    client = make_client()
    volume = client.volume("svm-legal", "legal")
    ontap.fail_next(403, body={"error": {"message": "not authorized for that command", "code": "6"}})

    with pytest.raises(OntapPermissionError, match="not authorized for that command") as caught:
        client.permissions_for_key(volume, NDA)
    assert "'/legal/contracts/2024/nda.pdf'" in caught.value.reason and "'svm-legal'" in caught.value.reason


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(make_client: MakeClient, ontap: OntapStandIn, status: int) -> None:
    ontap.fail_next(status, count=2)

    assert make_client(max_retries=2).svm("svm-legal").name == "svm-legal"
    assert len(ontap.requests) == 3


def test_retries_are_bounded_and_end_in_a_typed_error(make_client: MakeClient, ontap: OntapStandIn) -> None:
    ontap.fail_next(503, count=10)

    with pytest.raises(OntapUnavailableError) as caught:
        make_client(max_retries=2).svm("svm-legal")
    assert caught.value.status == 503
    assert caught.value.ontap_message == "stand-in injected failure"
    assert len(ontap.requests) == 3


def test_a_client_error_is_not_retried(make_client: MakeClient, ontap: OntapStandIn) -> None:
    with pytest.raises(OntapBadRequestError):
        list(make_client(max_retries=3).iter_records("/api/svm/svms", ("uuid", "bogus")))
    assert len(ontap.requests) == 1


def test_an_unreachable_cluster_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = OntapClient(f"https://127.0.0.1:{port}", CountingCredentials(), max_retries=1, backoff_seconds=0)

    with pytest.raises(OntapConnectionError, match="did not answer"):
        client.svm("svm-legal")


def test_a_slow_answer_is_a_read_timeout_retried_then_typed(
    make_client: MakeClient, ontap: OntapStandIn
) -> None:
    ontap.stall_next(2.0, count=2)

    with pytest.raises(OntapConnectionError, match="did not answer") as caught:
        make_client(read_timeout_seconds=0.2, max_retries=1).svm("svm-legal")
    assert "Read timed out" in caught.value.reason
    assert len(ontap.requests) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"acls": "none"}, "acls"),
        ({"acls": [{"access": "access_allow"}]}, "acls[0].user"),
        ({"acls": [{"user": "Everyone"}]}, "acls[0].access"),
        (
            {"acls": [{"user": "x", "access": "access_allow", "advanced_rights": {"read_data": "yes"}}]},
            "acls[0].advanced_rights.read_data",
        ),
        ({"acls": [{"user": "x", "access": "access_allow", "inherited": "true"}]}, "acls[0].inherited"),
        (
            {"acls": [{"user": "x", "access": "access_allow", "apply_to": {"files": 1}}]},
            "acls[0].apply_to.files",
        ),
        ({"acls": [], "control_flags": "32788"}, "control_flags"),
        ({"acls": [], "owner": 7}, "owner"),
        (["not", "an", "object"], "response"),
    ],
)
def test_a_malformed_answer_is_a_typed_error_naming_the_field(
    make_client: MakeClient, ontap: OntapStandIn, body: Any, field: str
) -> None:
    client = make_client()
    svm = client.svm("svm-legal")
    ontap.fail_next(200, body=body)

    with pytest.raises(OntapResponseError) as caught:
        client.file_permissions(svm, "/legal/contracts/2024/nda.pdf")
    assert caught.value.field == field


def test_unknown_ace_values_and_keys_are_preserved(make_client: MakeClient, ontap: OntapStandIn) -> None:
    client = make_client()
    svm = client.svm("svm-legal")
    ace = {"user": "x", "access": "access_future", "rights": "future_right", "sid_type": "alias"}
    ontap.fail_next(200, body={"acls": [ace], "future_top_level": 1})

    permissions = client.file_permissions(svm, "/legal/x")
    (entry,) = permissions.acls
    assert (entry.access, entry.rights, entry.basic_rights) == (
        "access_future",
        "future_right",
        "future_right",
    )
    assert dict(entry.extra) == {"sid_type": "alias"}
    assert not entry.is_allow and not entry.is_deny
    assert permissions.raw["future_top_level"] == 1


def test_a_next_link_off_the_cluster_is_refused(make_client: MakeClient, ontap: OntapStandIn) -> None:
    ontap.fail_next(200, body={"records": [], "_links": {"next": {"href": "https://elsewhere/api/svm/svms"}}})

    with pytest.raises(OntapResponseError) as caught:
        make_client().svm("svm-legal")
    assert caught.value.field == "_links.next.href"


def test_lookups_that_find_nothing_or_an_unmounted_volume(
    make_client: MakeClient, ontap: OntapStandIn
) -> None:
    client = make_client()
    with pytest.raises(OntapLookupError, match="no SVM 'nope'"):
        client.svm("nope")
    with pytest.raises(OntapLookupError, match="no volume 'legal' of SVM 'nope'"):
        client.volume("nope", "legal")
    unmounted = client.volume("svm-legal", "unmounted")
    assert unmounted.junction_path is None
    before = len(ontap.requests)
    with pytest.raises(OntapLookupError, match="not mounted"):
        client.permissions_for_key(unmounted, NDA)
    assert len(ontap.requests) == before


def test_volume_lookup_is_scoped_to_the_svm(make_client: MakeClient) -> None:
    assert make_client().volume("svm-other", "legal").junction_path == "/elsewhere"


def test_a_key_escaping_the_junction_never_reaches_ontap(
    make_client: MakeClient, ontap: OntapStandIn
) -> None:
    client = make_client()
    volume = client.volume("svm-legal", "legal")
    before = len(ontap.requests)

    with pytest.raises(PathEscapeError):
        client.permissions_for_key(volume, "contracts/../../other-volume/secret.txt")
    assert len(ontap.requests) == before
