"""Sequence reports: every sequence a run touched, judged as a whole, with a proxy and a contact sheet.

The run's manifest names the frames it checked; their sequences are listed again in full from the
access point (frames checked by earlier runs count too), and each frame's result document is read
from the output bucket. A sequence's report names its pattern and padding, its frame range,
missing and duplicate numbers, padding mismatches, frames whose size is far off the median, frames
whose resolution, channels or compression differ from the rest, unreadable frames, black frames,
frames with NaN or Inf, frames whose values sit far outside the sequence's range, and the frames
whose pixels were not checked (with the reason). Its outputs are keyed by sequence and version
(a digest of the frames' keys and ETags): ``sequences/<sequence id>/<version>/report.json``,
``proxy.jpg`` and ``contact-sheet.jpg``, in the output bucket only.

The frames to re-render (missing, unreadable, black, NaN/Inf, out of range, inconsistent header)
go to ``runs/<run id>/render-request.json`` for the optional re-render.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from media_vfx import frames as frame_mod
from media_vfx import sequences as seq
from shared.config import CommonConfig, env, parse_bool
from shared.errors import FAILED, ObjectNotFoundError
from shared.polling.discovery import Chunk, load_chunk
from shared.polling.keys import output_key
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

PROXY_MAX_BYTES = 5 * 1024 * 1024  # Rekognition's limit for image bytes
CONSISTENCY_FIELDS = ("width", "height", "channels", "compression")
CONTACT_COLUMNS = 8
CONTACT_MAX_FRAMES = 120


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReportConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    size_outlier_z: float = env("SIZE_OUTLIER_Z", 5.0)
    pixel_outlier_z: float = env("PIXEL_OUTLIER_Z", 8.0)
    proxy_width: int = env("PROXY_WIDTH", 1280)
    enable_rekognition: bool = env("ENABLE_REKOGNITION", False, parse=parse_bool)
    max_rerender_frames: int = env("MAX_RERENDER_FRAMES", 200)
    pixel_checks: bool = env("PIXEL_CHECKS", True, parse=parse_bool)
    max_frame_mib: int = env("MAX_FRAME_MIB", 512)


def run_keys(output: S3AccessPoint, chunks_key: str) -> list[str]:
    """The keys of the run's manifest, read chunk by chunk as the Distributed Map read them."""
    keys: list[str] = []
    for descriptor in json.loads(output.get_bytes(chunks_key)):
        keys.extend(str(f["key"]) for f in load_chunk(output, Chunk.from_dict(descriptor)))
    return keys


def list_sequence(source: S3AccessPoint, head: str, ext: str) -> list[seq.Frame]:
    """Every frame of the sequence ``head####ext`` now on the volume."""
    directory = head.rsplit("/", 1)[0] + "/" if "/" in head else ""
    out = []
    for info in source.iter_objects(directory, suffixes=(ext,)):
        frame = seq.parse_frame(info.key, info.size, info.etag)
        if frame is not None and frame.base == (head, ext):
            out.append(frame)
    return out


def read_result(output: S3AccessPoint, frame: seq.Frame) -> dict[str, Any] | None:
    try:
        body: dict[str, Any] = json.loads(output.get_bytes(output_key(frame.key, frame.etag)))
    except ObjectNotFoundError:
        return None
    return body


