"""The files UC5 reads (DICOM Part 10, by suffix) and one manifest line.

Light on purpose: discovery imports it for the suffixes, and must not load pydicom.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

logger = logging.getLogger(__name__)

SUFFIXES = (".dcm", ".dicom")


@dataclasses.dataclass(frozen=True)
class SourceFile:
    key: str
    etag: str
    size: int
    last_modified: str = ""

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> SourceFile:
        return cls(
            str(event["key"]), str(event["etag"]), int(event["size"]), str(event.get("last_modified", ""))
        )
