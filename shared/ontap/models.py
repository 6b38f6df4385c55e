"""Typed records of the ONTAP REST answers the client reads, parsed strictly.

Parsing checks the type of every field it models and raises :class:`OntapResponseError` naming the
field (``acls[2].advanced_rights.read_data``) when one is wrong: a permission audit built on a
silently misread ACL is worse than a failed one. Values ONTAP may add later are kept, not dropped:
an unknown ``access`` or ``rights`` string stays as it came (check ``KNOWN_ACCESS`` /
``KNOWN_RIGHTS``), an unknown advanced right stays in ``advanced_rights``, unknown keys of an ACE
go to ``extra``, and the whole answer stays in ``raw``.

The ACE shape is ONTAP's (9.9 and later): ``user`` (a name such as ``BUILTIN\\Administrators`` or,
when the name cannot be resolved, a SID such as ``S-1-5-21-...-1107``), ``access``
(``access_allow``, ``access_deny``, ``audit_success``...), ``rights`` (``full_control``,
``modify``, ``read_and_execute``, ``read``, ``write``, ``no_access``; absent when the mask is not
one of those), ``advanced_rights`` (one boolean per right), ``apply_to``, ``inherited`` and
``access_control`` (``file_directory`` or ``slag``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NoReturn

from shared.ontap.errors import OntapResponseError

logger = logging.getLogger(__name__)

KNOWN_ACCESS = frozenset(
    {
        "access_allow",
        "access_deny",
        "access_allowed_callback",
        "access_denied_callback",
        "access_allowed_callback_object",
        "access_denied_callback_object",
        "system_audit_callback",
        "system_audit_callback_object",
        "system_resource_attribute",
        "system_scoped_policy_id",
        "audit_success",
        "audit_failure",
        "audit_success_and_failure",
    }
)
ALLOW_ACCESS = frozenset({"access_allow", "access_allowed_callback", "access_allowed_callback_object"})
DENY_ACCESS = frozenset({"access_deny", "access_denied_callback", "access_denied_callback_object"})
KNOWN_RIGHTS = frozenset({"no_access", "full_control", "modify", "read_and_execute", "read", "write"})
KNOWN_ADVANCED_RIGHTS = frozenset(
    {
        "append_data",
        "delete",
        "delete_child",
        "execute_file",
        "full_control",
        "read_attr",
        "read_data",
        "read_ea",
        "read_perm",
        "write_attr",
        "write_data",
        "write_ea",
        "write_owner",
        "write_perm",
        "synchronize",
    }
)
# The basic rights as the advanced rights Windows sets for them (``synchronize`` left out: ONTAP
# reports it inconsistently). ``full_control`` is the ``full_control`` advanced right itself.
_GENERIC_READ = frozenset({"read_data", "read_ea", "read_attr", "read_perm"})
_GENERIC_WRITE = frozenset({"write_data", "append_data", "write_ea", "write_attr", "read_perm"})
BASIC_RIGHTS_MASKS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "read": _GENERIC_READ,
        "read_and_execute": _GENERIC_READ | {"execute_file"},
        "write": _GENERIC_WRITE,
        "modify": _GENERIC_READ | {"execute_file"} | _GENERIC_WRITE | {"delete"},
        "full_control": KNOWN_ADVANCED_RIGHTS - {"synchronize"},
    }
)
# Rights that let a trustee change content, or the ACL itself.
WRITE_RIGHTS = frozenset({"full_control", "modify", "write"})
WRITE_ADVANCED_RIGHTS = frozenset(
    {"full_control", "write_data", "append_data", "delete", "delete_child", "write_perm", "write_owner"}
)
READ_RIGHTS = frozenset({"full_control", "modify", "read_and_execute", "read"})
READ_ADVANCED_RIGHTS = frozenset({"full_control", "read_data"})

# Windows security descriptor control bit: the DACL does not inherit from the parent.
SE_DACL_PROTECTED = 0x1000

_SID = re.compile(r"^S-1-\d+(-\d+)+$")
# Broad groups by the names ONTAP prints and by their well-known SIDs.
EVERYONE = "everyone"
AUTHENTICATED_USERS = "authenticated_users"
_BROAD_GROUPS = {
    "everyone": EVERYONE,
    "s-1-1-0": EVERYONE,
    "nt authority\\authenticated users": AUTHENTICATED_USERS,
    "authenticated users": AUTHENTICATED_USERS,
    "s-1-5-11": AUTHENTICATED_USERS,
}


def rights_from_advanced(advanced: Mapping[str, bool]) -> str | None:
    """The basic right whose advanced-rights mask is exactly ``advanced`` (None if there is none)."""
    if advanced.get("full_control"):
        return "full_control"
    granted = frozenset(name for name, on in advanced.items() if on and name != "synchronize")
    for name, mask in BASIC_RIGHTS_MASKS.items():
        if granted == mask:
            return name
    return None


def is_sid(user: str) -> bool:
    """True when ``user`` is a SID string: ONTAP prints a SID where it could not resolve a name."""
    return bool(_SID.match(user))


def broad_group(user: str) -> str | None:
    """``EVERYONE`` or ``AUTHENTICATED_USERS`` when ``user`` is one of them (name or SID), else None."""
    return _BROAD_GROUPS.get(user.strip().lower())


@dataclass(frozen=True)
class ApplyTo:
    """Where an ACE applies; each is None when ONTAP left it out."""

    files: bool | None
    sub_folders: bool | None
    this_folder: bool | None


@dataclass(frozen=True)
class AclEntry:
    """One access control entry of a file's DACL (or SACL, for the audit ``access`` values)."""

    user: str
    access: str
    rights: str | None
    advanced_rights: Mapping[str, bool]
    inherited: bool | None
    apply_to: ApplyTo | None
    access_control: str | None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def is_allow(self) -> bool:
        return self.access in ALLOW_ACCESS

    @property
    def is_deny(self) -> bool:
        return self.access in DENY_ACCESS

    @property
    def is_audit(self) -> bool:
        return self.access.startswith(("audit_", "system_audit"))

    @property
    def basic_rights(self) -> str | None:
        """``rights`` when ONTAP gave it, else the basic right whose mask ``advanced_rights`` is.

        ONTAP's GET answers with ``advanced_rights`` and often without ``rights``; None means the
        ACE holds special permissions that match no basic right.
        """
        if self.rights is not None:
            return self.rights
        return rights_from_advanced(self.advanced_rights)

    @property
    def grants_write(self) -> bool:
        """Whether the ACE names a right to change content or the ACL (whatever ``access`` says)."""
        if self.rights in WRITE_RIGHTS:
            return True
        return any(self.advanced_rights.get(name) for name in WRITE_ADVANCED_RIGHTS)

    @property
    def grants_read(self) -> bool:
        if self.rights in READ_RIGHTS:
            return True
        return any(self.advanced_rights.get(name) for name in READ_ADVANCED_RIGHTS)

    @property
    def full_control(self) -> bool:
        return self.rights == "full_control" or bool(self.advanced_rights.get("full_control"))


