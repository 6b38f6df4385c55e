"""The files UC8 reads: SEG-Y surveys and LAS well logs, known by their suffix; one manifest line.

Light on purpose: discovery imports it for the suffixes, and must not load numpy or the readers.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

logger = logging.getLogger(__name__)

SEGY = "segy"
LAS = "las"
SUFFIXES = (".sgy", ".segy", ".las")


def kind_of(key: str) -> str:
    """``segy`` or ``las`` by the key's suffix ("" for anything else)."""
    lower = key.lower()
    if lower.endswith((".sgy", ".segy")):
        return SEGY
    if lower.endswith(".las"):
        return LAS
    return ""


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
