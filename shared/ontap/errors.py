"""Typed errors of the ONTAP REST client.

Every error names where it happened: the request path, and the SVM and file path when the call
was about one. Errors carrying an ONTAP answer keep ONTAP's own ``error.message``, ``error.code``
and ``error.target``, since those say more than the HTTP status (an unknown entry of ``fields=``
is a 400 with code ``262197`` and target ``fields``).
"""

from __future__ import annotations

import logging
from typing import Any

from shared.errors import InvalidKeyError, PatternError

logger = logging.getLogger(__name__)


class OntapError(PatternError):
    """Base class of every error the ONTAP client raises."""


class OntapConfigError(OntapError, ValueError):
    """The client was given settings it cannot work with (endpoint, CA bundle, timeouts)."""


class OntapCredentialsError(OntapError):
    """The Secrets Manager secret is unreadable or is not JSON with a username and a password."""


class OntapConnectionError(OntapError):
    """The cluster could not be reached or did not answer in time (after the bounded retries)."""


class OntapTlsError(OntapConnectionError):
    """The TLS handshake failed, most often because the certificate is not trusted by the bundle."""


class OntapResponseError(OntapError):
    """ONTAP answered with something that is not the documented shape; ``field`` names where."""

    def __init__(self, reason: str, *, field: str, **details: Any) -> None:
        super().__init__(reason, field=field, **details)
        self.field = field


class OntapApiError(OntapError):
    """ONTAP answered with an HTTP error; its ``error`` object is kept as it came."""

    def __init__(
        self,
        reason: str,
        *,
        status: int,
        ontap_code: str | None,
        ontap_message: str | None,
        target: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(
            reason,
            status=status,
            ontap_code=ontap_code,
            ontap_message=ontap_message,
            target=target,
            **details,
        )
        self.status = status
        self.ontap_code = ontap_code
        self.ontap_message = ontap_message
        self.target = target


class OntapBadRequestError(OntapApiError):
    """400: ONTAP refused the request itself, for example one unknown name in ``fields=``."""


class OntapAuthenticationError(OntapApiError):
    """401: the credentials were refused, also after re-reading the secret once."""


class OntapPermissionError(OntapApiError):
    """403: the account authenticated but may not call this endpoint."""


class OntapNotFoundError(OntapApiError):
    """404: the SVM, volume or file path does not exist (the error names which)."""


class OntapUnavailableError(OntapApiError):
    """5xx or 429 still answered after the bounded retries."""


class OntapLookupError(OntapError):
    """A lookup by name found no record, more than one, or a volume without a junction path."""


class PathEscapeError(InvalidKeyError):
    """An object key with a ``..`` segment, which would name a file outside its own path."""
