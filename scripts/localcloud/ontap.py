"""A small ONTAP REST stand-in for the embedded local cloud: HTTPS on 127.0.0.1 with a test CA.

It serves what :mod:`shared.ontap` reads, with ONTAP's shapes:

* ``GET /api/svm/svms`` and ``GET /api/storage/volumes`` (filters ``name``, ``svm.name``,
  ``svm.uuid``), paginated by ``max_records`` with ``_links.next``;
* ``GET /api/protocols/file-security/permissions/{svm.uuid}/{path}`` with ``{path}`` one URL
  segment (``%2Fvol%2Fa.txt``), answering NTFS-style security descriptors;
* ``fields=`` checked against each endpoint's field names: one unknown name is a 400 with ONTAP's
  error body (code ``262197``, target ``fields``) for the whole request;
* 401 without the right Basic credentials, 404 for an unknown SVM or path, and injected 5xx/429
  (:meth:`OntapStandIn.fail_next`) or slow answers (:meth:`OntapStandIn.stall_next`) for retry
  and timeout tests.

The certificate is issued at start by a fresh ``trustme`` CA (``ca_pem``), so clients verify TLS
exactly as against a cluster with a private CA. The content comes from a declarative seed
(:func:`parse_seed`), so a use case's sample generator can describe the ACLs its rules need::

    {"credentials": {"username": "fsxadmin", "password": "..."},
     "svms": [{"name": "svm1", "volumes": [{"name": "legal", "junction_path": "/legal",
        "root": {"owner": "BUILTIN\\\\Administrators", "acls": [...]},
        "files": {"contracts/a.pdf": {"owner": "...", "protected": true,
                                      "acls": [{"user": "Everyone", "rights": "full_control"}]}}}]}]}

An ACE gives ``rights`` (a basic right, turned into ONTAP's ``advanced_rights``) or
``advanced_rights`` directly, plus ``access`` (default ``access_allow``), ``inherited`` (default
false) and ``apply_to``. Folders on the way to a seeded file exist implicitly and carry the
volume root's ACEs as inherited entries. Answers carry ``advanced_rights`` and no ``rights``, as
ONTAP's GET does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import ssl
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from shared.ontap.models import BASIC_RIGHTS_MASKS, KNOWN_ADVANCED_RIGHTS

logger = logging.getLogger(__name__)

PERMISSIONS_PREFIX = "/api/protocols/file-security/permissions/"
SVM_FIELDS = frozenset({"uuid", "name", "state", "subtype", "language", "comment"})
VOLUME_FIELDS = frozenset(
    {"uuid", "name", "svm", "svm.uuid", "svm.name", "nas", "nas.path", "nas.security_style", "state", "type"}
)
PERMISSION_FIELDS = frozenset(
    {
        "svm",
        "svm.uuid",
        "svm.name",
        "path",
        "owner",
        "group",
        "control_flags",
        "effective_style",
        "security_style",
        "acls",
        "dos_attributes",
        "text_dos_attr",
        "inode",
        "user_id",
        "group_id",
        "mode_bits",
        "text_mode_bits",
    }
)
# Control flags: self-relative, DACL present, SACL present; protected adds SE_DACL_PROTECTED.
CONTROL_FLAGS_INHERITING = 0x8014
CONTROL_FLAGS_PROTECTED = 0x9014
DEFAULT_OWNER = "BUILTIN\\Administrators"
ALL_APPLY_TO = {"files": True, "sub_folders": True, "this_folder": True}


class SeedError(ValueError):
    """The declarative seed is malformed; the message names the entry."""


@dataclass(frozen=True)
class Descriptor:
    owner: str
    group: str
    protected: bool
    acls: tuple[dict[str, Any], ...]


@dataclass
class VolumeSeed:
    name: str
    uuid: str
    junction_path: str | None
    root: Descriptor
    files: dict[str, Descriptor]


@dataclass
class SvmSeed:
    name: str
    uuid: str
    volumes: list[VolumeSeed]


@dataclass
class Seed:
    username: str
    password: str
    svms: list[SvmSeed]


def _stable_uuid(*parts: str) -> str:
    """A UUID derived from names, so a seed gives the same UUIDs on every run."""
    return str(uuid.UUID(bytes=hashlib.sha256("/".join(parts).encode()).digest()[:16], version=4))


def _ace(spec: Any, where: str) -> dict[str, Any]:
    if not isinstance(spec, Mapping) or not isinstance(spec.get("user"), str) or not spec["user"]:
        raise SeedError(f"{where}: an ACE is an object with a non-empty 'user'")
    unknown = set(spec) - {"user", "access", "rights", "advanced_rights", "inherited", "apply_to"}
    if unknown:
        raise SeedError(f"{where}: unknown keys {sorted(unknown)}")
    if ("rights" in spec) == ("advanced_rights" in spec):
        raise SeedError(f"{where}: give exactly one of 'rights' and 'advanced_rights'")
    if "rights" in spec:
        mask = BASIC_RIGHTS_MASKS.get(spec["rights"])
        if mask is None:
            raise SeedError(f"{where}: rights {spec['rights']!r} is not one of {sorted(BASIC_RIGHTS_MASKS)}")
        names = KNOWN_ADVANCED_RIGHTS if spec["rights"] == "full_control" else mask | {"synchronize"}
        advanced = dict.fromkeys(sorted(names), True)
    else:
        advanced = dict(spec["advanced_rights"])
    return {
        "user": spec["user"],
        "access": spec.get("access", "access_allow"),
        "access_control": "file_directory",
        "apply_to": dict(spec.get("apply_to", ALL_APPLY_TO)),
        "advanced_rights": advanced,
        "inherited": bool(spec.get("inherited", False)),
    }


def _descriptor(spec: Any, where: str) -> Descriptor:
    if not isinstance(spec, Mapping):
        raise SeedError(f"{where}: a descriptor is an object")
    acls = spec.get("acls", [])
    if not isinstance(acls, list):
        raise SeedError(f"{where}.acls: a list")
    owner = spec.get("owner", DEFAULT_OWNER)
    return Descriptor(
        owner=owner,
        group=spec.get("group", owner),
        protected=bool(spec.get("protected", False)),
        acls=tuple(_ace(ace, f"{where}.acls[{i}]") for i, ace in enumerate(acls)),
    )


def parse_seed(seed: Mapping[str, Any]) -> Seed:
    """The stand-in's content from its declarative description (see the module docstring)."""
    credentials = seed.get("credentials", {})
    svms = []
    for i, svm in enumerate(seed.get("svms", [])):
        where = f"svms[{i}]"
        name = svm.get("name")
        if not isinstance(name, str) or not name:
            raise SeedError(f"{where}: an SVM has a name")
        svm_uuid = svm.get("uuid") or _stable_uuid("svm", name)
        volumes = []
        for j, volume in enumerate(svm.get("volumes", [])):
            vwhere = f"{where}.volumes[{j}]"
            vname = volume.get("name")
            if not isinstance(vname, str) or not vname:
                raise SeedError(f"{vwhere}: a volume has a name")
            junction = volume.get("junction_path", f"/{vname}")
            if junction is not None and (
                not junction.startswith("/") or (junction.endswith("/") and junction != "/")
            ):
                raise SeedError(f"{vwhere}: junction_path is absolute with no trailing '/'")
            files = {}
            for key, spec in volume.get("files", {}).items():
                if not key or key.startswith("/") or ".." in key.split("/"):
                    raise SeedError(f"{vwhere}.files: {key!r} is a relative path without '..'")
                files[key.rstrip("/")] = _descriptor(spec, f"{vwhere}.files[{key!r}]")
            volumes.append(
                VolumeSeed(
                    name=vname,
                    uuid=volume.get("uuid") or _stable_uuid("volume", name, vname),
                    junction_path=junction,
                    root=_descriptor(volume.get("root", {}), f"{vwhere}.root"),
                    files=files,
                )
            )
        svms.append(SvmSeed(name=name, uuid=svm_uuid, volumes=volumes))
    return Seed(
        username=credentials.get("username", "fsxadmin"),
        password=credentials.get("password", "local-ontap-password"),
        svms=svms,
    )


