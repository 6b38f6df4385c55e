"""Per-file ACL collection: one file version's security descriptor from ONTAP, into its result document.

The S3 key is mapped to the file's path under the volume's junction (``shared.ontap``) and
``GET /api/protocols/file-security/permissions/{svm.uuid}/{path}`` returns its owner, control
flags and ACEs. The result document (the polling skeleton's envelope, version-keyed) carries them
in a ``permissions`` section, each ACE with what it grants (``grants_read``, ``grants_write``,
``full_control``), so the analysis never needs ONTAP again.

Errors, by what they say about the file:

* about this file (404 no such path, 403, 400, an answer of the wrong shape, a key that cannot be
  an ONTAP path): a FAILED result for this file with the error type and reason; the run goes on;
* about the cluster (unreachable, TLS not trusted, 5xx after the client's retries, credentials
  refused or unreadable, SVM or volume not found): :class:`TransientServiceError`. The per-file
  Catch then records no result (``RecordFailure`` answers SKIPPED), so the next run audits the
  file again instead of marking every file of an unreachable cluster done. The state does not
  retry it: the client already retried, and a refused password must not be resent.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

from shared.config import CommonConfig, env
from shared.errors import FAILED, SUCCEEDED, InvalidKeyError
from shared.observability import stats
from shared.ontap import (
    OntapBadRequestError,
    OntapClient,
    OntapError,
    OntapNotFoundError,
    OntapPermissionError,
    OntapResponseError,
)
from shared.ontap.models import AclEntry, FilePermissions, Volume
from shared.polling.errors import TransientServiceError
from shared.polling.results import result_document, write_result
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

# Errors that describe the one file, not the cluster.
PER_FILE_ERRORS: tuple[type[Exception], ...] = (
    OntapNotFoundError,
    OntapPermissionError,
    OntapBadRequestError,
    OntapResponseError,
    InvalidKeyError,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CollectConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    svm_name: str = env("ONTAP_SVM_NAME")
    volume_name: str = env("ONTAP_VOLUME_NAME")


def ace_dict(ace: AclEntry) -> dict[str, Any]:
    """One ACE as stored in the result document."""
    return {
        "user": ace.user,
        "access": ace.access,
        "rights": ace.basic_rights,
        "inherited": ace.inherited,
        "grants_read": ace.grants_read,
        "grants_write": ace.grants_write,
        "full_control": ace.full_control,
        "advanced_rights": dict(ace.advanced_rights),
    }


def permissions_section(permissions: FilePermissions) -> dict[str, Any]:
    return {
        "path": permissions.path,
        "svm_uuid": permissions.svm_uuid,
        "owner": permissions.owner,
        "group": permissions.group,
        "control_flags": permissions.control_flags,
        "dacl_protected": permissions.dacl_protected,
        "effective_style": permissions.effective_style,
        "acls": [ace_dict(ace) for ace in permissions.acls],
    }


def summary(document: Mapping[str, Any]) -> dict[str, Any]:
    """What the per-file step returns: small, whatever the document holds."""
    out = {
        "key": document["source"]["key"],
        "status": document["status"],
        "output_key": document["output_key"],
    }
    for name in ("reason", "error"):
        if name in document:
            out[name] = document[name]
    return out


def collect_file(
    client: OntapClient,
    volume: Callable[[], Volume],
    output: S3AccessPoint,
    file: Mapping[str, Any],
    *,
    run_id: str,
    source: str = "",
) -> dict[str, Any]:
    """Collect one file's permissions and write its result document (module docstring for errors)."""
    key, etag = str(file["key"]), str(file["etag"])
    sections = {
        "run_id": run_id,
        "size": int(file["size"]),
        "last_modified": str(file.get("last_modified", "")),
    }
    try:
        permissions = client.permissions_for_key(volume(), key)
    except PER_FILE_ERRORS as error:
        reason = getattr(error, "reason", str(error))
        document = result_document(
            key=key,
            etag=etag,
            status=FAILED,
            source=source,
            reason=reason,
            error=type(error).__name__,
            sections={**sections, "ontap": dict(getattr(error, "details", {}))},
        )
        write_result(output, document)
        stats().failed()
        logger.warning("file %s: %s", key, reason)
        return summary(document)
    except OntapError as error:
        raise TransientServiceError(
            f"ONTAP cannot be used for any file right now ({type(error).__name__}: {error.reason}); "
            "the file is left for the next run",
            service="ontap",
            code=type(error).__name__,
        ) from error
    document = result_document(
        key=key,
        etag=etag,
        status=SUCCEEDED,
        source=source,
        sections={**sections, "permissions": permissions_section(permissions)},
    )
    write_result(output, document)
    stats().processed(1, int(file["size"]))
    return summary(document)
