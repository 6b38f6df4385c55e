"""LAS well logs (CWLS LAS 1.2 / 2.0, wrapped or not) through ``lasio``: headers, curve statistics, anomalies.

``lasio`` reads from a text stream, so a log is read straight from the object (:func:`read_las`
takes text, :func:`read_las_bytes` a binary file object such as the ranged reader, decoded as
UTF-8 or else Latin-1) with no copy in ``/tmp``. Unwrapped data goes through lasio's fast
``numpy`` engine; wrapped files (``WRAP. YES``, one depth step over several lines) through its
``normal`` engine, the one that can unwrap them (lasio switches by itself).

The null value is never data: the header's ``NULL`` (lasio's ``strict`` null policy) and the
common sentinels ``-999.25`` and ``-9999.25`` and their positive forms, whatever the header
declares, become NaN, are counted per curve as nulls and left out of every statistic. (lasio's own
``common`` policy does the same and more, but takes seven times as long on a large log.)

Anomalies are robust to the outliers they look for: per curve, the median and the median absolute
deviation (MAD), and the modified z-score ``0.6745 * (x - median) / MAD``; a sample above
``threshold`` (3.5 by default, Iglewicz and Hoaglin) is an anomaly. A curve with MAD 0 (constant
most of the time) gets no anomaly count and says so.

Errors are :class:`WellLogError` subclasses naming what is wrong and where (section, line).
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from shared.errors import PatternError
from shared.formats.segy import BinaryReader

logger = logging.getLogger(__name__)

NULL_POLICY = "strict"  # the header NULL, by lasio; the sentinels below, by us (much faster)
NULL_SENTINELS = (-999.25, 999.25, -9999.25, 9999.25)
DEFAULT_THRESHOLD = 3.5
MAX_ANOMALY_DEPTHS = 10
REQUIRED_SECTIONS = ("V", "W", "C", "A")
_SECTION = re.compile(r"^\s*~\s*([A-Za-z])", re.MULTILINE)


class WellLogError(PatternError, ValueError):
    """The file is not a readable LAS well log; ``details`` names the section or line."""


class WellLogHeaderError(WellLogError):
    """A required section or header item is missing or unreadable."""


class WellLogDataError(WellLogError):
    """The ~ASCII data section does not fit the curves (truncated, a short row, text in numbers)."""


@dataclass(frozen=True)
class CurveStats:
    mnemonic: str
    unit: str
    description: str
    samples: int
    nulls: int
    min: float | None
    max: float | None
    mean: float | None
    median: float | None
    mad: float | None
    anomalies: int | None  # None when MAD is 0 (no robust scale)
    anomaly_depths: tuple[float, ...]


@dataclass(frozen=True)
class WellLog:
    version: str
    wrapped: bool
    null_value: float | None
    well: dict[str, str]  # every ~Well item with a value, mnemonic -> value text
    params: dict[str, str]  # every ~Parameter item with a value
    index_mnemonic: str
    index_unit: str
    start: float | None  # from the header (STRT)
    stop: float | None
    step: float | None
    first_depth: float | None  # from the data
    last_depth: float | None
    rows: int
    curves: tuple[CurveStats, ...]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["curves"] = [asdict(c) | {"anomaly_depths": list(c.anomaly_depths)} for c in self.curves]
        return out


def robust_anomalies(
    values: np.ndarray[Any, np.dtype[np.float64]], threshold: float = DEFAULT_THRESHOLD
) -> tuple[float | None, float | None, np.ndarray[Any, np.dtype[np.bool_]] | None]:
    """Median, MAD and the anomaly mask (modified z-score above ``threshold``) of the finite values.

    The mask has the shape of ``values`` (NaN is never an anomaly); it is None when MAD is 0.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None, None, None
    median = float(np.median(finite))
    mad = float(np.median(np.abs(finite - median)))
    if mad == 0:
        return median, mad, None
    with np.errstate(invalid="ignore"):
        score = 0.6745 * np.abs(values - median) / mad
        mask = np.isfinite(values) & (score > threshold)
    return median, mad, mask


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _curve_stats(
    mnemonic: str,
    unit: str,
    descr: str,
    data: np.ndarray[Any, Any],
    depth: np.ndarray[Any, Any],
    threshold: float,
) -> CurveStats:
    values = np.asarray(data, dtype=np.float64)
    finite = values[np.isfinite(values)]
    median, mad, mask = robust_anomalies(values, threshold)
    depths: tuple[float, ...] = ()
    count: int | None = None
    if mask is not None:
        count = int(mask.sum())
        depths = tuple(float(d) for d in depth[mask][:MAX_ANOMALY_DEPTHS])
    return CurveStats(
        mnemonic=mnemonic,
        unit=unit,
        description=descr,
        samples=int(values.size),
        nulls=int(values.size - finite.size),
        min=float(finite.min()) if finite.size else None,
        max=float(finite.max()) if finite.size else None,
        mean=float(finite.mean()) if finite.size else None,
        median=median,
        mad=mad,
        anomalies=count,
        anomaly_depths=depths,
    )