def analyse(
    pattern: str,
    members: Sequence[seq.Frame],
    docs: Mapping[str, Mapping[str, Any] | None],
    cfg: ReportConfig,
) -> dict[str, Any]:
    """The findings of one sequence from its frames and their result documents (no I/O)."""
    padding = seq.detect_padding(members)
    numbers = [f.number for f in members]
    by_key = {f.key: f for f in members}
    unreadable = {k: str(d.get("reason", "")) for k, d in docs.items() if d and d.get("status") == FAILED}
    pending = sorted(k for k, d in docs.items() if d is None)
    headers: dict[str, dict[str, Any]] = {}
    pixels: dict[str, dict[str, Any]] = {}
    for key, doc in docs.items():
        if doc and doc.get("status") != FAILED and doc.get("header"):
            h = doc["header"]
            headers[key] = {
                "width": h.get("width"),
                "height": h.get("height"),
                "compression": h.get("compression"),
                "channels": [[c.get("name"), c.get("pixel_type")] for c in h.get("channels", [])],
            }
            pixels[key] = dict(doc.get("pixels") or {})
    checked = {k: p for k, p in pixels.items() if p.get("status") == frame_mod.CHECKED}
    black = sorted(k for k, p in checked.items() if p.get("black"))
    non_finite = {
        k: {"nan": p.get("nan_count", 0), "inf": p.get("inf_count", 0)}
        for k, p in checked.items()
        if p.get("nan_count") or p.get("inf_count")
    }
    usable = {k: p for k, p in checked.items() if k not in black and p.get("max") is not None}
    out_of_range: dict[str, Any] = {}
    for measure in ("max", "mean", "min"):
        found = seq.robust_outliers(
            {k: float(p[measure]) for k, p in usable.items()},
            z=cfg.pixel_outlier_z,
            min_relative=0.5,
            floor=1e-3,
        )
        for key, detail in found.items():
            out_of_range.setdefault(key, {})[measure] = detail
    size_outliers = seq.robust_outliers(
        {f.key: float(f.size) for f in members}, z=cfg.size_outlier_z, min_relative=0.25
    )
    mismatched = seq.inconsistent(headers, CONSISTENCY_FIELDS)
    not_checked = {
        k: str(p.get("reason", "")) for k, p in pixels.items() if p.get("status") != frame_mod.CHECKED
    }
    missing = seq.missing_numbers(numbers)
    bad_keys = set(unreadable) | set(black) | set(non_finite) | set(out_of_range) | set(mismatched)
    rerender = sorted(set(missing) | {by_key[k].number for k in bad_keys if k in by_key})
    return {
        "pattern": pattern,
        "padding": padding,
        "frames": len(members),
        "first": min(numbers) if numbers else None,
        "last": max(numbers) if numbers else None,
        "missing": missing,
        "duplicates": {str(n): keys for n, keys in seq.duplicates(members).items()},
        "padding_mismatches": seq.padding_mismatches(members, padding),
        "size_outliers": size_outliers,
        "header_mismatches": mismatched,
        "unreadable": unreadable,
        "black": black,
        "non_finite": non_finite,
        "out_of_range": out_of_range,
        "pixels_not_checked": not_checked,
        "pixels_checked": len(checked),
        "pending": pending,
        "rerender_frames": rerender,
        "rerender_range": seq.compress_ranges(rerender),
        "flagged_frames": len(bad_keys | set(size_outliers)),
    }


