"""Credentials from Secrets Manager: read once per process, re-read once on 401, typed when malformed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from scripts.localcloud.ontap import OntapStandIn
from shared import config
from shared.ontap import (
    OntapAuthenticationError,
    OntapClient,
    OntapConfig,
    OntapCredentialsError,
    SecretsManagerCredentials,
)
from tests.shared.ontap.conftest import NDA_PATH, PASSWORD, USERNAME

REGION = "us-east-1"


class CountingSecrets:
    """A real (moto) Secrets Manager client that counts GetSecretValue calls."""

    def __init__(self) -> None:
        self.client = boto3.client("secretsmanager", region_name=REGION)
        self.reads = 0

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self.client.get_secret_value(**kwargs)


def _secret(name: str, value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return str(
        boto3.client("secretsmanager", region_name=REGION).create_secret(Name=name, SecretString=text)["ARN"]
    )


def test_the_secret_is_read_once_per_process_across_clients(
    aws: None, ontap: OntapStandIn, make_client: Callable[..., OntapClient]
) -> None:
    arn = _secret("ontap", {"username": USERNAME, "password": PASSWORD})
    secrets = CountingSecrets()
    for _ in range(3):
        make_client(SecretsManagerCredentials(arn, secrets)).svm("svm-legal")

    assert secrets.reads == 1


def test_a_rotated_password_is_picked_up_on_the_first_401(
    aws: None, ontap: OntapStandIn, make_client: Callable[..., OntapClient]
) -> None:
    arn = _secret("ontap", {"username": USERNAME, "password": PASSWORD})
    secrets = CountingSecrets()
    client = make_client(SecretsManagerCredentials(arn, secrets))
    svm = client.svm("svm-legal")

    secrets.client.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"username": USERNAME, "password": "new"})
    )
    ontap.set_credentials(USERNAME, "new")
    ontap.requests.clear()
    permissions = client.file_permissions(svm, NDA_PATH)

    assert permissions.owner == "CORP\\alice"
    assert secrets.reads == 2
    assert len(ontap.requests) == 2  # the refused request, then the one with the re-read secret


def test_a_401_after_the_re_read_is_a_typed_error(
    aws: None, ontap: OntapStandIn, make_client: Callable[..., OntapClient]
) -> None:
    arn = _secret("ontap", {"username": USERNAME, "password": PASSWORD})
    secrets = CountingSecrets()
    client = make_client(SecretsManagerCredentials(arn, secrets))
    svm = client.svm("svm-legal")
    ontap.set_credentials(USERNAME, "changed on the cluster only")

    with pytest.raises(OntapAuthenticationError):
        client.file_permissions(svm, NDA_PATH)
    assert secrets.reads == 2


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("not json", "not JSON"),
        ('["a"]', "not a JSON object"),
        ({"username": "u"}, "password"),
        ({"username": "", "password": "p"}, "username"),
        ({"user": "u", "pass": "p"}, "username and password"),
    ],
)
def test_a_malformed_secret_is_a_typed_error(aws: None, value: Any, reason: str) -> None:
    arn = _secret("ontap", value)
    with pytest.raises(OntapCredentialsError, match=reason) as caught:
        SecretsManagerCredentials(arn).get()
    assert caught.value.details["secret_id"] == arn


def test_a_missing_secret_is_a_typed_error(aws: None) -> None:
    with pytest.raises(OntapCredentialsError, match="ResourceNotFoundException"):
        SecretsManagerCredentials("no-such-secret").get()


def test_the_config_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONTAP_ENDPOINT", "https://10.0.0.5")
    monkeypatch.setenv("ONTAP_SECRET_ID", "arn:aws:secretsmanager:us-east-1:123456789012:secret:ontap")
    monkeypatch.setenv("ONTAP_READ_TIMEOUT_SECONDS", "12.5")
    loaded = config.from_environ(OntapConfig)

    assert loaded.endpoint == "https://10.0.0.5"
    assert loaded.read_timeout_seconds == 12.5
    assert loaded.insecure_skip_tls_verify is False
    assert loaded.ca_bundle_pem is None
    client = OntapClient.from_config(loaded)
    assert client.base_url == "https://10.0.0.5" and not client.insecure_skip_tls_verify