def _data_line(text: str) -> int:
    """1-based line number of the ~A section marker (0 when absent)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().upper().startswith("~A"):
            return number
    return 0


def read_las(text: str, *, threshold: float = DEFAULT_THRESHOLD) -> WellLog:
    """Parse one LAS file's text and compute its curve statistics and anomalies."""
    import lasio  # heavy: loaded where it is used

    sections = {m.upper() for m in _SECTION.findall(text)}
    missing = [s for s in REQUIRED_SECTIONS if s not in sections]
    if missing:
        raise WellLogHeaderError(
            f"not a LAS well log: no {', '.join('~' + s for s in missing)} section"
            + (" (no ~ section at all)" if not sections else ""),
            missing_sections=missing,
        )
    lines = text.splitlines()
    a_line = _data_line(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            las = lasio.read(io.StringIO(text), null_policy=NULL_POLICY)
    except ValueError as error:  # lasio: "Cannot reshape ~A data size (N,) into K columns"
        raise WellLogDataError(
            f"~A data section (from line {a_line} to line {len(lines)}) does not fit the curves: {error}; "
            "the file is truncated or a row is short",
            line=len(lines),
            section="~A",
        ) from error
    except (KeyError, IndexError, lasio.exceptions.LASHeaderError) as error:
        raise WellLogHeaderError(f"unreadable LAS header: {error}", section="header") from error
    if not las.curves:
        raise WellLogHeaderError("the ~Curve section declares no curves", section="~C")
    data = np.array(las.data, dtype=np.float64)
    if data.ndim == 2:
        data[:, 1:][np.isin(data[:, 1:], NULL_SENTINELS)] = np.nan
    if data.ndim != 2 or data.shape[0] == 0:
        raise WellLogDataError(
            f"the ~A section (line {a_line}) holds no data rows", line=a_line, section="~A"
        )
    if data.shape[1] != len(las.curves):
        raise WellLogDataError(
            f"~A rows have {data.shape[1]} values, the ~C section declares {len(las.curves)} curves",
            line=a_line,
            section="~A",
        )
    depth = data[:, 0]
    curves = tuple(
        _curve_stats(c.mnemonic, c.unit or "", c.descr or "", data[:, i], depth, threshold)
        for i, c in enumerate(las.curves)
        if i > 0
    )
    well = {item.mnemonic: str(item.value).strip() for item in las.well if str(item.value).strip()}
    params = {item.mnemonic: str(item.value).strip() for item in las.params if str(item.value).strip()}
    wrap = str(las.version["WRAP"].value).strip().upper() if "WRAP" in las.version else "NO"
    finite_depth = depth[np.isfinite(depth)]
    index = las.curves[0]
    return WellLog(
        version=str(las.version["VERS"].value).strip() if "VERS" in las.version else "",
        wrapped=wrap == "YES",
        null_value=_float(las.well["NULL"].value) if "NULL" in las.well else None,
        well=well,
        params=params,
        index_mnemonic=index.mnemonic,
        index_unit=index.unit or "",
        start=_float(las.well["STRT"].value) if "STRT" in las.well else None,
        stop=_float(las.well["STOP"].value) if "STOP" in las.well else None,
        step=_float(las.well["STEP"].value) if "STEP" in las.well else None,
        first_depth=float(finite_depth[0]) if finite_depth.size else None,
        last_depth=float(finite_depth[-1]) if finite_depth.size else None,
        rows=int(data.shape[0]),
        curves=curves,
    )


def read_las_bytes(fileobj: BinaryReader, *, max_bytes: int, threshold: float = DEFAULT_THRESHOLD) -> WellLog:
    """Read a LAS file from a binary file object (at most ``max_bytes``), UTF-8 or else Latin-1."""
    raw = fileobj.read(max_bytes + 1) or b""
    if len(raw) > max_bytes:
        raise WellLogError(f"LAS file is larger than {max_bytes} bytes", limit=max_bytes)
    if b"\x00" in raw[:4096]:
        raise WellLogHeaderError(
            "not a LAS well log: binary content (NUL bytes) in the first 4 KiB", offset=0
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return read_las(text, threshold=threshold)