def _error(message: str, code: str, target: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "code": code}
    if target is not None:
        body["target"] = target
    return {"error": body}


def _select(record: Mapping[str, Any], fields: list[str]) -> dict[str, Any]:
    """``record`` cut to ``fields`` (dotted names pick inside objects; ``*`` keeps all)."""
    if "*" in fields or "**" in fields:
        return dict(record)
    out: dict[str, Any] = {}
    for name in fields:
        head, _, rest = name.partition(".")
        if head not in record:
            continue
        if not rest:
            out[head] = record[head]
        elif isinstance(record[head], Mapping) and rest in record[head]:
            out.setdefault(head, {})[rest] = record[head][rest]
    return out


@dataclass
class Fault:
    """An injected answer; status 0 answers normally after ``delay`` seconds (a slow cluster)."""

    status: int
    remaining: int
    body: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0


class OntapStandIn:
    """The stand-in server; ``with OntapStandIn(seed) as ontap:`` or ``start()``/``stop()``."""

    def __init__(
        self, seed: Mapping[str, Any] | Seed, hostnames: tuple[str, ...] = ("127.0.0.1", "localhost")
    ) -> None:
        self.hostnames = hostnames
        self.seed = seed if isinstance(seed, Seed) else parse_seed(seed)
        self.requests: list[str] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.ca_pem = ""
        self.ca_path = ""
        self.endpoint = ""
        # Set by the local cloud when it stores the credentials in Secrets Manager.
        self.secret_arn = ""

    # -- lifecycle --

    def start(self) -> OntapStandIn:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert(*self.hostnames)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self.ca_pem = ca.cert_pem.bytes().decode("ascii")
        self._dir = tempfile.TemporaryDirectory(prefix="ontap-standin-")
        ca_file = Path(self._dir.name) / "ca.pem"
        ca_file.write_text(self.ca_pem)
        self.ca_path = str(ca_file)
        handler = type("Handler", (_Handler,), {"standin": self})
        server = _QuietServer(("127.0.0.1", 0), handler)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.endpoint = f"https://127.0.0.1:{server.server_address[1]}"
        # A short poll interval keeps stop() fast (serve_forever checks for shutdown that often).
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="ontap-standin", daemon=True
        )
        self._thread.start()
        logger.info("ONTAP stand-in at %s", self.endpoint)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    # The local cloud starts and stops its adapters with install/uninstall.
    install = start

    def uninstall(self) -> None:
        self.stop()

    def __enter__(self) -> OntapStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls --

    def set_credentials(self, username: str, password: str) -> None:
        """Accept only these credentials from now on (a rotated password)."""
        with self._lock:
            self.seed.username, self.seed.password = username, password

    def fail_next(self, status: int, count: int = 1, body: dict[str, Any] | None = None) -> None:
        """Answer the next ``count`` authenticated requests with ``status`` (5xx, 429...)."""
        default = _error("stand-in injected failure", "8", None)
        with self._lock:
            self._faults.append(Fault(status, count, body if body is not None else default))

    def stall_next(self, seconds: float, count: int = 1) -> None:
        """Answer the next ``count`` authenticated requests only after ``seconds`` (read timeouts)."""
        with self._lock:
            self._faults.append(Fault(0, count, delay=seconds))

    def svm_uuid(self, name: str) -> str:
        return next(svm.uuid for svm in self.seed.svms if svm.name == name)

    # -- request handling (called from the handler threads) --

    def _take_fault(self) -> Fault | None:
        with self._lock:
            while self._faults and self._faults[0].remaining <= 0:
                self._faults.pop(0)
            if not self._faults:
                return None
            self._faults[0].remaining -= 1
            return self._faults[0]

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except ValueError:
            return False
        with self._lock:
            return user == self.seed.username and password == self.seed.password

    def handle(self, raw_path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        self.requests.append(raw_path)
        if not self.authorized(authorization):
            return 401, _error("User is not authorized.", "6")
        fault = self._take_fault()
        if fault is not None and fault.status:
            return fault.status, fault.body
        if fault is not None:
            time.sleep(fault.delay)
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        path = parts.path
        if path == "/api/svm/svms":
            return self._collection(path, query, self._svm_records(), SVM_FIELDS, {"name"})
        if path == "/api/storage/volumes":
            return self._collection(
                path, query, self._volume_records(), VOLUME_FIELDS, {"name", "svm.name", "svm.uuid"}
            )
        if path.startswith(PERMISSIONS_PREFIX):
            return self._permissions(path[len(PERMISSIONS_PREFIX) :], query)
        return 404, _error(f'API not found: "{path}"', "3")

    def _fields(self, query: Mapping[str, str], known: frozenset[str]) -> tuple[list[str] | None, Any]:
        fields = [f for f in query.get("fields", "").split(",") if f]
        for name in fields:
            if name not in known and name not in ("*", "**"):
                return None, _error(
                    f'The value "{name}" is invalid for field "fields" (<field,...>)', "262197", "fields"
                )
        return fields, None

    def _svm_records(self) -> list[dict[str, Any]]:
        return [
            {"uuid": svm.uuid, "name": svm.name, "state": "running", "subtype": "default"}
            for svm in self.seed.svms
        ]

    def _volume_records(self) -> list[dict[str, Any]]:
        records = []
        for svm in self.seed.svms:
            for volume in svm.volumes:
                record: dict[str, Any] = {
                    "uuid": volume.uuid,
                    "name": volume.name,
                    "svm": {"uuid": svm.uuid, "name": svm.name},
                    "state": "online",
                    "type": "rw",
                    "nas": {"security_style": "ntfs"},
                }
                if volume.junction_path is not None:
                    record["nas"]["path"] = volume.junction_path
                records.append(record)
        return records

    def _collection(
        self,
        path: str,
        query: dict[str, str],
        records: list[dict[str, Any]],
        known: frozenset[str],
        filters: set[str],
    ) -> tuple[int, dict[str, Any]]:
        fields, error = self._fields(query, known)
        if fields is None:
            return 400, error
        for name, wanted in query.items():
            if name in filters:
                head, _, rest = name.partition(".")
                records = [
                    r for r in records if (r.get(head, {}).get(rest) if rest else r.get(head)) == wanted
                ]
            elif name not in ("fields", "max_records", "start.uuid", "return_records"):
                return 400, _error(f'Unexpected argument "{name}".', "262179", name)
        records.sort(key=lambda r: r["uuid"])
        if "start.uuid" in query:
            records = [r for r in records if r["uuid"] >= query["start.uuid"]]
        try:
            page_size = int(query.get("max_records", "10000"))
        except ValueError:
            return 400, _error(
                f'The value "{query["max_records"]}" is invalid for field "max_records"', "262197"
            )
        page, rest_records = records[:page_size], records[page_size:]
        selected = [{"uuid": r["uuid"], "name": r["name"], **_select(r, fields)} for r in page]
        body: dict[str, Any] = {
            "records": selected,
            "num_records": len(selected),
            "_links": {"self": {"href": f"{path}?{urlencode(query)}"}},
        }
        if rest_records:
            next_query = {**query, "start.uuid": rest_records[0]["uuid"]}
            body["_links"]["next"] = {"href": f"{path}?{urlencode(next_query)}"}
        return 200, body

    def _permissions(self, tail: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        svm_part, sep, path_part = tail.partition("/")
        # ONTAP's route has exactly two segments here: a raw '/' inside the path does not match it.
        if not sep or not path_part or "/" in path_part:
            return 404, _error(f'API not found: "{PERMISSIONS_PREFIX}{tail}"', "3")
        fields, error = self._fields(query, PERMISSION_FIELDS)
        if fields is None:
            return 400, error
        svm_uuid = unquote(svm_part)
        svm = next((s for s in self.seed.svms if s.uuid == svm_uuid), None)
        if svm is None:
            return 404, _error(f'SVM "{svm_uuid}" does not exist.', "2621462", "svm.uuid")
        path = unquote(path_part, errors="strict")
        descriptor = self._descriptor(svm, path)
        if descriptor is None:
            return 404, _error(
                f'Failed to get security descriptor of "{path}": the path does not exist.', "655865", "path"
            )
        flags = CONTROL_FLAGS_PROTECTED if descriptor.protected else CONTROL_FLAGS_INHERITING
        record = {
            "svm": {"uuid": svm.uuid, "name": svm.name},
            "path": path,
            "owner": descriptor.owner,
            "group": descriptor.group,
            "control_flags": hex(flags),
            "effective_style": "ntfs",
            "security_style": "ntfs",
            "acls": [dict(ace) for ace in descriptor.acls],
        }
        return 200, {"svm": record["svm"], "path": path, **_select(record, fields or sorted(record))}

    def _descriptor(self, svm: SvmSeed, path: str) -> Descriptor | None:
        for volume in svm.volumes:
            junction = volume.junction_path
            if junction is None:
                continue
            if path == junction:
                return volume.root
            base = junction.rstrip("/") + "/"
            if not path.startswith(base):
                continue
            relative = path[len(base) :]
            if relative in volume.files:
                return volume.files[relative]
            if any(key.startswith(relative + "/") for key in volume.files):
                inherited = tuple({**ace, "inherited": True} for ace in volume.root.acls)
                return Descriptor(volume.root.owner, volume.root.group, False, inherited)
        return None


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up (a read timeout, a failed handshake) is normal here, not a traceback."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver calls this from its own except block, so the error is the current one.
        logger.debug(
            "ontap stand-in: connection from %s ended abruptly: %r", client_address, sys.exc_info()[1]
        )


class _Handler(BaseHTTPRequestHandler):
    standin: OntapStandIn
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        try:
            status, body = self.standin.handle(self.path, self.headers.get("Authorization"))
        except UnicodeDecodeError:
            status, body = 400, _error("The path is not valid UTF-8.", "262197", "path")
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/hal+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("ontap stand-in: %s", format % args)
