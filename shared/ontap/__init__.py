"""ONTAP REST client: SVM and volume lookup, and file security descriptors by S3 key.

See ``docs/ontap.md`` for the API, the environment a function sets, and what the embedded local
cloud's stand-in (``scripts/localcloud/ontap.py``) reproduces.
"""

from __future__ import annotations

import logging

from shared.ontap.client import (
    PERMISSION_FIELDS,
    SVM_FIELDS,
    VOLUME_FIELDS,
    Credentials,
    CredentialsProvider,
    OntapClient,
    OntapConfig,
    SecretsManagerCredentials,
    reset_credentials_cache,
)
from shared.ontap.errors import (
    OntapApiError,
    OntapAuthenticationError,
    OntapBadRequestError,
    OntapConfigError,
    OntapConnectionError,
    OntapCredentialsError,
    OntapError,
    OntapLookupError,
    OntapNotFoundError,
    OntapPermissionError,
    OntapResponseError,
    OntapTlsError,
    OntapUnavailableError,
    PathEscapeError,
)
from shared.ontap.models import (
    AUTHENTICATED_USERS,
    EVERYONE,
    KNOWN_ACCESS,
    KNOWN_ADVANCED_RIGHTS,
    KNOWN_RIGHTS,
    AclEntry,
    ApplyTo,
    FilePermissions,
    Svm,
    Volume,
    broad_group,
    is_sid,
)
from shared.ontap.paths import decode_path, encode_path, key_for_path, ontap_path

logger = logging.getLogger(__name__)

__all__ = [
    "AUTHENTICATED_USERS",
    "EVERYONE",
    "KNOWN_ACCESS",
    "KNOWN_ADVANCED_RIGHTS",
    "KNOWN_RIGHTS",
    "PERMISSION_FIELDS",
    "SVM_FIELDS",
    "VOLUME_FIELDS",
    "AclEntry",
    "ApplyTo",
    "Credentials",
    "CredentialsProvider",
    "FilePermissions",
    "OntapApiError",
    "OntapAuthenticationError",
    "OntapBadRequestError",
    "OntapClient",
    "OntapConfig",
    "OntapConfigError",
    "OntapConnectionError",
    "OntapCredentialsError",
    "OntapError",
    "OntapLookupError",
    "OntapNotFoundError",
    "OntapPermissionError",
    "OntapResponseError",
    "OntapTlsError",
    "OntapUnavailableError",
    "PathEscapeError",
    "SecretsManagerCredentials",
    "Svm",
    "Volume",
    "broad_group",
    "decode_path",
    "encode_path",
    "is_sid",
    "key_for_path",
    "ontap_path",
    "reset_credentials_cache",
]
