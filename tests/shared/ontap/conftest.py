"""The ONTAP stand-in over real TLS, a seed covering the ACL shapes, and a client factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scripts.localcloud.ontap import OntapStandIn
from shared.ontap import Credentials, OntapClient, reset_credentials_cache

USERNAME = "fsxadmin"
PASSWORD = "correct horse"
NDA_PATH = "/legal/contracts/2024/nda.pdf"
SID = "S-1-5-21-3623811015-3361044348-30300820-1107"

ROOT = {
    "owner": "BUILTIN\\Administrators",
    "acls": [
        {"user": "BUILTIN\\Administrators", "rights": "full_control"},
        {"user": "NT AUTHORITY\\SYSTEM", "rights": "full_control"},
    ],
}

SEED: dict[str, Any] = {
    "credentials": {"username": USERNAME, "password": PASSWORD},
    "svms": [
        {
            "name": "svm-legal",
            "volumes": [
                {
                    "name": "legal",
                    "junction_path": "/legal",
                    "root": ROOT,
                    "files": {
                        "contracts/2024/nda.pdf": {
                            "owner": "CORP\\alice",
                            "group": "CORP\\Domain Users",
                            "acls": [
                                {"user": "Everyone", "rights": "full_control"},
                                {"user": "NT AUTHORITY\\Authenticated Users", "rights": "modify"},
                                {"user": SID, "rights": "read", "inherited": True},
                                {"user": "CORP\\legal", "rights": "read_and_execute", "inherited": True},
                                {"user": "CORP\\intern", "access": "access_deny", "rights": "write"},
                            ],
                        },
                        "hr/salaries 2024 #1 ?%é.xlsx": {
                            "owner": SID,
                            "protected": True,
                            "acls": [
                                {
                                    "user": "CORP\\hr",
                                    "advanced_rights": {"read_data": True, "future_right": True},
                                },
                            ],
                        },
                    },
                },
                {"name": "unmounted", "junction_path": None},
            ],
        },
        {"name": "svm-other", "volumes": [{"name": "legal", "junction_path": "/elsewhere"}]},
    ],
}


class CountingCredentials:
    """Fixed credentials that count how often they were read and re-read."""

    def __init__(self, username: str = USERNAME, password: str = PASSWORD) -> None:
        self.value = Credentials(username, password)
        self.gets = 0
        self.refreshes = 0

    def get(self) -> Credentials:
        self.gets += 1
        return self.value

    def refresh(self) -> Credentials:
        self.refreshes += 1
        return self.value


@pytest.fixture(autouse=True)
def _fresh_secret_cache() -> Iterator[None]:
    reset_credentials_cache()
    yield
    reset_credentials_cache()


@pytest.fixture
def ontap() -> Iterator[OntapStandIn]:
    with OntapStandIn(SEED) as server:
        yield server


@pytest.fixture
def make_client(ontap: OntapStandIn) -> Callable[..., OntapClient]:
    """A client trusting the stand-in's CA (by file), with no backoff sleeps."""

    def make(credentials: Any = None, **kwargs: Any) -> OntapClient:
        options: dict[str, Any] = {"ca_bundle_path": ontap.ca_path, "backoff_seconds": 0.0, **kwargs}
        return OntapClient(ontap.endpoint, credentials or CountingCredentials(), **options)

    return make
