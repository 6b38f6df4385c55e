"""SEG-Y (rev 0, 1 and 2) survey reader: headers, trace count and sampled traces, over any binary file object.

Read from a seekable binary file object (a local file in tests, the ranged reader over the access
point in Lambda): the 3200-byte textual header (EBCDIC or ASCII, detected), the 400-byte binary
header, any extended textual headers it declares, and a bounded sample of traces spread over the
file. Nothing else is read, so a multi-gigabyte survey costs a few hundred kilobytes of ranged GETs
(:attr:`SegySummary.bytes_read`) and memory does not grow with the file.

Hand-written rather than on ``segyio`` because segyio needs a local path (it memory-maps or uses
``fopen``), so it would first download the whole survey to ``/tmp``, and it is a compiled extension
with no manylinux arm64 wheel for the Lambda runtime. The format is fixed offsets (SEG Technical
Standards Committee, SEG-Y rev 2.0, 2017), which a short reader covers exactly.

What it checks, because silently wrong numbers are the worst outcome:

* the trace count comes from the file size and the trace length
  (``(size - 3600 - 3200 * extended headers) / (240 + samples * bytes per sample)``), never from
  the traces-per-ensemble field, which counts traces in one gather; a remainder is a
  :class:`SegySizeMismatchError` naming it, and a rev 2 header that declares a trace count must
  agree;
* each sampled trace header's sample count must match the binary header's (fixed-length traces);
* IBM System/360 floats (format 1) are converted bit by bit (:func:`ibm_to_ieee`), never read as
  IEEE floats;
* inline, crossline and coordinates come from the trace headers with the coordinate scalar applied
  (positive multiplies, negative divides, zero means one).

Errors are :class:`SegyError` subclasses with ``offset`` (and ``trace`` where one is concerned) in
their details. Public API: :func:`read_segy`, :func:`read_textual_header`, :func:`read_binary_header`,
:func:`decode_samples`, :func:`ibm_to_ieee`, :func:`ieee_to_ibm`, :class:`SegySummary`.
"""

from __future__ import annotations

import logging
import math
import struct
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from shared.errors import PatternError

logger = logging.getLogger(__name__)

TEXTUAL_HEADER_SIZE = 3200
BINARY_HEADER_SIZE = 400
TRACE_HEADER_SIZE = 240
FILE_HEADER_SIZE = TEXTUAL_HEADER_SIZE + BINARY_HEADER_SIZE
DEFAULT_SAMPLED_TRACES = 64
# A variable count of extended textual headers (-1) ends with an EndText stanza; stop looking here.
MAX_EXTENDED_HEADERS = 100
END_TEXT = "((SEG: EndText))"
BYTE_ORDER_MARK = 0x01020304  # rev 2, bytes 3297-3300

# Format code -> (numpy dtype without byte order, bytes per sample, name). Code 1 is IBM float,
# decoded from unsigned words. Code 4 (fixed point with gain) is obsolete and refused.
FORMATS: dict[int, tuple[str, int, str]] = {
    1: ("u4", 4, "ibm-float32"),
    2: ("i4", 4, "int32"),
    3: ("i2", 2, "int16"),
    5: ("f4", 4, "ieee-float32"),
    6: ("f8", 8, "ieee-float64"),
    8: ("i1", 1, "int8"),
    9: ("i8", 8, "int64"),
    10: ("u4", 4, "uint32"),
    11: ("u2", 2, "uint16"),
    12: ("u8", 8, "uint64"),
    16: ("u1", 1, "uint8"),
}


class BinaryReader(Protocol):
    """What the readers need of a file: a local file, ``io.BytesIO`` or the ranged reader."""

    def seek(self, offset: int, whence: int = ..., /) -> int: ...

    def read(self, size: int = ..., /) -> bytes | None: ...


class SegyError(PatternError, ValueError):
    """The file is not a readable SEG-Y survey; ``details`` names the offset (and trace)."""


