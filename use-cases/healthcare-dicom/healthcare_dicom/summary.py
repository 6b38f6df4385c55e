"""The run's summary: what the run's result documents say, counted (no PHI value, no UID).

It reads only what the run's own states wrote: the chunk list of the run's manifest (discovery),
each chunk's files, and each file version's result document at its output key (Deidentify, or
RecordFailure after a caught error). A version with no document yet is counted as pending.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

logger = logging.getLogger(__name__)


def summarise(run_id: str, documents: list[dict[str, Any]], pending: list[str]) -> dict[str, Any]:
    read = [d for d in documents if d.get("status") == "SUCCEEDED"]
    phi = Counter(f["keyword"] for d in read for f in (d.get("phi") or {}).get("findings", []))
    entity_types = Counter(
        e["type"]
        for d in read
        for entities in ((d.get("free_text_phi") or {}).get("entities") or {}).values()
        for e in entities
    )
    copies = Counter(str((d.get("deidentified") or {}).get("status")) for d in read)
    return {
        "run_id": run_id,
        "files": len(documents),
        "succeeded": len(read),
        "failed": len(documents) - len(read),
        "pending": len(pending),
        "studies": len({d["dicom"]["study_instance_uid"] for d in read}),
        "series": len({d["dicom"]["series_instance_uid"] for d in read}),
        "instances_by_modality": dict(Counter(d["dicom"]["modality"] for d in read)),
        "transfer_syntaxes": dict(Counter(d["dicom"]["transfer_syntax"] for d in read)),
        "flags": dict(Counter(flag for d in read for flag in d["dicom"].get("flags", []))),
        "phi_attributes": dict(phi.most_common()),
        "free_text_phi_entity_types": dict(entity_types.most_common()),
        "free_text_phi_status": dict(
            Counter(str((d.get("free_text_phi") or {}).get("status")) for d in read)
        ),
        "deidentified_copies": dict(copies),
        "header_bytes_read": sum(int((d.get("io") or {}).get("bytes_fetched", 0)) for d in read),
        "bytes_listed": sum(int(d.get("size", 0)) for d in read),
        "failures": [
            {"key": d["source"]["key"], "error": d.get("error"), "reason": d.get("reason")}
            for d in documents
            if d.get("status") != "SUCCEEDED"
        ],
    }
