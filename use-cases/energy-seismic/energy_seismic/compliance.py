"""Compliance findings: the headers a survey or well log must carry, and a declared coordinate reference.

Each finding is a named rule with a severity (``error``: the file cannot be used as delivered;
``warning``: usable, but a data manager must fix the header) and a message saying where. The rules
are the ones a data-management team checks before loading a delivery into a subsurface database:

SEG-Y
    ``segy.textual_header_lines`` (rev 1: every line starts with ``C``), ``segy.revision_declared``,
    ``segy.sample_interval`` (non-zero in the binary header), ``segy.measurement_system``
    (metres or feet declared), ``segy.coordinate_reference`` (an EPSG code, a datum or a projection
    named in the textual header, or a ``Location Data`` extended stanza), ``segy.coordinates_present``
    (trace headers carry CDP or source coordinates), ``segy.geometry`` (inline and crossline numbers
    present).
LAS
    ``las.required_headers`` (LAS 2.0 ~Well items: STRT, STOP, STEP, NULL, COMP, WELL, FLD, LOC,
    SRVC, DATE, and UWI or API), ``las.coordinate_reference`` (a datum or coordinate system item,
    ``GDAT``, ``HZCS``, ``CRS``, ``EPSG``, ``PROJ``, or an EPSG code in any item), ``las.location``
    (a position: LATI/LONG, X/Y), ``las.depth_range`` (STRT/STOP agree with the first and last rows),
    ``las.empty_curve`` (a curve that is null throughout).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from shared.formats.segy import SegySummary
from shared.formats.welllog import WellLog

logger = logging.getLogger(__name__)

ERROR = "error"
WARNING = "warning"

CRS_PATTERN = re.compile(
    r"EPSG\s*[:#]?\s*\d{4,5}|\bCRS\b|\bDATUM\b|\bWGS\s*-?\s*84\b|\bED\s*50\b|\bNAD\s*(27|83)\b|\bUTM\b|PROJECTION|"
    r"LOCATION DATA",
    re.IGNORECASE,
)
LAS_REQUIRED = ("STRT", "STOP", "STEP", "NULL", "COMP", "WELL", "FLD", "LOC", "SRVC", "DATE")
LAS_CRS_ITEMS = ("GDAT", "HZCS", "CRS", "EPSG", "PROJ", "DATUM", "GEOD")
LAS_POSITION_PAIRS = (("LATI", "LONG"), ("LAT", "LON"), ("X", "Y"), ("XCOORD", "YCOORD"), ("XWELL", "YWELL"))


def finding(rule: str, severity: str, message: str) -> dict[str, str]:
    return {"rule": rule, "severity": severity, "message": message}


def segy_findings(summary: SegySummary) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    lines = summary.textual.lines
    bad = [i + 1 for i, line in enumerate(lines) if line and not line.startswith("C")]
    if bad:
        found.append(
            finding(
                "segy.textual_header_lines",
                WARNING,
                f"textual header lines {bad[:5]} do not start with 'C' (SEG-Y rev 1, section 3.1)",
            )
        )
    if summary.binary.revision == "0":
        found.append(
            finding(
                "segy.revision_declared", WARNING, "binary header bytes 3501-3502 declare no revision (rev 0)"
            )
        )
    if summary.binary.sample_interval_us == 0:
        found.append(
            finding(
                "segy.sample_interval",
                ERROR,
                "binary header byte 3217: sample interval is 0 (only the trace headers declare it)",
            )
        )
    if summary.binary.measurement_system not in (1, 2):
        found.append(
            finding(
                "segy.measurement_system",
                WARNING,
                f"binary header byte 3255: measurement system {summary.binary.measurement_system} "
                "(1 metres or 2 feet expected)",
            )
        )
    text = "\n".join((summary.textual.text, *summary.extended_textual))
    if not CRS_PATTERN.search(text):
        found.append(
            finding(
                "segy.coordinate_reference",
                ERROR,
                "no coordinate reference declared: no EPSG code, datum, CRS or projection in the textual "
                "header and no Location Data extended stanza",
            )
        )
    if summary.x_range is None:
        found.append(
            finding("segy.coordinates_present", ERROR, "sampled trace headers carry no CDP or source X/Y")
        )
    if summary.inline_range is None or summary.crossline_range is None:
        found.append(
            finding(
                "segy.geometry",
                WARNING,
                "sampled trace headers carry no inline (bytes 189-192) or crossline (193-196) numbers",
            )
        )
    return found


def _has(items: dict[str, str], name: str) -> bool:
    return bool(items.get(name, "").strip())


def las_findings(log: WellLog) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    items = {**log.params, **log.well}
    missing = [name for name in LAS_REQUIRED if not _has(log.well, name)]
    if not (_has(log.well, "UWI") or _has(log.well, "API")):
        missing.append("UWI or API")
    if missing:
        found.append(
            finding(
                "las.required_headers", ERROR, f"~Well section lacks (or leaves empty) {', '.join(missing)}"
            )
        )
    declared = [name for name in LAS_CRS_ITEMS if _has(items, name)]
    mentions_epsg = any(re.search(r"EPSG\s*[:#]?\s*\d{4,5}", v, re.IGNORECASE) for v in items.values())
    if not declared and not mentions_epsg:
        found.append(
            finding(
                "las.coordinate_reference",
                ERROR,
                "no coordinate reference declared "
                "(no GDAT, HZCS, CRS, EPSG or PROJ item in ~Well or ~Parameter)",
            )
        )
    if not any(_has(items, a) and _has(items, b) for a, b in LAS_POSITION_PAIRS):
        found.append(
            finding("las.location", WARNING, "no well position (LATI/LONG or X/Y) in ~Well or ~Parameter")
        )
    if log.start is not None and log.first_depth is not None and abs(log.start - log.first_depth) > 1e-6:
        found.append(
            finding(
                "las.depth_range",
                WARNING,
                f"STRT {log.start} but the first row is at {log.first_depth} {log.index_unit}".rstrip(),
            )
        )
    if log.stop is not None and log.last_depth is not None and abs(log.stop - log.last_depth) > 1e-6:
        found.append(
            finding(
                "las.depth_range",
                WARNING,
                f"STOP {log.stop} but the last row is at {log.last_depth} {log.index_unit}".rstrip(),
            )
        )
    for curve in log.curves:
        if curve.samples and curve.nulls == curve.samples:
            found.append(
                finding("las.empty_curve", WARNING, f"curve {curve.mnemonic} is null at every depth")
            )
    return found


def verdict(findings: list[dict[str, Any]]) -> str:
    """``compliant``, ``warnings`` or ``non_compliant``."""
    severities = {f["severity"] for f in findings}
    if ERROR in severities:
        return "non_compliant"
    return "warnings" if severities else "compliant"