class SegyTruncatedError(SegyError):
    """The file ends before a header or trace the reader needs."""


class SegyHeaderError(SegyError):
    """A header holds a value the format does not allow (or contradicts another header)."""


class SegySizeMismatchError(SegyError):
    """The file size is not the file headers plus a whole number of traces of the declared length."""


@dataclass(frozen=True)
class TextualHeader:
    encoding: str  # "ebcdic" or "ascii"
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class BinaryHeader:
    job_id: int
    line_number: int
    reel_number: int
    traces_per_ensemble: int  # traces in one gather, NOT in the file
    aux_traces_per_ensemble: int
    sample_interval_us: int
    samples_per_trace: int
    format_code: int
    ensemble_fold: int
    sorting_code: int
    measurement_system: int  # 1 metres, 2 feet, 0 undeclared
    revision: str  # "0", "1.0", "2.0", ...
    fixed_length_traces: int
    extended_headers: int  # -1: variable, ended by an EndText stanza
    declared_trace_count: int  # rev 2 bytes 3513-3520; 0 when not declared
    byte_order: str  # ">" big-endian (the standard) or "<" (rev 2 byte-order mark)

    @property
    def format_name(self) -> str:
        return FORMATS[self.format_code][2]

    @property
    def bytes_per_sample(self) -> int:
        return FORMATS[self.format_code][1]


@dataclass(frozen=True)
class TraceHeader:
    index: int  # 0-based position in the file
    sequence_in_line: int
    sequence_in_file: int
    field_record: int
    cdp: int
    coordinate_scalar: int
    source_x: float
    source_y: float
    coordinate_units: int  # 1 length, 2 arc seconds, 3 decimal degrees, 4 DMS
    samples: int
    sample_interval_us: int
    cdp_x: float
    cdp_y: float
    inline: int
    crossline: int


@dataclass(frozen=True)
class AmplitudeStats:
    samples: int
    min: float | None
    max: float | None
    mean: float | None
    rms: float | None
    std: float | None
    zero_fraction: float | None
    non_finite: int  # NaN or infinity samples (IEEE formats only), left out of the other figures


