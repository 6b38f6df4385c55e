"""One file of the run: an IFC model (summary, rules, diff with its previous revision), a drawing, or a .rvt.

IFC
    Streamed whole through one pinned GET into :func:`shared.formats.ifc.scan_ifc`. The model's
    entity snapshot (GlobalId -> type, name, digest) is stored beside the result under
    ``models/by-key/<key>/<etag token>.json.gz``. The previous revision is found through the key's
    own history, never a date path: the earlier result documents of the same key
    (``results/by-key/<key>/``, one per processed version), newest first by ``processed_at``.
    FSx for ONTAP access points keep no object versions (``ListObjectVersions`` has nothing to
    list there), so the key's result history is its version history. The diff counts entities
    added, removed and changed by GlobalId (:func:`shared.formats.ifc.diff_models`).

Drawings (PDF)
    Read into memory (bounded by ``MAX_DRAWING_MIB``) and inspected by the document core; the page
    size limit of Textract (40 inches, 10,000 px) is checked before anything else, so an A0+ sheet
    over it is a FAILED result naming the page and size, not a Textract error. A page with a
    usable text layer is read without Textract; a page that needs OCR goes to synchronous
    AnalyzeDocument one page at a time; a multi-page scan that would need the asynchronous job is
    recorded as not read, with that reason (this use case does not run the task-token wait).

Revit
    ``.rvt`` is Autodesk's proprietary container: no open specification, no reader. The file gets
    a result whose ``outcome`` is ``unsupported`` and whose reason says so and how to proceed
    (export IFC from Revit): a final answer, not a FAILED (invalid) file.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.config import env
from shared.errors import FAILED, SUCCEEDED, ObjectNotFoundError
from shared.polling import settings as polling
from shared.polling.keys import etag_token, output_key
from shared.polling.results import result_document, write_result
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

IFC_SUFFIXES = (".ifc",)
DRAWING_SUFFIXES = (".pdf",)
REVIT_SUFFIXES = (".rvt", ".rfa")
SUFFIXES = IFC_SUFFIXES + DRAWING_SUFFIXES + REVIT_SUFFIXES
RVT_REASON = (
    "Revit .rvt/.rfa is Autodesk's proprietary format with no open specification or reader; "
    "export the model to IFC (File > Export > IFC) next to it and that file is processed"
)
_TITLE_FIELDS = re.compile(r"^(DRAWING NO|DRAWING|SHEET|REV|REVISION|TITLE|SCALE|DATE)\b[.:]?\s*(.+)$", re.I)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProcessConfig(polling.PollingConfig):
    max_model_mib: int = env("MAX_MODEL_MIB", 2048)
    max_drawing_mib: int = env("MAX_DRAWING_MIB", 100)
    read_chunk_kib: int = env("READ_CHUNK_KIB", 1024)


@dataclasses.dataclass(frozen=True)
class SourceFile:
    key: str
    etag: str
    size: int

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> SourceFile:
        return cls(key=str(event["key"]), etag=str(event.get("etag", "")), size=int(event["size"]))


def kind_of(key: str) -> str:
    lower = key.lower()
    if lower.endswith(IFC_SUFFIXES):
        return "ifc"
    if lower.endswith(DRAWING_SUFFIXES):
        return "drawing"
    if lower.endswith(REVIT_SUFFIXES):
        return "revit"
    return "other"


def snapshot_key(file: SourceFile) -> str:
    return f"models/by-key/{file.key}/{etag_token(file.etag)}.json.gz"


def previous_revision(output: S3AccessPoint, file: SourceFile) -> dict[str, Any] | None:
    """The newest earlier result of the same key that has an entity snapshot (None for the first)."""
    folder = output_key(file.key, file.etag).rsplit("/", 1)[0] + "/"
    this = output_key(file.key, file.etag)
    candidates: list[dict[str, Any]] = []
    for info in output.iter_objects(folder):
        if info.key == this:
            continue
        try:
            body = json.loads(output.get_bytes(info.key))
        except ObjectNotFoundError:
            continue
        if body.get("status") == SUCCEEDED and (body.get("model") or {}).get("snapshot_key"):
            candidates.append(body)
    if not candidates:
        return None
    return max(candidates, key=lambda b: str(b.get("processed_at", "")))


def _stream(source: S3AccessPoint, file: SourceFile, cfg: ProcessConfig) -> tuple[Any, Any]:
    from shared.formats.ranged import RangedReader

    ranged = RangedReader(source, file.key, etag=file.etag or None, size=file.size)

    class _Chunks:
        def __init__(self) -> None:
            self._it = ranged.iter_chunks(chunk_size=cfg.read_chunk_kib << 10)
            self._buffer = b""

        def read(self, n: int = -1) -> bytes:
            while n < 0 or len(self._buffer) < n:
                chunk = next(self._it, b"")
                if not chunk:
                    break
                self._buffer += chunk
            if n < 0:
                out, self._buffer = self._buffer, b""
            else:
                out, self._buffer = self._buffer[:n], self._buffer[n:]
            return out

    return ranged, _Chunks()


def process_model(
    source: S3AccessPoint, output: S3AccessPoint, file: SourceFile, *, cfg: ProcessConfig
) -> dict[str, Any]:
    """The ``model`` and ``diff`` sections of an IFC file, or raises IfcError."""
    from shared.formats.ifc import diff_models, scan_ifc

    ranged, stream = _stream(source, file, cfg)
    with ranged:
        summary = scan_ifc(stream, chunk_size=cfg.read_chunk_kib << 10)
        bytes_read = ranged.stats.bytes_fetched
    full = summary.to_dict(with_entities=True)
    entities = full.pop("entities")
    key = snapshot_key(file)
    output.put(key, gzip.compress(json.dumps(entities).encode()), content_type="application/gzip")
    model = {**full, "snapshot_key": key, "bytes_read": bytes_read}
    previous = previous_revision(output, file)
    diff: dict[str, Any] | None = None
    if previous is not None:
        old = json.loads(gzip.decompress(output.get_bytes(previous["model"]["snapshot_key"])))
        diff = {
            "previous_etag": previous["source"]["etag"],
            "previous_processed_at": previous.get("processed_at"),
            **diff_models(old, entities),
        }
    return {"model": model, "diff": diff or {"previous_etag": None, "first_revision": True}}


def process_drawing(source: S3AccessPoint, file: SourceFile, *, textract: Any) -> dict[str, Any]:
    """The ``drawing`` section of a PDF; raises the document core's typed errors (limits first)."""
    from shared.documents.inspect import inspect_document
    from shared.documents.limits import TEXT_LAYER, check_dimensions, route
    from shared.documents.pdf import ocr_decision, read_pdf

    data = source.get_bytes(file.key, if_match=file.etag or None)
    info = inspect_document(data, file.key)
    check_dimensions(info)  # Textract's 40-inch / 10,000 px limit, before anything is sent
    document = read_pdf(data)
    decisions = [ocr_decision(page) for page in document.pages]
    chosen = route(info, tuple(d.page for d in decisions if not d.skip_ocr))
    lines: list[str] = []
    if chosen.mode == TEXT_LAYER:
        for page in document.pages:
            lines.extend(run.text for run in page.runs)
    elif chosen.mode == "sync":
        from shared.documents.textract import analyze_pages

        parsed = analyze_pages(textract, data, info, chosen.ocr_pages, "analysis")
        lines.extend(line.text for line in parsed.lines)
    else:
        return {"pages": info.page_count, "route": chosen.mode, "skipped": chosen.reason}
    title_block: dict[str, str] = {}
    for line in lines:
        match = _TITLE_FIELDS.match(line.strip())
        if match:
            title_block.setdefault(match.group(1).upper(), match.group(2).strip())
    return {
        "pages": info.page_count,
        "page_size_in": [[round(p.width_in, 1), round(p.height_in, 1)] for p in info.pages],
        "route": chosen.mode,
        "route_reason": chosen.reason,
        "lines": len(lines),
        "title_block": title_block,
    }


