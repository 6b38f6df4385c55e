"""The three record types of UC1 and how a file's result document becomes records.

Each :class:`~shared.analytics.RecordSchema` here is the one definition behind the records the
analysis writes and the ``AWS::Glue::Table`` the template declares (``tests/legal_compliance``
fails when they differ). All three live under ``datasets/legal/`` in the output bucket, one prefix
per type, partitioned by the run's date (``dt``):

* ``files``: one record per file version the run handled, audited or not (``status``,
  ``reason``), with its owner, size, last-modified time and whether its DACL is protected;
* ``acl_entries``: one record per ACE of an audited file, with the principal, whether it is an
  orphaned domain SID or a broad group, and what it grants;
* ``findings``: one record per file and policy rule, written from the rules' Athena queries.

``share`` is the first folder of the key (``hr/reviews/a.docx`` is in share ``hr``); a file at the
volume root is in share ``/``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from shared.analytics import Column, RecordSchema
from shared.ontap.models import broad_group, is_sid

logger = logging.getLogger(__name__)

DATASET_ROOT = "datasets"
FIRST_DATE = "2026-01-01"
ROOT_SHARE = "/"

FILES = RecordSchema(
    "files",
    (
        Column("run_id", "string", nullable=False),
        Column("path", "string", nullable=False, comment="S3 key of the file on the volume"),
        Column("share", "string", nullable=False),
        Column("status", "string", nullable=False, comment="SUCCEEDED, FAILED or PENDING"),
        Column("reason", "string"),
        Column("error", "string"),
        Column("owner", "string"),
        Column("owner_group", "string"),
        Column("owner_unresolved", "boolean"),
        Column("size", "bigint"),
        Column("last_modified", "timestamp"),
        Column("etag", "string"),
        Column("dacl_protected", "boolean"),
        Column("control_flags", "bigint"),
        Column("ace_count", "int"),
        Column("collected_at", "timestamp"),
    ),
    prefix="legal/files",
    description="UC1: one record per file version a run audited (or failed to)",
    first_date=FIRST_DATE,
)

ACL_ENTRIES = RecordSchema(
    "acl_entries",
    (
        Column("run_id", "string", nullable=False),
        Column("path", "string", nullable=False),
        Column("share", "string", nullable=False),
        Column("owner", "string"),
        Column("position", "int", nullable=False),
        Column("principal", "string", nullable=False),
        Column("unresolved_sid", "boolean", nullable=False, comment="an orphaned domain SID (S-1-5-21-...)"),
        Column("broad_group", "string", comment="everyone or authenticated_users"),
        Column("access", "string", nullable=False),
        Column("rights", "string", comment="basic right, null for special permissions"),
        Column("grants_read", "boolean", nullable=False),
        Column("grants_write", "boolean", nullable=False),
        Column("full_control", "boolean", nullable=False),
        Column("inherited", "boolean"),
        Column("collected_at", "timestamp"),
    ),
    prefix="legal/acl-entries",
    description="UC1: one record per access control entry of an audited file",
    first_date=FIRST_DATE,
)

FINDINGS = RecordSchema(
    "findings",
    (
        Column("run_id", "string", nullable=False),
        Column("rule", "string", nullable=False),
        Column("severity", "string", nullable=False),
        Column("path", "string", nullable=False),
        Column("share", "string", nullable=False),
        Column("owner", "string"),
        Column("principal", "string"),
        Column("detail", "string"),
        Column("last_modified", "timestamp"),
        Column("found_at", "timestamp", nullable=False),
    ),
    prefix="legal/findings",
    description="UC1: one record per file and policy rule it breaks",
    first_date=FIRST_DATE,
)

SCHEMAS = (FILES, ACL_ENTRIES, FINDINGS)


def share_of(key: str) -> str:
    """The share a key is in: its first folder, or ``/`` for a file at the volume root."""
    head, sep, _ = key.partition("/")
    return head if sep and head else ROOT_SHARE


def orphaned_sid(principal: str) -> bool:
    """A SID ONTAP could not resolve to a name that belongs to a domain account (S-1-5-21-...).

    Well-known SIDs (Everyone ``S-1-1-0``, Authenticated Users ``S-1-5-11``, SYSTEM) are not
    orphans; ONTAP prints a SID for a domain account only when the account no longer resolves.
    """
    return is_sid(principal) and principal.upper().startswith("S-1-5-21-")


def parse_time(text: Any) -> datetime | None:
    """An ISO-8601 time as an aware datetime (UTC when it has no zone); None for empty/invalid."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def file_record(
    document: Mapping[str, Any], file: Mapping[str, Any], run_id: str, status: str
) -> dict[str, Any]:
    """The ``files`` record of one manifest line and its result document (empty when it has none)."""
    key = str(file["key"])
    permissions = document.get("permissions") or {}
    owner = permissions.get("owner")
    return {
        "run_id": run_id,
        "path": key,
        "share": share_of(key),
        "status": status,
        "reason": document.get("reason"),
        "error": document.get("error"),
        "owner": owner,
        "owner_group": permissions.get("group"),
        "owner_unresolved": orphaned_sid(owner) if isinstance(owner, str) else None,
        "size": int(file.get("size") or 0),
        "last_modified": parse_time(file.get("last_modified")),
        "etag": str(file.get("etag", "")),
        "dacl_protected": permissions.get("dacl_protected"),
        "control_flags": permissions.get("control_flags"),
        "ace_count": len(permissions.get("acls") or []) if permissions else None,
        "collected_at": parse_time(document.get("processed_at")),
    }


def acl_records(document: Mapping[str, Any], run_id: str) -> Iterator[dict[str, Any]]:
    """The ``acl_entries`` records of one SUCCEEDED result document."""
    permissions = document.get("permissions") or {}
    key = str(document["source"]["key"])
    collected = parse_time(document.get("processed_at"))
    for position, ace in enumerate(permissions.get("acls") or []):
        principal = str(ace["user"])
        yield {
            "run_id": run_id,
            "path": key,
            "share": share_of(key),
            "owner": permissions.get("owner"),
            "position": position,
            "principal": principal,
            "unresolved_sid": orphaned_sid(principal),
            "broad_group": broad_group(principal),
            "access": str(ace["access"]),
            "rights": ace.get("rights"),
            "grants_read": bool(ace.get("grants_read")),
            "grants_write": bool(ace.get("grants_write")),
            "full_control": bool(ace.get("full_control")),
            "inherited": ace.get("inherited"),
            "collected_at": collected,
        }