@dataclass(frozen=True)
class SegySummary:
    file_size: int
    textual: TextualHeader
    extended_textual: tuple[str, ...]
    binary: BinaryHeader
    trace_length: int  # bytes per trace, header included
    trace_count: int  # from the file size and trace length
    sampled_traces: int
    inline_range: tuple[int, int] | None
    crossline_range: tuple[int, int] | None
    x_range: tuple[float, float] | None
    y_range: tuple[float, float] | None
    coordinate_scalar: int
    amplitudes: AmplitudeStats
    bytes_read: int
    trace_headers: tuple[TraceHeader, ...] = field(repr=False, default=())

    @property
    def record_length_ms(self) -> float:
        return self.binary.samples_per_trace * self.binary.sample_interval_us / 1000.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary (the trace headers left out)."""
        return {
            "file_size": self.file_size,
            "textual_encoding": self.textual.encoding,
            "textual_header": self.textual.text,
            "extended_textual_headers": list(self.extended_textual),
            "binary": asdict(self.binary) | {"format_name": self.binary.format_name},
            "trace_length": self.trace_length,
            "trace_count": self.trace_count,
            "record_length_ms": self.record_length_ms,
            "sampled_traces": self.sampled_traces,
            "inline_range": list(self.inline_range) if self.inline_range else None,
            "crossline_range": list(self.crossline_range) if self.crossline_range else None,
            "x_range": list(self.x_range) if self.x_range else None,
            "y_range": list(self.y_range) if self.y_range else None,
            "coordinate_scalar": self.coordinate_scalar,
            "amplitudes": asdict(self.amplitudes),
            "bytes_read": self.bytes_read,
        }


class _Counted:
    """Exact positioned reads on a binary file object, counting the bytes read."""

    def __init__(self, fileobj: BinaryReader) -> None:
        self.file = fileobj
        self.bytes_read = 0
        self.size = fileobj.seek(0, 2)

    def read(self, offset: int, length: int, what: str, **details: Any) -> bytes:
        if offset + length > self.size:
            raise SegyTruncatedError(
                f"file ends at byte {self.size}, before the end of the {what} "
                f"(bytes {offset}-{offset + length - 1})",
                offset=offset,
                length=length,
                file_size=self.size,
                **details,
            )
        self.file.seek(offset)
        data = self.file.read(length) or b""
        self.bytes_read += len(data)
        if len(data) != length:
            raise SegyTruncatedError(
                f"short read of the {what}: {len(data)} of {length} bytes at offset {offset}",
                offset=offset,
                length=length,
                **details,
            )
        return data


# -- IBM floats ---------------------------------------------------------------------------------


def ibm_to_ieee(words: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """IBM System/360 single-precision words (as unsigned 32-bit integers) to IEEE doubles.

    Sign bit, 7-bit base-16 exponent biased by 64, 24-bit fraction with no hidden bit:
    ``value = (-1)^sign * 0.fraction * 16^(exponent - 64)``. Every IBM single is exactly a double.
    """
    u = np.asarray(words, dtype=np.uint32)
    sign = np.where((u >> 31) != 0, -1.0, 1.0)
    exponent = ((u >> 24) & 0x7F).astype(np.int64) - 64
    fraction = (u & 0x00FFFFFF).astype(np.float64) / float(1 << 24)
    return sign * fraction * np.power(16.0, exponent.astype(np.float64))


def ieee_to_ibm(value: float) -> int:
    """One float to the nearest IBM single word (truncating the fraction), for writers and tests."""
    if value == 0 or math.isnan(value):
        return 0
    sign = 0x80000000 if value < 0 else 0
    magnitude = abs(value)
    exponent = 64
    while magnitude >= 1.0:
        magnitude /= 16.0
        exponent += 1
    while magnitude < 1.0 / 16.0:
        magnitude *= 16.0
        exponent -= 1
    if not 0 <= exponent <= 127:
        raise OverflowError(f"{value} is outside the IBM single range")
    fraction = int(magnitude * (1 << 24))
    return sign | (exponent << 24) | (fraction & 0x00FFFFFF)


# -- headers ------------------------------------------------------------------------------------


def _printable(text: str) -> float:
    if not text:
        return 0.0
    return sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t\x00") / len(text)


def read_textual_header(data: bytes, *, offset: int = 0) -> TextualHeader:
    """Detect EBCDIC (code page 037) or ASCII and split the 3200 bytes into 40 lines of 80."""
    if len(data) != TEXTUAL_HEADER_SIZE:
        raise SegyTruncatedError(f"textual header is {len(data)} bytes, not 3200", offset=offset)
    ascii_share = sum(1 for b in data if 0x20 <= b < 0x7F or b in (0x00, 0x0A, 0x0D)) / len(data)
    ebcdic_text = data.decode("cp037")
    # A rev 1 header starts with "C" (0x43 in ASCII, 0xC3 in EBCDIC); otherwise the more printable wins.
    if data[0] == 0xC3 or (data[0] != 0x43 and _printable(ebcdic_text) > ascii_share):
        encoding, text = "ebcdic", ebcdic_text
        share = _printable(ebcdic_text)
    else:
        encoding, text = "ascii", data.decode("latin-1")
        share = ascii_share
    if share < 0.9:
        raise SegyHeaderError(
            f"textual header at offset {offset} is neither EBCDIC nor ASCII text "
            f"({share:.0%} printable as {encoding})",
            offset=offset,
        )
    lines = tuple(text[i : i + 80].replace("\x00", " ").rstrip() for i in range(0, TEXTUAL_HEADER_SIZE, 80))
    return TextualHeader(encoding, lines)


def _byte_order(data: bytes) -> str:
    mark_be = struct.unpack_from(">I", data, 96)[0]
    if mark_be == BYTE_ORDER_MARK:
        return ">"
    if struct.unpack_from("<I", data, 96)[0] == BYTE_ORDER_MARK:
        return "<"
    # No mark (rev 0/1): big-endian, unless only the little-endian reading gives a valid format code.
    code_be = struct.unpack_from(">h", data, 24)[0]
    code_le = struct.unpack_from("<h", data, 24)[0]
    if code_be not in FORMATS and code_le in FORMATS:
        return "<"
    return ">"


def read_binary_header(data: bytes, *, offset: int = TEXTUAL_HEADER_SIZE) -> BinaryHeader:
    """Decode the 400-byte binary header and reject values no reader could use."""
    if len(data) != BINARY_HEADER_SIZE:
        raise SegyTruncatedError(f"binary header is {len(data)} bytes, not 400", offset=offset)
    bo = _byte_order(data)

    def i32(pos: int) -> int:  # pos: 1-based byte in the file, as the standard numbers them
        return int(struct.unpack_from(bo + "i", data, pos - 3201)[0])

    def i16(pos: int) -> int:
        return int(struct.unpack_from(bo + "h", data, pos - 3201)[0])

    def u16(pos: int) -> int:
        return int(struct.unpack_from(bo + "H", data, pos - 3201)[0])

    major, minor = data[300], data[301]
    revision = "0" if major == 0 and minor == 0 else f"{major}.{minor}"
    # Bytes 3513-3520 hold the trace count only from rev 2 on; in rev 1 they are unassigned.
    declared = int(struct.unpack_from(bo + "Q", data, 312)[0]) if major >= 2 else 0
    header = BinaryHeader(
        job_id=i32(3201),
        line_number=i32(3205),
        reel_number=i32(3209),
        traces_per_ensemble=i16(3213),
        aux_traces_per_ensemble=i16(3215),
        sample_interval_us=u16(3217),
        samples_per_trace=u16(3221),
        format_code=i16(3225),
        ensemble_fold=i16(3227),
        sorting_code=i16(3229),
        measurement_system=i16(3255),
        revision=revision,
        fixed_length_traces=i16(3503),
        extended_headers=i16(3505),
        declared_trace_count=declared,
        byte_order=bo,
    )
    if header.format_code not in FORMATS:
        raise SegyHeaderError(
            f"binary header byte 3225: data sample format code {header.format_code} is not one this "
            f"reader decodes ({sorted(FORMATS)})",
            offset=offset + 24,
            format_code=header.format_code,
        )
    if header.samples_per_trace <= 0:
        raise SegyHeaderError(
            "binary header byte 3221: samples per trace is 0", offset=offset + 20, samples_per_trace=0
        )
    if header.extended_headers < -1:
        raise SegyHeaderError(
            f"binary header byte 3505: {header.extended_headers} extended textual headers",
            offset=offset + 304,
        )
    return header


def _trace_header(data: bytes, index: int, bo: str) -> TraceHeader:
    def i32(pos: int) -> int:  # pos: 1-based byte within the trace header
        return int(struct.unpack_from(bo + "i", data, pos - 1)[0])

    def i16(pos: int) -> int:
        return int(struct.unpack_from(bo + "h", data, pos - 1)[0])

    scalar = i16(71)
    return TraceHeader(
        index=index,
        sequence_in_line=i32(1),
        sequence_in_file=i32(5),
        field_record=i32(9),
        cdp=i32(21),
        coordinate_scalar=scalar,
        source_x=apply_scalar(i32(73), scalar),
        source_y=apply_scalar(i32(77), scalar),
        coordinate_units=i16(89),
        samples=int(struct.unpack_from(bo + "H", data, 114)[0]),
        sample_interval_us=int(struct.unpack_from(bo + "H", data, 116)[0]),
        cdp_x=apply_scalar(i32(181), scalar),
        cdp_y=apply_scalar(i32(185), scalar),
        inline=i32(189),
        crossline=i32(193),
    )


def apply_scalar(value: int, scalar: int) -> float:
    """Trace header bytes 71-72: positive multiplies, negative divides by its magnitude, 0 means 1."""
    if scalar > 0:
        return float(value * scalar)
    if scalar < 0:
        return value / -scalar
    return float(value)


def decode_samples(
    data: bytes, format_code: int, byte_order: str = ">"
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The samples of one trace as doubles (IBM words converted, integers widened)."""
    kind, size, _ = FORMATS[format_code]
    if len(data) % size:
        raise SegyTruncatedError(f"{len(data)} bytes is not a whole number of {size}-byte samples")
    raw = np.frombuffer(data, dtype=np.dtype(kind).newbyteorder("<" if byte_order == "<" else ">"))
    if format_code == 1:
        return ibm_to_ieee(raw)
    return raw.astype(np.float64)