def _proxy(
    source: S3AccessPoint,
    members: Sequence[seq.Frame],
    docs: Mapping[str, Mapping[str, Any] | None],
    findings: Mapping[str, Any],
    cfg: ReportConfig,
) -> tuple[bytes, str] | None:
    """A review JPEG of the sequence's middle good frame, under the 5 MB limit; None without one."""
    bad = set(findings["black"]) | set(findings["non_finite"]) | set(findings["out_of_range"])
    good = [
        f
        for f in members
        if (docs.get(f.key) or {}).get("pixels", {}).get("status") == frame_mod.CHECKED and f.key not in bad
    ]
    if not good:
        return None
    frame = good[len(good) // 2]
    planes = frame_mod.decode(
        source.get_bytes(frame.key, max_bytes=cfg.max_frame_mib * 1024 * 1024), frame_mod.format_of(frame.key)
    )
    rgb = frame_mod.to_rgb8(planes)
    width, quality = cfg.proxy_width, 85
    body = frame_mod.jpeg(rgb, width, quality)
    while len(body) > PROXY_MAX_BYTES and width > 64:
        width, quality = width * 3 // 4, max(50, quality - 10)
        body = frame_mod.jpeg(rgb, width, quality)
    return body, frame.key


def contact_sheet(
    output: S3AccessPoint,
    members: Sequence[seq.Frame],
    docs: Mapping[str, Mapping[str, Any] | None],
    findings: Mapping[str, Any],
) -> bytes:
    """A grid of the frames' thumbnails in number order: missing frames grey, flagged ones framed red."""
    from PIL import Image, ImageDraw

    cell_w, cell_h, label = frame_mod.THUMB_WIDTH, frame_mod.THUMB_WIDTH * 9 // 16, 14
    by_number = {f.number: f for f in members}
    first, last = findings["first"], findings["last"]
    numbers = list(range(first, last + 1))[:CONTACT_MAX_FRAMES] if first is not None else []
    flagged = (
        set(findings["black"])
        | set(findings["non_finite"])
        | set(findings["out_of_range"])
        | set(findings["unreadable"])
        | set(findings["header_mismatches"])
    )
    rows = max(1, -(-len(numbers) // CONTACT_COLUMNS))
    sheet = Image.new("RGB", (CONTACT_COLUMNS * cell_w, rows * (cell_h + label)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for index, number in enumerate(numbers):
        x, y = (index % CONTACT_COLUMNS) * cell_w, (index // CONTACT_COLUMNS) * (cell_h + label)
        frame = by_number.get(number)
        thumb_key = (docs.get(frame.key) or {}).get("thumbnail_key") if frame else None
        if thumb_key:
            thumb = Image.open(io.BytesIO(output.get_bytes(str(thumb_key)))).convert("RGB")
            thumb.thumbnail((cell_w - 4, cell_h - 4))
            sheet.paste(thumb, (x + 2, y + 2))
        else:
            draw.rectangle((x + 2, y + 2, x + cell_w - 3, y + cell_h - 3), fill=(90, 90, 90))
        if frame is None or frame.key in flagged:
            draw.rectangle((x + 1, y + 1, x + cell_w - 2, y + cell_h - 2), outline=(230, 40, 40), width=2)
        draw.text((x + 4, y + cell_h), f"{number}" + ("" if frame else " missing"), fill=(220, 220, 220))
    buffer = io.BytesIO()
    sheet.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def rekognition_findings(client: Any, image: bytes) -> dict[str, Any]:
    """Labels and moderation labels of the proxy (image bytes, never an S3 object)."""
    from shared.polling.aws import call

    labels = call(
        "rekognition",
        "DetectLabels",
        client.detect_labels,
        Image={"Bytes": image},
        MaxLabels=10,
        MinConfidence=60.0,
    )
    moderation = call(
        "rekognition",
        "DetectModerationLabels",
        client.detect_moderation_labels,
        Image={"Bytes": image},
        MinConfidence=60.0,
    )
    return {
        "labels": [
            {"name": lb["Name"], "confidence": round(float(lb["Confidence"]), 1)}
            for lb in labels.get("Labels", [])
        ],
        "moderation": [
            {
                "name": lb["Name"],
                "parent": lb.get("ParentName", ""),
                "confidence": round(float(lb["Confidence"]), 1),
            }
            for lb in moderation.get("ModerationLabels", [])
        ],
    }


def sequence_prefix(pattern: str, version: str) -> str:
    return f"sequences/{seq.sequence_id(pattern)}/{version}/"


def report_sequence(
    source: S3AccessPoint,
    output: S3AccessPoint,
    head: str,
    ext: str,
    *,
    run_id: str,
    cfg: ReportConfig,
    rekognition: Any = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """List, analyse and write one sequence's report, proxy and contact sheet; returns the report."""
    members = list_sequence(source, head, ext)
    pattern = seq.pattern(head, ext, seq.detect_padding(members))
    docs = {f.key: read_result(output, f) for f in members}
    findings = analyse(pattern, members, docs, cfg)
    version = seq.version_of(members)
    prefix = sequence_prefix(pattern, version)
    report: dict[str, Any] = {"run_id": run_id, "sequence": pattern, "version": version, **findings}
    proxy = _proxy(source, members, docs, findings, cfg) if members else None
    if proxy:
        body, proxy_frame = proxy
        output.put(prefix + "proxy.jpg", body, content_type="image/jpeg")
        report["proxy"] = {"key": prefix + "proxy.jpg", "frame": proxy_frame, "bytes": len(body)}
        if rekognition is not None:
            report["rekognition"] = rekognition_findings(rekognition, body)
    else:
        report["proxy"] = None
    sheet = contact_sheet(output, members, docs, findings)
    output.put(prefix + "contact-sheet.jpg", sheet, content_type="image/jpeg")
    report["contact_sheet"] = {"key": prefix + "contact-sheet.jpg", "bytes": len(sheet)}
    if extra:
        report.update(extra)
    report["report_key"] = prefix + "report.json"
    output.put(
        report["report_key"],
        json.dumps(report, indent=1, sort_keys=True).encode(),
        content_type="application/json",
    )
    return report


def touched_bases(keys: Sequence[str]) -> list[tuple[str, str]]:
    bases = {f.base for f in (seq.parse_frame(k) for k in keys) if f is not None}
    return sorted(bases)


def render_request(reports: Sequence[Mapping[str, Any]], limit: int) -> list[dict[str, Any]]:
    """One entry per sequence with frames to re-render, at most ``limit`` frames in all."""
    out, budget = [], limit
    for report in reports:
        frames = list(report["rerender_frames"])[: max(budget, 0)]
        if not frames:
            continue
        budget -= len(frames)
        out.append(
            {
                "sequence": report["sequence"],
                "version": report["version"],
                "padding": report["padding"],
                "frames": frames,
                "range": seq.compress_ranges(frames),
            }
        )
    return out


def report_run(
    source: S3AccessPoint,
    output: S3AccessPoint,
    *,
    run_id: str,
    chunks_key: str,
    cfg: ReportConfig,
    rekognition: Any = None,
) -> dict[str, Any]:
    """The ``report`` action: a report per touched sequence, and the run's render request."""
    reports = [
        report_sequence(source, output, head, ext, run_id=run_id, cfg=cfg, rekognition=rekognition)
        for head, ext in touched_bases(run_keys(output, chunks_key))
    ]
    request = render_request(reports, cfg.max_rerender_frames)
    request_key = f"runs/{run_id}/render-request.json"
    output.put(
        request_key,
        json.dumps({"run_id": run_id, "sequences": request}).encode(),
        content_type="application/json",
    )
    index_key = f"runs/{run_id}/sequences.json"
    output.put(
        index_key, json.dumps([_index_entry(r) for r in reports]).encode(), content_type="application/json"
    )
    return {
        "run_id": run_id,
        "sequences": len(reports),
        "flagged_frames": sum(int(r["flagged_frames"]) for r in reports),
        "frames_to_render": sum(len(s["frames"]) for s in request),
        "render_request_key": request_key,
        "index_key": index_key,
    }


def _index_entry(report: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: report[k]
        for k in ("sequence", "version", "frames", "flagged_frames", "report_key", "rerender_range")
        if k in report
    }


def _frame_key(pattern: str, number: int, padding: int) -> str:
    head, _, ext = pattern.partition("#" * max(padding, 1))
    return f"{head}{number:0{max(padding, 1)}d}{ext}"


def recheck_run(
    source: S3AccessPoint,
    output: S3AccessPoint,
    *,
    run_id: str,
    render_request_key: str,
    render: Mapping[str, Any],
    cfg: ReportConfig,
    rekognition: Any = None,
) -> dict[str, Any]:
    """The ``recheck`` action: check the re-rendered frames again and report their sequences anew."""
    request = json.loads(output.get_bytes(render_request_key))
    frame_cfg = frame_mod.FrameConfig(
        access_point=cfg.access_point,
        output_bucket=cfg.output_bucket,
        use_case=cfg.use_case,
        pixel_checks=cfg.pixel_checks,
        max_frame_mib=cfg.max_frame_mib,
    )
    outcome: list[dict[str, Any]] = []
    for entry in request["sequences"]:
        pattern, padding = str(entry["sequence"]), int(entry["padding"])
        fixed: list[int] = []
        still_bad: list[int] = []
        absent: list[int] = []
        for number in entry["frames"]:
            key = _frame_key(pattern, number, padding)
            try:
                info = source.head(key)
            except ObjectNotFoundError:
                absent.append(number)
                continue
            frame = seq.Frame(key, number, str(number), "", "", info.size, info.etag)
            doc = read_result(output, frame) or frame_mod.check_frame(
                source,
                output,
                {"key": key, "etag": info.etag, "size": info.size},
                run_id=run_id,
                cfg=frame_cfg,
            )
            pixels = doc.get("pixels") or {}
            good = (
                doc["status"] != FAILED
                and pixels.get("status") == frame_mod.CHECKED
                and not pixels.get("black")
                and not pixels.get("nan_count")
                and not pixels.get("inf_count")
            )
            (fixed if good else still_bad).append(number)
        head, _, ext = pattern.partition("#" * max(padding, 1))
        rerender = {
            "requested": entry["frames"],
            "fixed": fixed,
            "still_bad": still_bad,
            "absent": absent,
            "previous_version": entry["version"],
            "render": dict(render),
        }
        report = report_sequence(
            source,
            output,
            head,
            ext,
            run_id=run_id,
            cfg=cfg,
            rekognition=rekognition,
            extra={"rerender": rerender},
        )
        outcome.append(
            {
                "sequence": pattern,
                "version": report["version"],
                "report_key": report["report_key"],
                "fixed": len(fixed),
                "still_bad": len(still_bad),
                "absent": len(absent),
                "remaining_rerender": report["rerender_range"],
            }
        )
    key = f"runs/{run_id}/rerender.json"
    output.put(
        key,
        json.dumps({"run_id": run_id, "render": dict(render), "sequences": outcome}).encode(),
        content_type="application/json",
    )
    return {
        "run_id": run_id,
        "render_state": str(render.get("state", "")),
        "frames_fixed": sum(o["fixed"] for o in outcome),
        "frames_still_bad": sum(o["still_bad"] + o["absent"] for o in outcome),
        "rerender_key": key,
    }


def iter_reports(output: S3AccessPoint, index_key: str) -> Iterator[dict[str, Any]]:
    for entry in json.loads(output.get_bytes(index_key)):
        yield json.loads(output.get_bytes(str(entry["report_key"])))