def process_file(
    source: S3AccessPoint,
    output: S3AccessPoint,
    file: SourceFile,
    *,
    run_id: str,
    cfg: ProcessConfig,
    textract: Any = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Process one file version and write its result document; returns the summary for the state."""
    from shared.documents.errors import DocumentError
    from shared.formats.ifc import IfcError

    kind = kind_of(file.key)
    sections: dict[str, Any] = {"run_id": run_id, "kind": kind, "size": file.size, "outcome": "read"}
    status, reason, error = SUCCEEDED, "", ""
    if kind == "revit":
        # Final, not an error: the file is valid, the format is closed (a SUCCEEDED result, so no
        # later run reads it again, whose outcome says why nothing was extracted).
        reason, sections["outcome"] = RVT_REASON, "unsupported"
    elif kind == "ifc":
        if file.size > cfg.max_model_mib << 20:
            status, reason, error = (
                FAILED,
                f"{file.size} bytes is above MAX_MODEL_MIB={cfg.max_model_mib}",
                "ModelTooLarge",
            )
        else:
            try:
                sections.update(process_model(source, output, file, cfg=cfg))
            except IfcError as exc:
                where = ", ".join(f"{k} {v}" for k, v in exc.details.items() if k in ("record", "offset"))
                status, reason, error = FAILED, f"{exc.reason} ({where})", type(exc).__name__
    elif kind == "drawing":
        if file.size > cfg.max_drawing_mib << 20:
            status, reason, error = (
                FAILED,
                f"{file.size} bytes is above MAX_DRAWING_MIB={cfg.max_drawing_mib}",
                "DrawingTooLarge",
            )
        else:
            try:
                drawing = process_drawing(source, file, textract=textract)
            except DocumentError as exc:
                status, reason, error = FAILED, exc.reason, type(exc).__name__
            else:
                sections["drawing"] = drawing
                if "skipped" in drawing:
                    reason, sections["outcome"] = str(drawing["skipped"]), "not_read"
    else:
        status, reason, error = (
            FAILED,
            f"not an IFC, PDF or Revit suffix ({', '.join(SUFFIXES)})",
            "UnsupportedFormat",
        )
    document = result_document(
        key=file.key,
        etag=file.etag,
        status=status,
        source=source.target,
        reason=reason or None,
        error=error or None,
        sections=sections,
        now=now or datetime.now(UTC),
    )
    key = write_result(output, document)
    out: dict[str, Any] = {
        "key": file.key,
        "status": status,
        "output_key": key,
        "kind": kind,
        "outcome": sections["outcome"] if status == SUCCEEDED else "failed",
    }
    if reason:
        out["reason"] = reason
    diff = sections.get("diff")
    if diff and not diff.get("first_revision"):
        out["diff"] = {k: diff[k] for k in ("added", "removed", "changed")}
    return out