def sample_indices(trace_count: int, wanted: int) -> list[int]:
    """Up to ``wanted`` trace indices spread evenly over the file, first and last included."""
    if trace_count <= 0 or wanted <= 0:
        return []
    if trace_count <= wanted:
        return list(range(trace_count))
    if wanted == 1:
        return [0]
    step = (trace_count - 1) / (wanted - 1)
    return sorted({round(i * step) for i in range(wanted)})


def _stats(chunks: list[np.ndarray[Any, np.dtype[np.float64]]]) -> AmplitudeStats:
    if not chunks:
        return AmplitudeStats(0, None, None, None, None, None, None, 0)
    values = np.concatenate(chunks)
    finite = values[np.isfinite(values)]
    non_finite = int(values.size - finite.size)
    if finite.size == 0:
        return AmplitudeStats(int(values.size), None, None, None, None, None, None, non_finite)
    return AmplitudeStats(
        samples=int(values.size),
        min=float(finite.min()),
        max=float(finite.max()),
        mean=float(finite.mean()),
        rms=float(np.sqrt(np.mean(np.square(finite)))),
        std=float(finite.std()),
        zero_fraction=float(np.count_nonzero(finite == 0) / finite.size),
        non_finite=non_finite,
    )


def _extended_headers(reader: _Counted, binary: BinaryHeader, encoding: str) -> tuple[str, ...]:
    texts: list[str] = []
    count = binary.extended_headers
    limit = count if count >= 0 else MAX_EXTENDED_HEADERS
    for i in range(limit):
        offset = FILE_HEADER_SIZE + i * TEXTUAL_HEADER_SIZE
        raw = reader.read(offset, TEXTUAL_HEADER_SIZE, f"extended textual header {i + 1}", header=i + 1)
        text = raw.decode("cp037" if encoding == "ebcdic" else "latin-1").replace("\x00", " ")
        if _printable(text) < 0.9:
            raise SegyHeaderError(
                f"extended textual header {i + 1} at offset {offset} is not {encoding} text",
                offset=offset,
                header=i + 1,
            )
        texts.append(text.rstrip())
        if count < 0 and END_TEXT.lower() in text.lower():
            break
    else:
        if count < 0:
            raise SegyHeaderError(
                f"variable extended textual headers with no {END_TEXT} stanza in the first {limit}",
                offset=FILE_HEADER_SIZE,
            )
    return tuple(texts)


