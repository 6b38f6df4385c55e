"""The SEG-Y reader against files built byte by byte from the standard (not by our sample writer)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from shared.formats import segy
from shared.formats.samples import segy as samples

# -- hand-built files ----------------------------------------------------------------------------

# Known IBM single words and their values (the -118.625 example is the classic one from IBM's
# System/360 Principles of Operation; the others are worked by hand: 0x41 is 16^1, fraction 0x100000
# is 1/16).
IBM_KNOWN = [
    (0x00000000, 0.0),
    (0x41100000, 1.0),
    (0xC1100000, -1.0),
    (0x40800000, 0.5),
    (0x42640000, 100.0),
    (0xC276A000, -118.625),
    (0x41200000, 2.0),
    (0x3F100000, 1.0 / 256),
    (0x7FFFFFFF, (1 - 16**-6) * 16.0**63),
    (0x00100000, 16.0**-65),
]


def ebcdic_text(*lines: str) -> bytes:
    rows = [(lines[i] if i < len(lines) else f"C{i + 1:2d}").ljust(80)[:80] for i in range(40)]
    return "".join(rows).encode("cp037")


def ascii_text(*lines: str) -> bytes:
    rows = [(lines[i] if i < len(lines) else f"C{i + 1:2d}").ljust(80)[:80] for i in range(40)]
    return "".join(rows).encode("ascii")


def binary(
    *,
    interval: int = 2000,
    samples: int = 4,
    fmt: int = 1,
    ensemble: int = 7,
    rev: tuple[int, int] = (1, 0),
    ext: int = 0,
    declared: int = 0,
    order: str = ">",
) -> bytes:
    b = bytearray(400)
    struct.pack_into(order + "h", b, 3213 - 3201, ensemble)
    struct.pack_into(order + "H", b, 3217 - 3201, interval)
    struct.pack_into(order + "H", b, 3221 - 3201, samples)
    struct.pack_into(order + "h", b, 3225 - 3201, fmt)
    b[3501 - 3201], b[3502 - 3201] = rev
    struct.pack_into(order + "h", b, 3505 - 3201, ext)
    if rev[0] >= 2:
        struct.pack_into(order + "I", b, 3297 - 3201, 0x01020304)
        struct.pack_into(order + "Q", b, 3513 - 3201, declared)
    return bytes(b)


def trace(
    il: int, xl: int, x: int, y: int, scalar: int, words: bytes, samples: int = 4, order: str = ">"
) -> bytes:
    h = bytearray(240)
    struct.pack_into(order + "h", h, 70, scalar)
    struct.pack_into(order + "H", h, 114, samples)
    struct.pack_into(order + "H", h, 116, 2000)
    struct.pack_into(order + "iiii", h, 180, x, y, il, xl)
    return bytes(h) + words


def ibm_trace_words(*words: int) -> bytes:
    return struct.pack(">4I", *words)


def small_survey(encoding: str = "ebcdic") -> bytes:
    text = (ebcdic_text if encoding == "ebcdic" else ascii_text)("C 1 HAND MADE", "C 2 CRS EPSG:23031")
    traces = b"".join(
        trace(
            il,
            xl,
            4310000 + xl * 1250,
            65210000 + il * 1250,
            -100,
            ibm_trace_words(*[w for w, _ in IBM_KNOWN[1:5]]),
        )
        for il in (10, 11, 12)
        for xl in (100, 101)
    )
    return text + binary(ensemble=7) + traces


# -- IBM floats ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("word", "value"), IBM_KNOWN)
def test_ibm_words_convert_to_their_known_values(word: int, value: float) -> None:
    assert segy.ibm_to_ieee(np.array([word], dtype=np.uint32))[0] == value


def test_ibm_is_not_read_as_ieee() -> None:
    word = 0x42640000  # 100.0 in IBM; 57.0 read as an IEEE float
    assert struct.unpack(">f", struct.pack(">I", word))[0] == 57.0
    assert segy.decode_samples(struct.pack(">I", word), 1)[0] == 100.0


@pytest.mark.parametrize("value", [1.0, -118.625, 0.15625, 3.0e10, -2.5e-5])
def test_ieee_to_ibm_round_trips(value: float) -> None:
    back = segy.ibm_to_ieee(np.array([segy.ieee_to_ibm(value)], dtype=np.uint32))[0]
    assert back == pytest.approx(value, rel=1e-6)
    assert samples.ibm_words(np.array([value]))[0] == segy.ieee_to_ibm(value)


# -- headers and traces --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["ebcdic", "ascii"])
def test_textual_header_encoding_is_detected(encoding: str) -> None:
    summary = segy.read_segy(io.BytesIO(small_survey(encoding)))
    assert summary.textual.encoding == encoding
    assert summary.textual.lines[0] == "C 1 HAND MADE"
    assert summary.textual.lines[1] == "C 2 CRS EPSG:23031"
    assert len(summary.textual.lines) == 40


def test_trace_count_comes_from_the_size_not_the_ensemble_field() -> None:
    summary = segy.read_segy(io.BytesIO(small_survey()))
    assert summary.binary.traces_per_ensemble == 7
    assert summary.trace_count == 6
    assert summary.trace_length == 240 + 4 * 4
    assert summary.binary.sample_interval_us == 2000
    assert summary.binary.format_name == "ibm-float32"
    assert summary.record_length_ms == 8.0


def test_ranges_and_scaled_coordinates() -> None:
    summary = segy.read_segy(io.BytesIO(small_survey()))
    assert summary.inline_range == (10, 12)
    assert summary.crossline_range == (100, 101)
    # Scalar -100: stored centimetres divided by 100.
    assert summary.x_range == (43100.0 + 1250.0, 43100.0 + 1262.5)
    assert summary.y_range == (652100.0 + 125.0, 652100.0 + 150.0)


def test_positive_scalar_multiplies_and_zero_means_one() -> None:
    assert segy.apply_scalar(25, 10) == 250.0
    assert segy.apply_scalar(25, 0) == 25.0
    assert segy.apply_scalar(2500, -100) == 25.0


def test_amplitudes_from_ibm_samples() -> None:
    stats = segy.read_segy(io.BytesIO(small_survey())).amplitudes
    assert stats.samples == 24
    assert (stats.min, stats.max) == (-1.0, 100.0)
    assert stats.mean == pytest.approx((1.0 - 1.0 + 0.5 + 100.0) / 4)


@pytest.mark.parametrize(
    ("fmt", "dtype", "values"),
    [
        (2, ">i4", [-5, 0, 7, 2**31 - 1]),
        (3, ">i2", [-300, 0, 1, 32767]),
        (5, ">f4", [-1.5, 0.0, 2.25, 1e6]),
        (6, ">f8", [-1.5, 0.0, 2.25, 1e100]),
        (8, ">i1", [-128, 0, 1, 127]),
        (11, ">u2", [0, 1, 2, 65535]),
    ],
)
def test_ieee_and_integer_formats(fmt: int, dtype: str, values: list[float]) -> None:
    size = np.dtype(dtype).itemsize
    words = np.array(values, dtype=dtype).tobytes()
    data = ebcdic_text("C 1 X") + binary(fmt=fmt) + trace(1, 1, 0, 0, 1, words) + trace(1, 2, 0, 0, 1, words)
    summary = segy.read_segy(io.BytesIO(data))
    assert summary.trace_length == 240 + 4 * size
    assert summary.trace_count == 2
    assert summary.amplitudes.min == min(values)
    assert summary.amplitudes.max == max(values)


def test_little_endian_rev2_with_byte_order_mark() -> None:
    words = np.array([1.0, 2.0, 3.0, 4.0], dtype="<f4").tobytes()
    data = (
        ascii_text("C 1 LE")
        + binary(fmt=5, rev=(2, 0), declared=2, order="<")
        + trace(5, 6, 10, 20, 1, words, order="<")
        + trace(5, 7, 10, 20, 1, words, order="<")
    )
    summary = segy.read_segy(io.BytesIO(data))
    assert summary.binary.byte_order == "<"
    assert summary.binary.revision == "2.0"
    assert summary.inline_range == (5, 5)
    assert summary.amplitudes.max == 4.0


def test_extended_textual_headers_are_read_when_declared() -> None:
    stanza = "((SEG: Location Data ver 1.0)) Datum: WGS 84 EPSG:4326".ljust(3200).encode("cp037")
    words = ibm_trace_words(0x41100000, 0, 0, 0)
    data = ebcdic_text("C 1 EXT") + binary(ext=1) + stanza + trace(1, 1, 0, 0, 1, words)
    summary = segy.read_segy(io.BytesIO(data))
    assert summary.trace_count == 1
    assert summary.extended_textual[0].startswith("((SEG: Location Data")


def test_variable_extended_headers_end_at_endtext() -> None:
    first = "((SEG: Location Data)) EPSG:32631".ljust(3200).encode("cp037")
    last = "((SEG: EndText))".ljust(3200).encode("cp037")
    words = ibm_trace_words(0, 0, 0, 0)
    data = ebcdic_text("C 1") + binary(ext=-1) + first + last + trace(1, 1, 0, 0, 1, words)
    summary = segy.read_segy(io.BytesIO(data))
    assert len(summary.extended_textual) == 2
    assert summary.trace_count == 1


def test_only_sampled_traces_are_read() -> None:
    buf = io.BytesIO()
    size = samples.write_segy(buf, inlines=range(1, 101), crosslines=range(1, 101), samples=500)
    summary = segy.read_segy(io.BytesIO(buf.getvalue()), sampled_traces=16)
    assert summary.trace_count == 10_000
    assert summary.sampled_traces == 16
    assert summary.bytes_read == 3600 + 16 * (240 + 500 * 4)
    assert summary.bytes_read < size / 100
    assert summary.inline_range == (1, 100)  # first and last traces are always sampled


def test_sample_indices_spread_and_include_the_ends() -> None:
    assert segy.sample_indices(5, 10) == [0, 1, 2, 3, 4]
    picked = segy.sample_indices(1000, 5)
    assert picked[0] == 0 and picked[-1] == 999 and len(picked) == 5


# -- broken files --------------------------------------------------------------------------------


def test_truncated_in_the_headers() -> None:
    with pytest.raises(segy.SegyTruncatedError) as caught:
        segy.read_segy(io.BytesIO(small_survey()[:3000]))
    assert caught.value.details["offset"] == 3000


def test_truncated_trace_is_a_size_mismatch_naming_the_offset() -> None:
    data = small_survey()[:-10]
    with pytest.raises(segy.SegySizeMismatchError) as caught:
        segy.read_segy(io.BytesIO(data))
    assert caught.value.details["extra_bytes"] == 256 - 10
    assert caught.value.details["offset"] == 3600 + 5 * 256
    assert "5 traces and 246 bytes over" in caught.value.reason


def test_declared_rev2_trace_count_must_agree() -> None:
    words = ibm_trace_words(0, 0, 0, 0)
    data = ebcdic_text("C 1") + binary(rev=(2, 0), declared=3) + trace(1, 1, 0, 0, 1, words)
    with pytest.raises(segy.SegySizeMismatchError, match="declare 3 traces"):
        segy.read_segy(io.BytesIO(data))


def test_trace_sample_count_must_match_the_binary_header() -> None:
    words = ibm_trace_words(0, 0, 0, 0)
    data = ebcdic_text("C 1") + binary() + trace(1, 1, 0, 0, 1, words, samples=9)
    with pytest.raises(segy.SegyHeaderError, match=r"trace 0 .* declares 9 samples") as caught:
        segy.read_segy(io.BytesIO(data))
    assert caught.value.details["trace"] == 0


def test_bad_format_code() -> None:
    data = ebcdic_text("C 1") + binary(fmt=4) + trace(1, 1, 0, 0, 1, b"\0" * 16)
    with pytest.raises(segy.SegyHeaderError, match="format code 4") as caught:
        segy.read_segy(io.BytesIO(data))
    assert caught.value.details["offset"] == 3224


def test_zero_samples_per_trace() -> None:
    with pytest.raises(segy.SegyHeaderError, match="samples per trace is 0"):
        segy.read_segy(io.BytesIO(ebcdic_text("C 1") + binary(samples=0) + b"\0" * 240))


def test_not_text_in_the_textual_header() -> None:
    rng = np.random.default_rng(1)
    junk = rng.integers(0, 256, 3200, dtype=np.uint8).tobytes().replace(b"C", b"\x01")
    with pytest.raises(segy.SegyHeaderError, match="neither EBCDIC nor ASCII"):
        segy.read_segy(io.BytesIO(junk + binary() + trace(1, 1, 0, 0, 1, b"\0" * 16)))


def test_missing_endtext_stanza() -> None:
    data = ebcdic_text("C 1") + binary(ext=-1) + "no end".ljust(3200).encode("cp037")
    with pytest.raises(segy.SegyError):
        segy.read_segy(io.BytesIO(data))


def test_zero_sample_interval_everywhere() -> None:
    h = bytearray(trace(1, 1, 0, 0, 1, b"\0" * 16))
    struct.pack_into(">H", h, 116, 0)
    with pytest.raises(segy.SegyHeaderError, match="sample interval is 0"):
        segy.read_segy(io.BytesIO(ebcdic_text("C 1") + binary(interval=0) + bytes(h)))


def test_sample_writer_round_trips_through_the_reader() -> None:
    for fmt in (1, 3, 5):
        buf = io.BytesIO()
        samples.write_segy(buf, inlines=range(1, 4), crosslines=range(1, 5), samples=50, format_code=fmt)
        summary = segy.read_segy(io.BytesIO(buf.getvalue()))
        assert summary.trace_count == 12
        assert summary.crossline_range == (1, 4)
        assert summary.x_range == (431000.0, 431037.5)