@dataclass(frozen=True)
class FilePermissions:
    """The security descriptor of one file or folder, as ``file-security/permissions`` returns it."""

    svm_uuid: str
    path: str
    owner: str | None
    group: str | None
    control_flags: int | None
    effective_style: str | None
    acls: tuple[AclEntry, ...]
    raw: Mapping[str, Any]

    @property
    def dacl_protected(self) -> bool | None:
        """True when the DACL is protected from inheritance (None without control flags)."""
        if self.control_flags is None:
            return None
        return bool(self.control_flags & SE_DACL_PROTECTED)


@dataclass(frozen=True)
class Svm:
    uuid: str
    name: str


@dataclass(frozen=True)
class Volume:
    """A volume and where it is mounted in its SVM's namespace (None when it is not mounted)."""

    uuid: str
    name: str
    svm: Svm
    junction_path: str | None


# -- parsing helpers: each names the field it checks --


def _bad(where: str, expected: str, value: Any) -> NoReturn:
    raise OntapResponseError(
        f"ONTAP answered {where} with {type(value).__name__} {value!r:.80}; expected {expected}",
        field=where,
    )


def _str(record: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise OntapResponseError(f"ONTAP's answer has no {where}", field=where)
        return None
    if not isinstance(value, str) or (required and not value):
        return _bad(where, "a non-empty string" if required else "a string", value)
    return value


def _bool(record: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = record.get(key)
    if value is None or isinstance(value, bool):
        return value
    return _bad(where, "a boolean", value)


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _bad(where, "an object", value)
    return value


def parse_acl(entry: Any, where: str) -> AclEntry:
    """One ACE; ``where`` (``acls[3]``) prefixes the field named in any error."""
    record = _object(entry, where)
    advanced_raw = record.get("advanced_rights")
    advanced: dict[str, bool] = {}
    if advanced_raw is not None:
        for name, value in _object(advanced_raw, f"{where}.advanced_rights").items():
            if not isinstance(value, bool):
                _bad(f"{where}.advanced_rights.{name}", "a boolean", value)
            advanced[str(name)] = value
    apply_to = None
    if record.get("apply_to") is not None:
        apply_record = _object(record["apply_to"], f"{where}.apply_to")
        apply_to = ApplyTo(
            files=_bool(apply_record, "files", f"{where}.apply_to.files"),
            sub_folders=_bool(apply_record, "sub_folders", f"{where}.apply_to.sub_folders"),
            this_folder=_bool(apply_record, "this_folder", f"{where}.apply_to.this_folder"),
        )
    modelled = {"user", "access", "rights", "advanced_rights", "inherited", "apply_to", "access_control"}
    return AclEntry(
        user=_str(record, "user", f"{where}.user", required=True) or "",
        access=_str(record, "access", f"{where}.access", required=True) or "",
        rights=_str(record, "rights", f"{where}.rights", required=False),
        advanced_rights=MappingProxyType(advanced),
        inherited=_bool(record, "inherited", f"{where}.inherited"),
        apply_to=apply_to,
        access_control=_str(record, "access_control", f"{where}.access_control", required=False),
        extra=MappingProxyType({k: v for k, v in record.items() if k not in modelled}),
    )


def parse_control_flags(value: Any) -> int | None:
    """ONTAP prints control flags as hexadecimal text (``0x8014``)."""
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"0[xX][0-9a-fA-F]{1,4}", value):
        return int(value, 16)
    return _bad("control_flags", "hexadecimal text such as '0x8014'", value)


def parse_permissions(body: Any, *, svm_uuid: str, path: str) -> FilePermissions:
    """The answer of ``GET /api/protocols/file-security/permissions/{svm.uuid}/{path}``."""
    record = _object(body, "response")
    acls_raw = record.get("acls", [])
    if not isinstance(acls_raw, list):
        _bad("acls", "a list", acls_raw)
    return FilePermissions(
        svm_uuid=svm_uuid,
        path=_str(record, "path", "path", required=False) or path,
        owner=_str(record, "owner", "owner", required=False),
        group=_str(record, "group", "group", required=False),
        control_flags=parse_control_flags(record.get("control_flags")),
        effective_style=_str(record, "effective_style", "effective_style", required=False),
        acls=tuple(parse_acl(entry, f"acls[{index}]") for index, entry in enumerate(acls_raw)),
        raw=MappingProxyType(dict(record)),
    )


def parse_svm(record: Any, where: str) -> Svm:
    obj = _object(record, where)
    return Svm(
        uuid=_str(obj, "uuid", f"{where}.uuid", required=True) or "",
        name=_str(obj, "name", f"{where}.name", required=True) or "",
    )


def parse_volume(record: Any, where: str) -> Volume:
    obj = _object(record, where)
    nas = obj.get("nas")
    junction = None
    if nas is not None:
        junction = _str(_object(nas, f"{where}.nas"), "path", f"{where}.nas.path", required=False)
    return Volume(
        uuid=_str(obj, "uuid", f"{where}.uuid", required=True) or "",
        name=_str(obj, "name", f"{where}.name", required=True) or "",
        svm=parse_svm(obj.get("svm"), f"{where}.svm"),
        junction_path=junction or None,
    )
