"""SEG-Y survey writer for demos and the bench: a small 3-D grid of synthetic traces.

Writes the layout of SEG-Y rev 1/2 (big-endian): textual header (EBCDIC or ASCII), binary header,
optional extended textual headers, then one 240-byte header and ``samples`` samples per trace, with
inline/crossline and scaled CDP coordinates in each trace header. Traces are written one inline at
a time, so a large bench file never sits in memory. The reader's tests do not use this writer:
they build their bytes by hand from the standard.
"""

from __future__ import annotations

import logging
import struct
from typing import IO

import numpy as np

from shared.formats.segy import FORMATS

logger = logging.getLogger(__name__)

DEFAULT_TEXT = (
    "C 1 CLIENT DEMO ENERGY   COMPANY SYNTHETIC SURVEY",
    "C 2 LINE 3D-DEMO-01  AREA NORTH BLOCK",
    "C 3 CRS EPSG:32631 WGS 84 / UTM ZONE 31N",
    "C 4 DATUM WGS84  UNITS METERS",
    "C 5 SAMPLE INTERVAL 4 MS  RECORD LENGTH 1 S",
    "C 6 INLINE BYTES 189-192  CROSSLINE BYTES 193-196  CDP X/Y BYTES 181-188",
    "C39 SEG Y REV1",
    "C40 END TEXTUAL HEADER",
)


def textual_header(lines: tuple[str, ...] = DEFAULT_TEXT, *, encoding: str = "ebcdic") -> bytes:
    """40 lines of 80 characters, the given ones placed by their ``C<n>`` number (else in order)."""
    rows = [f"C{n:2d}".ljust(80) for n in range(1, 41)]
    for i, line in enumerate(lines):
        try:
            number = int(line[1:3])
        except ValueError:
            number = i + 1
        rows[number - 1] = line[:80].ljust(80)
    text = "".join(rows)
    return text.encode("cp037" if encoding == "ebcdic" else "ascii")


def binary_header(
    *,
    sample_interval_us: int,
    samples: int,
    format_code: int,
    traces_per_ensemble: int = 1,
    revision: tuple[int, int] = (1, 0),
    extended_headers: int = 0,
    declared_traces: int = 0,
    measurement_system: int = 1,
) -> bytes:
    data = bytearray(400)
    struct.pack_into(">iii", data, 0, 1, 1, 1)
    struct.pack_into(">hh", data, 12, traces_per_ensemble, 0)
    struct.pack_into(">HH", data, 16, sample_interval_us, sample_interval_us)
    struct.pack_into(">HH", data, 20, samples, samples)
    struct.pack_into(">hhh", data, 24, format_code, 1, 2)  # format, fold, sorting (CDP ensemble)
    struct.pack_into(">h", data, 54, measurement_system)
    if revision[0] >= 2:
        struct.pack_into(">I", data, 96, 0x01020304)
        struct.pack_into(">Q", data, 312, declared_traces)
    data[300], data[301] = revision
    struct.pack_into(">hh", data, 302, 1, extended_headers)
    return bytes(data)


def trace_header(
    *,
    sequence: int,
    inline: int,
    crossline: int,
    x: float,
    y: float,
    scalar: int,
    samples: int,
    interval_us: int,
) -> bytes:
    """One 240-byte trace header; ``x``/``y`` are stored as integers the ``scalar`` turns back into them."""
    factor = 1.0 / -scalar if scalar < 0 else float(scalar or 1)
    # Stored = real / factor (a scalar of -100 stores centimetres).
    sx, sy = round(x / factor), round(y / factor)
    data = bytearray(240)
    struct.pack_into(">iii", data, 0, sequence, sequence, inline)
    struct.pack_into(">i", data, 20, sequence)
    struct.pack_into(">h", data, 70, scalar)
    struct.pack_into(">ii", data, 72, sx, sy)
    struct.pack_into(">h", data, 88, 1)
    struct.pack_into(">HH", data, 114, samples, interval_us)
    struct.pack_into(">iiii", data, 180, sx, sy, inline, crossline)
    return bytes(data)


