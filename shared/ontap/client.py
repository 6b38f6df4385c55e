"""A typed client for the few ONTAP REST endpoints the use cases read.

* ``GET /api/svm/svms?name=`` and ``GET /api/storage/volumes?name=&svm.name=`` find an SVM's UUID
  and a volume's junction path (``nas.path``), following ``_links.next`` across pages;
* ``GET /api/protocols/file-security/permissions/{svm.uuid}/{path}`` (ONTAP 9.9 or later) reads a
  file's security descriptor; :meth:`OntapClient.permissions_for_key` maps an S3 key to that path
  first (:mod:`shared.ontap.paths`).

Every request names its ``fields=`` explicitly. ONTAP validates the whole list and answers 400
for the whole request when ONE name is unknown to its version (code ``262197``, target
``fields``); the client surfaces that as :class:`OntapBadRequestError` with ONTAP's message, so a
field added for a newer ONTAP fails loudly instead of returning less.

Credentials are a Secrets Manager secret holding ``{"username": ..., "password": ...}``, read
once per process (per cold start) and re-read once when ONTAP answers 401: a rotated password is
picked up without a redeploy, and an unchanged one is not sent again (repeated failures can lock
the account). TLS is verified by default, against the system store or a private CA bundle;
``insecure_skip_tls_verify=True`` turns verification off and logs a warning each time a client is
made with it. Timeouts are explicit, and 429/500/502/503/504 are retried a bounded number of times
with exponential backoff (urllib3's ``Retry``); ONTAP's ``Retry-After`` is not honoured, so a long
value cannot stall a function past its own timeout.

urllib3 is not in any layer: the Lambda runtime's botocore brings it, in whichever release its
botocore accepts (1.26 or 2.x), so only API present in both is used here.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import ssl
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError, SSLError

from shared.clients import aws_client
from shared.config import env
from shared.errors import aws_error_code
from shared.ontap.errors import (
    OntapApiError,
    OntapAuthenticationError,
    OntapBadRequestError,
    OntapConfigError,
    OntapConnectionError,
    OntapCredentialsError,
    OntapLookupError,
    OntapNotFoundError,
    OntapPermissionError,
    OntapResponseError,
    OntapTlsError,
    OntapUnavailableError,
)
from shared.ontap.models import FilePermissions, Svm, Volume, parse_permissions, parse_svm, parse_volume
from shared.ontap.paths import encode_path, ontap_path

logger = logging.getLogger(__name__)

SVM_FIELDS = ("uuid", "name")
VOLUME_FIELDS = ("uuid", "name", "svm.uuid", "svm.name", "nas.path")
# All documented for GET file-security/permissions since ONTAP 9.9.1.
PERMISSION_FIELDS = ("owner", "group", "control_flags", "effective_style", "acls")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_READ_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF_SECONDS = 0.5
DEFAULT_PAGE_SIZE = 500


@dataclasses.dataclass(frozen=True)
class Credentials:
    username: str
    password: str = dataclasses.field(repr=False)


class CredentialsProvider(Protocol):
    def get(self) -> Credentials: ...

    def refresh(self) -> Credentials: ...


# Secret id -> credentials: module state, so one read per cold start however many clients are made.
_SECRET_CACHE: dict[str, Credentials] = {}


def reset_credentials_cache() -> None:
    """Forget every cached secret (for tests)."""
    _SECRET_CACHE.clear()


class SecretsManagerCredentials:
    """ONTAP credentials from a Secrets Manager JSON secret (``username``, ``password``)."""

    def __init__(self, secret_id: str, client: Any | None = None) -> None:
        if not secret_id:
            raise OntapConfigError("the ONTAP credentials need a Secrets Manager secret id")
        self.secret_id = secret_id
        self._client = client

    def get(self) -> Credentials:
        cached = _SECRET_CACHE.get(self.secret_id)
        return cached if cached is not None else self.refresh()

    def refresh(self) -> Credentials:
        client = self._client or aws_client("secretsmanager")
        try:
            secret = client.get_secret_value(SecretId=self.secret_id)
        except Exception as error:
            if not aws_error_code(error):
                raise
            raise OntapCredentialsError(
                f"cannot read the ONTAP secret: {aws_error_code(error)}", secret_id=self.secret_id
            ) from error
        credentials = parse_secret(secret.get("SecretString"), self.secret_id)
        _SECRET_CACHE[self.secret_id] = credentials
        return credentials


def parse_secret(text: Any, secret_id: str) -> Credentials:
    """``{"username": ..., "password": ...}``; anything else is a typed error naming the secret."""
    if not isinstance(text, str):
        raise OntapCredentialsError("the ONTAP secret has no SecretString", secret_id=secret_id)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise OntapCredentialsError("the ONTAP secret is not JSON", secret_id=secret_id) from error
    if not isinstance(value, dict):
        raise OntapCredentialsError("the ONTAP secret is not a JSON object", secret_id=secret_id)
    missing = [k for k in ("username", "password") if not isinstance(value.get(k), str) or not value[k]]
    if missing:
        raise OntapCredentialsError(
            f"the ONTAP secret lacks a non-empty {' and '.join(missing)}", secret_id=secret_id
        )
    return Credentials(value["username"], value["password"])


@dataclasses.dataclass(frozen=True)
class OntapConfig:
    """The environment a function that calls ONTAP reads (see ``docs/ontap.md``)."""

    endpoint: str = env("ONTAP_ENDPOINT")
    secret_id: str = env("ONTAP_SECRET_ID")
    ca_bundle_path: str | None = env("ONTAP_CA_BUNDLE_PATH", None)
    ca_bundle_pem: str | None = env("ONTAP_CA_BUNDLE_PEM", None)
    insecure_skip_tls_verify: bool = env("ONTAP_INSECURE_SKIP_TLS_VERIFY", False)
    connect_timeout_seconds: float = env("ONTAP_CONNECT_TIMEOUT_SECONDS", DEFAULT_CONNECT_TIMEOUT_SECONDS)
    read_timeout_seconds: float = env("ONTAP_READ_TIMEOUT_SECONDS", DEFAULT_READ_TIMEOUT_SECONDS)


def _base_url(endpoint: str) -> str:
    url = endpoint if "://" in endpoint else f"https://{endpoint}"
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise OntapConfigError(
            "the ONTAP endpoint is an https:// URL or a host name (credentials never go in clear text)",
            endpoint=endpoint,
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise OntapConfigError("the ONTAP endpoint has no path, query or fragment", endpoint=endpoint)
    return f"https://{parts.netloc}"


class OntapClient:
    """Typed reads from one ONTAP cluster's REST API (see the module docstring)."""

    def __init__(
        self,
        endpoint: str,
        credentials: CredentialsProvider,
        *,
        ca_bundle_path: str | None = None,
        ca_bundle_pem: str | None = None,
        insecure_skip_tls_verify: bool = False,
        connect_timeout_seconds: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        read_timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.base_url = _base_url(endpoint)
        self._credentials = credentials
        if ca_bundle_path and ca_bundle_pem:
            raise OntapConfigError("give the CA bundle as a path or as PEM text, not both")
        if insecure_skip_tls_verify and (ca_bundle_path or ca_bundle_pem):
            raise OntapConfigError("a CA bundle and insecure_skip_tls_verify contradict each other")
        if connect_timeout_seconds <= 0 or read_timeout_seconds <= 0:
            raise OntapConfigError("ONTAP timeouts are positive numbers of seconds")
        if max_retries < 0 or page_size < 1:
            raise OntapConfigError("max_retries is 0 or more and page_size 1 or more")
        self.page_size = page_size
        self.insecure_skip_tls_verify = insecure_skip_tls_verify
        if insecure_skip_tls_verify:
            logger.warning(
                "ONTAP client for %s created with TLS certificate verification OFF "
                "(insecure_skip_tls_verify); anyone on the path can read the ONTAP credentials",
                self.base_url,
            )
        context = _tls_context(ca_bundle_path, ca_bundle_pem, insecure_skip_tls_verify)
        self._pool = urllib3.PoolManager(
            ssl_context=context, cert_reqs="CERT_NONE" if insecure_skip_tls_verify else "CERT_REQUIRED"
        )
        self._timeout = urllib3.Timeout(connect=connect_timeout_seconds, read=read_timeout_seconds)
        self._retry = urllib3.Retry(
            total=max_retries,
            connect=max_retries,
            read=max_retries,
            status=max_retries,
            other=0,
            redirect=0,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_seconds,
            raise_on_status=False,
            raise_on_redirect=False,
            respect_retry_after_header=False,
        )
        self._svms: dict[str, Svm] = {}

    @classmethod
    def from_config(cls, config: OntapConfig, secrets_client: Any | None = None) -> OntapClient:
        return cls(
            config.endpoint,
            SecretsManagerCredentials(config.secret_id, secrets_client),
            ca_bundle_path=config.ca_bundle_path,
            ca_bundle_pem=config.ca_bundle_pem,
            insecure_skip_tls_verify=config.insecure_skip_tls_verify,
            connect_timeout_seconds=config.connect_timeout_seconds,
            read_timeout_seconds=config.read_timeout_seconds,
        )

    # -- transport --

    def _send(self, path_and_query: str, credentials: Credentials) -> urllib3.BaseHTTPResponse:
        token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode("ascii")
        headers = {"Accept": "application/hal+json", "Authorization": f"Basic {token}"}
        try:
            return self._pool.request(
                "GET",
                self.base_url + path_and_query,
                headers=headers,
                timeout=self._timeout,
                retries=self._retry,
                redirect=False,
            )
        except MaxRetryError as error:
            if isinstance(error.reason, SSLError):
                raise OntapTlsError(
                    f"TLS with {self.base_url} failed: {error.reason}", request=path_and_query
                ) from error
            raise OntapConnectionError(
                f"{self.base_url} did not answer: {error.reason}", request=path_and_query
            ) from error
        except SSLError as error:
            raise OntapTlsError(
                f"TLS with {self.base_url} failed: {error}", request=path_and_query
            ) from error
        except HTTPError as error:
            raise OntapConnectionError(
                f"{self.base_url} did not answer: {error}", request=path_and_query
            ) from error

    def get(self, path_and_query: str, *, about: Mapping[str, str] | None = None) -> Any:
        """GET one resource and return its JSON; errors are typed and name ``about`` (svm, path)."""
        credentials = self._credentials.get()
        response = self._send(path_and_query, credentials)
        if response.status == 401:
            fresh = self._credentials.refresh()
            if fresh != credentials:
                logger.info("ONTAP refused the cached credentials; retrying once with the re-read secret")
                response = self._send(path_and_query, fresh)
        return _decode(response, path_and_query, dict(about or {}))

    def iter_records(
        self, collection: str, fields: Sequence[str], query: Mapping[str, str] | None = None
    ) -> Iterator[Any]:
        """Every record of ``collection`` (``/api/...``), page by page through ``_links.next``."""
        params = {**(query or {}), "fields": ",".join(fields), "max_records": str(self.page_size)}
        href: str | None = f"{collection}?{urlencode(params)}"
        seen: set[str] = set()
        while href is not None:
            seen.add(href)
            body = self.get(href)
            if not isinstance(body, dict):
                raise OntapResponseError(
                    "a collection answer is a JSON object", field="response", request=href
                )
            records = body.get("records", [])
            if not isinstance(records, list):
                raise OntapResponseError("'records' is a list", field="records", request=href)
            yield from records
            href = _next_href(body, href)
            if href is not None and href in seen:
                raise OntapResponseError(
                    "_links.next points back to a page already read", field="_links.next"
                )

    # -- lookups --

    def svm(self, name: str) -> Svm:
        """The SVM called ``name`` (cached per client)."""
        cached = self._svms.get(name)
        if cached is None:
            records = list(self.iter_records("/api/svm/svms", SVM_FIELDS, {"name": name}))
            cached = parse_svm(_single(records, f"SVM {name!r}"), "records[0]")
            self._svms[name] = cached
        return cached

    def volume(self, svm_name: str, volume_name: str) -> Volume:
        """The volume ``volume_name`` of SVM ``svm_name``, with its junction path."""
        records = list(
            self.iter_records(
                "/api/storage/volumes", VOLUME_FIELDS, {"name": volume_name, "svm.name": svm_name}
            )
        )
        return parse_volume(_single(records, f"volume {volume_name!r} of SVM {svm_name!r}"), "records[0]")

    # -- file security --

    def file_permissions(self, svm: Svm, path: str) -> FilePermissions:
        """The security descriptor of ONTAP file ``path`` (absolute in the SVM's namespace)."""
        if not path.startswith("/"):
            raise OntapConfigError("an ONTAP file path is absolute (starts with '/')", path=path)
        request = (
            f"/api/protocols/file-security/permissions/{quote(svm.uuid, safe='')}/{encode_path(path)}"
            f"?{urlencode({'fields': ','.join(PERMISSION_FIELDS)})}"
        )
        body = self.get(request, about={"svm": svm.name, "svm_uuid": svm.uuid, "path": path})
        return parse_permissions(body, svm_uuid=svm.uuid, path=path)

    def permissions_for_key(self, volume: Volume, key: str) -> FilePermissions:
        """The security descriptor of the file S3 object ``key`` is, on ``volume``."""
        if volume.junction_path is None:
            raise OntapLookupError(
                f"volume {volume.name!r} of SVM {volume.svm.name!r} is not mounted (no junction path)",
                volume=volume.name,
                svm=volume.svm.name,
            )
        return self.file_permissions(volume.svm, ontap_path(volume.junction_path, key))


def _tls_context(path: str | None, pem: str | None, insecure: bool) -> ssl.SSLContext:
    """The TLS context: system trust store, or only the given bundle, or no verification at all.

    Built here rather than through urllib3's ``ca_cert_data`` so that urllib3 1.26 (which some
    Lambda runtimes' botocore still carries) and 2.x behave the same.
    """
    try:
        context = ssl.create_default_context(cafile=path, cadata=pem)
    except (OSError, ssl.SSLError, ValueError) as error:
        raise OntapConfigError(f"the CA bundle cannot be loaded: {error}", ca_bundle_path=path) from error
    # urllib3 matches the host name itself (also for IP addresses, which 1.26 wraps without SNI);
    # it does so whenever verification is on and the context leaves the check to it.
    context.check_hostname = False
    if insecure:
        context.verify_mode = ssl.CERT_NONE
    return context


def _single(records: list[Any], what: str) -> Any:
    if not records:
        raise OntapLookupError(f"ONTAP has no {what}")
    if len(records) > 1:
        raise OntapLookupError(f"ONTAP has {len(records)} records for {what}; expected one")
    return records[0]


def _next_href(body: Mapping[str, Any], current: str) -> str | None:
    links = body.get("_links")
    if links is None:
        return None
    if not isinstance(links, dict):
        raise OntapResponseError("'_links' is an object", field="_links", request=current)
    nxt = links.get("next")
    if nxt is None:
        return None
    href = nxt.get("href") if isinstance(nxt, dict) else None
    # A next link is a path on the same cluster; anything else is refused rather than followed.
    if not isinstance(href, str) or not href.startswith("/api/"):
        raise OntapResponseError(
            "'_links.next.href' is a path starting with /api/", field="_links.next.href", request=current
        )
    return href


_ERRORS: dict[int, type[OntapApiError]] = {
    400: OntapBadRequestError,
    401: OntapAuthenticationError,
    403: OntapPermissionError,
    404: OntapNotFoundError,
}


def _decode(response: urllib3.BaseHTTPResponse, request: str, about: dict[str, str]) -> Any:
    status = response.status
    data = response.data
    if 200 <= status < 300:
        try:
            return json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise OntapResponseError(
                f"ONTAP answered {status} with a body that is not JSON", field="body", request=request
            ) from error
    message = code = target = None
    try:
        parsed = json.loads(data)
        error_obj = parsed.get("error") if isinstance(parsed, dict) else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        error_obj = None
    if isinstance(error_obj, dict):
        message = None if error_obj.get("message") is None else str(error_obj.get("message"))
        code = None if error_obj.get("code") is None else str(error_obj.get("code"))
        target = None if error_obj.get("target") is None else str(error_obj.get("target"))
    cls = _ERRORS.get(status)
    if cls is None:
        cls = OntapUnavailableError if status in RETRY_STATUSES or status >= 500 else OntapApiError
    subject = ""
    if "path" in about:
        subject = f" for path {about['path']!r} on SVM {about.get('svm', '')!r} ({about.get('svm_uuid', '')})"
    detail = f": {message} (code {code}" + (f", target {target})" if target else ")") if message else ""
    raise cls(
        f"ONTAP answered HTTP {status}{subject}{detail}",
        status=status,
        ontap_code=code,
        ontap_message=message,
        target=target,
        request=request,
        **about,
    )