def read_segy(fileobj: BinaryReader, *, sampled_traces: int = DEFAULT_SAMPLED_TRACES) -> SegySummary:
    """Read the headers and a sample of traces of one SEG-Y file (see the module docstring).

    ``fileobj`` is any seekable binary file object; only the headers and ``sampled_traces`` traces
    are read from it.
    """
    reader = _Counted(fileobj)
    if reader.size < FILE_HEADER_SIZE:
        raise SegyTruncatedError(
            f"file is {reader.size} bytes, shorter than the 3600-byte textual and binary headers",
            offset=reader.size,
            file_size=reader.size,
        )
    textual = read_textual_header(reader.read(0, TEXTUAL_HEADER_SIZE, "textual header"))
    binary = read_binary_header(reader.read(TEXTUAL_HEADER_SIZE, BINARY_HEADER_SIZE, "binary header"))
    extended = _extended_headers(reader, binary, textual.encoding)
    first_trace = FILE_HEADER_SIZE + len(extended) * TEXTUAL_HEADER_SIZE
    trace_length = TRACE_HEADER_SIZE + binary.samples_per_trace * binary.bytes_per_sample
    data_bytes = reader.size - first_trace
    trace_count, remainder = divmod(data_bytes, trace_length)
    if remainder or trace_count == 0:
        raise SegySizeMismatchError(
            f"{data_bytes} bytes after the file headers are not a whole number of {trace_length}-byte "
            f"traces ({binary.samples_per_trace} samples x {binary.bytes_per_sample} bytes + 240): "
            f"{trace_count} traces and {remainder} bytes over, at offset {reader.size - remainder}",
            offset=reader.size - remainder,
            trace_length=trace_length,
            whole_traces=trace_count,
            extra_bytes=remainder,
        )
    if binary.declared_trace_count and binary.declared_trace_count != trace_count:
        raise SegySizeMismatchError(
            f"binary header bytes 3513-3520 declare {binary.declared_trace_count} traces, the file "
            f"size gives {trace_count}",
            offset=TEXTUAL_HEADER_SIZE + 312,
            declared=binary.declared_trace_count,
            from_size=trace_count,
        )
    headers: list[TraceHeader] = []
    amplitudes: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    for index in sample_indices(trace_count, sampled_traces):
        offset = first_trace + index * trace_length
        raw = reader.read(offset, trace_length, f"trace {index}", trace=index)
        header = _trace_header(raw[:TRACE_HEADER_SIZE], index, binary.byte_order)
        if header.samples not in (0, binary.samples_per_trace):
            raise SegyHeaderError(
                f"trace {index} (offset {offset}) declares {header.samples} samples, the binary header "
                f"{binary.samples_per_trace}: variable-length traces are not supported",
                offset=offset + 114,
                trace=index,
            )
        headers.append(header)
        amplitudes.append(decode_samples(raw[TRACE_HEADER_SIZE:], binary.format_code, binary.byte_order))
    if binary.sample_interval_us == 0 and not any(h.sample_interval_us for h in headers):
        raise SegyHeaderError(
            "sample interval is 0 in the binary header (byte 3217) and in every sampled trace header",
            offset=TEXTUAL_HEADER_SIZE + 16,
        )

    def span(values: list[Any]) -> Any:
        return (min(values), max(values)) if values else None

    use_cdp = any(h.cdp_x or h.cdp_y for h in headers)
    xs = [h.cdp_x if use_cdp else h.source_x for h in headers]
    ys = [h.cdp_y if use_cdp else h.source_y for h in headers]
    has_xy = any(xs) or any(ys)
    summary = SegySummary(
        file_size=reader.size,
        textual=textual,
        extended_textual=extended,
        binary=binary,
        trace_length=trace_length,
        trace_count=trace_count,
        sampled_traces=len(headers),
        inline_range=span([h.inline for h in headers if h.inline]),
        crossline_range=span([h.crossline for h in headers if h.crossline]),
        x_range=span(xs) if has_xy else None,
        y_range=span(ys) if has_xy else None,
        coordinate_scalar=headers[0].coordinate_scalar if headers else 0,
        amplitudes=_stats(amplitudes),
        bytes_read=reader.bytes_read,
        trace_headers=tuple(headers),
    )
    logger.debug(
        "segy read", extra={"traces": trace_count, "sampled": len(headers), "bytes_read": reader.bytes_read}
    )
    return summary
