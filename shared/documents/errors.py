"""Typed errors of the document core: each names what is wrong with the file and where.

A reader raises one of these rather than returning partial data; a per-file step turns it into a
FAILED result through :func:`shared.errors.error_result`, so the reason reaches the run report.
"""

from __future__ import annotations

import logging

from shared.errors import PatternError

logger = logging.getLogger(__name__)


class DocumentError(PatternError):
    """A document cannot be read or processed as it is."""


class UnsupportedFormatError(DocumentError):
    """The bytes are not a PDF, TIFF, JPEG or PNG (the formats Textract reads)."""


class WrongExtensionError(DocumentError):
    """The file's extension names another format than its bytes hold."""


class TruncatedDocumentError(DocumentError):
    """The file ends before its structure does (a cut-off upload or copy)."""


class EncryptedDocumentError(DocumentError):
    """The PDF is encrypted; Textract and the text layer reader cannot open it."""


class EmptyDocumentError(DocumentError):
    """The document has no pages (or no image frames)."""


class CorruptDocumentError(DocumentError):
    """The structure is present but broken (bad xref, undecodable image data)."""


class DocumentLimitError(DocumentError):
    """The document breaks a Textract limit (pages, size, dimensions); checked before the call."""