def ibm_words(values: np.ndarray) -> np.ndarray:
    """Doubles to IBM single words, vectorised (the same truncation as ``ieee_to_ibm``)."""
    magnitude = np.abs(values)
    words = np.zeros(values.shape, dtype=np.uint64)
    nonzero = magnitude > 0
    m = magnitude[nonzero]
    exponent = np.floor(np.log(m) / np.log(16.0)).astype(np.int64) + 1
    fraction = m / np.power(16.0, exponent.astype(np.float64))
    up = fraction >= 1.0
    exponent[up] += 1
    fraction[up] /= 16.0
    down = fraction < 1.0 / 16.0
    exponent[down] -= 1
    fraction[down] *= 16.0
    bits = (fraction * (1 << 24)).astype(np.uint64) & 0x00FFFFFF
    sign = np.where(values[nonzero] < 0, np.uint64(0x80000000), np.uint64(0))
    words[nonzero] = sign | ((exponent + 64).astype(np.uint64) << np.uint64(24)) | bits
    return words.astype(np.uint32)


def encode_samples(values: np.ndarray, format_code: int) -> bytes:
    if format_code == 1:
        return ibm_words(np.asarray(values, dtype=np.float64)).astype(">u4").tobytes()
    kind = FORMATS[format_code][0]
    return np.asarray(values).astype(np.dtype(kind).newbyteorder(">")).tobytes()


def write_segy(
    out: IO[bytes],
    *,
    inlines: range = range(1000, 1010),
    crosslines: range = range(2000, 2010),
    samples: int = 250,
    sample_interval_us: int = 4000,
    format_code: int = 5,
    encoding: str = "ebcdic",
    scalar: int = -100,
    origin: tuple[float, float] = (431000.0, 6521000.0),
    spacing_m: float = 12.5,
    text: tuple[str, ...] = DEFAULT_TEXT,
    extended: tuple[str, ...] = (),
    revision: tuple[int, int] = (1, 0),
    traces_per_ensemble: int = 1,
    seed: int = 8,
) -> int:
    """Write one survey and return its size in bytes. Amplitudes: a decaying wavelet plus noise."""
    rng = np.random.default_rng(seed)
    count = len(inlines) * len(crosslines)
    written = out.write(textual_header(text, encoding=encoding))
    written += out.write(
        binary_header(
            sample_interval_us=sample_interval_us,
            samples=samples,
            format_code=format_code,
            traces_per_ensemble=traces_per_ensemble,
            revision=revision,
            extended_headers=len(extended),
            declared_traces=count,
        )
    )
    for stanza in extended:
        written += out.write(stanza.ljust(3200)[:3200].encode("cp037" if encoding == "ebcdic" else "ascii"))
    t = np.arange(samples) * sample_interval_us / 1e6
    wavelet = np.exp(-3.0 * t) * np.sin(2 * np.pi * 25 * t)
    integer = format_code in (2, 3, 8, 9, 10, 11, 12, 16)
    amplitude = 100.0 if integer else 1.0
    sequence = 0
    for il in inlines:
        block = bytearray()
        for xl in crosslines:
            sequence += 1
            x = origin[0] + (xl - crosslines.start) * spacing_m
            y = origin[1] + (il - inlines.start) * spacing_m
            values = amplitude * (wavelet + 0.05 * rng.standard_normal(samples))
            if format_code in (10, 11, 12, 16):
                values = np.abs(values)
            if integer:
                values = np.round(values)
            block += trace_header(
                sequence=sequence,
                inline=il,
                crossline=xl,
                x=x,
                y=y,
                scalar=scalar,
                samples=samples,
                interval_us=sample_interval_us,
            )
            block += encode_samples(values, format_code)
        written += out.write(bytes(block))
    return written
