"""Every reader round-trips clouds written in every format, and rejects corrupt or truncated input."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shared.errors import PatternError
from shared.formats.pointcloud import (
    FORMATS,
    PointCloud,
    PointCloudError,
    UnknownFormatError,
    detect_format,
    lzf,
    read,
)
from shared.formats.pointcloud import readers as readers_module
from shared.formats.samples import pointclouds as samples

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (variant name, format, writer, exact): exact writers keep float bits; LAS stores 1 mm integers.
Writer = Callable[[PointCloud], bytes]
VARIANTS: list[tuple[str, str, Writer, bool]] = [
    ("pcd-ascii", "pcd", lambda c: samples.write_pcd(c, "ascii"), True),
    ("pcd-binary", "pcd", lambda c: samples.write_pcd(c, "binary"), True),
    ("pcd-binary-compressed", "pcd", lambda c: samples.write_pcd(c, "binary_compressed"), True),
    ("las-1.2", "las", lambda c: samples.write_las(c, "1.2"), False),
    ("las-1.4", "las", lambda c: samples.write_las(c, "1.4"), False),
    ("laz-1.2", "laz", lambda c: samples.write_las(c, "1.2", compressed=True), False),
    ("laz-1.4", "laz", lambda c: samples.write_las(c, "1.4", compressed=True), False),
    ("ply-binary", "ply", lambda c: samples.write_ply(c, binary=True), True),
    ("ply-ascii", "ply", lambda c: samples.write_ply(c, binary=False), True),
    ("kitti-bin", "bin", samples.write_bin, True),
]
TEXT_VARIANTS = {"pcd-ascii", "ply-ascii"}


@st.composite
def clouds(draw: st.DrawFn, *, finite: bool = False, max_points: int = 200) -> PointCloud:
    """Float32 clouds with integral intensity, optionally with NaN/Inf coordinates."""
    n = draw(st.integers(0, max_points))
    elements = st.floats(-1e5, 1e5, width=32, allow_nan=False, allow_infinity=False)
    if not finite:
        elements = st.one_of(elements, st.sampled_from([float("nan"), float("inf"), float("-inf")]))
    xyz = draw(hnp.arrays(np.float32, (n, 3), elements=elements))
    intensity = draw(hnp.arrays(np.float32, (n,), elements=st.integers(0, 65535).map(float)))
    return PointCloud(xyz=xyz, intensity=intensity, format="bin")


def _variant(name: str) -> tuple[str, Writer, bool]:
    for variant, fmt, writer, exact in VARIANTS:
        if variant == name:
            return fmt, writer, exact
    raise KeyError(name)


def _assert_same(result: PointCloud, cloud: PointCloud, exact: bool) -> None:
    assert result.count == cloud.count
    assert result.xyz.shape == (cloud.count, 3)
    if exact:
        np.testing.assert_array_equal(result.xyz, cloud.xyz)
        assert result.xyz.dtype == cloud.xyz.dtype
    else:
        np.testing.assert_allclose(result.xyz, cloud.xyz.astype(np.float64), rtol=0, atol=0.0005 + 0.02)
    assert result.intensity is not None
    assert cloud.intensity is not None
    np.testing.assert_array_equal(result.intensity.astype(np.float64), cloud.intensity.astype(np.float64))


@pytest.mark.parametrize("variant", [v[0] for v in VARIANTS])
@FAST
@given(data=st.data())
def test_round_trip(variant: str, data: st.DataObject) -> None:
    fmt, writer, exact = _variant(variant)
    cloud = data.draw(clouds(finite=not exact))
    result = read(writer(cloud), fmt)
    assert result.format == fmt
    _assert_same(result, cloud, exact)


def test_las_keeps_millimetres() -> None:
    """The 0.02 m slack above is float32 input precision; LAS itself is exact to half a millimetre."""
    xyz = np.array([[1.0, 2.0, 3.0], [1.2345, -7.0004, 0.5]], dtype=np.float64)
    cloud = PointCloud(xyz=xyz, intensity=np.array([0, 65535], dtype=np.uint16), format="las")
    for compressed in (False, True):
        result = read(samples.write_las(cloud, "1.4", compressed=compressed), "laz" if compressed else "las")
        np.testing.assert_allclose(result.xyz, xyz, atol=0.0005 + 1e-9)
        assert result.xyz.dtype == np.float64
        assert result.intensity is not None
        assert result.intensity.tolist() == [0, 65535]


@pytest.mark.parametrize(
    "variant", ["pcd-binary", "pcd-ascii", "pcd-binary-compressed", "ply-binary", "ply-ascii"]
)
def test_float64_and_no_intensity(variant: str) -> None:
    fmt, writer, _ = _variant(variant)
    xyz = np.random.default_rng(1).normal(size=(50, 3)) * 1e3
    cloud = PointCloud(xyz=xyz, intensity=None, format=fmt)
    result = read(writer(cloud), fmt)
    assert result.intensity is None
    assert result.xyz.dtype == np.float64
    np.testing.assert_array_equal(result.xyz, xyz)


@pytest.mark.parametrize("variant", [v[0] for v in VARIANTS])
def test_reads_from_path_and_memoryview(variant: str, tmp_path: Path) -> None:
    fmt, writer, exact = _variant(variant)
    cloud = samples.synthetic_scene(2000, seed=4)
    data = writer(cloud)
    path = tmp_path / f"scan.{fmt}"
    path.write_bytes(data)
    _assert_same(read(path, fmt), cloud, exact)
    _assert_same(read(str(path), detect_format(str(path))), cloud, exact)
    _assert_same(read(memoryview(data), fmt), cloud, exact)


def _truncation_points(variant: str, data: bytes, cloud: PointCloud) -> tuple[int, int]:
    """The range of cut lengths that must be rejected."""
    if variant in TEXT_VARIANTS:
        # Cutting inside the last text row can leave a shorter but well-formed number, so only cuts
        # that remove at least one whole row are guaranteed to be detectable.
        last_row = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        return 0, len(data) - len(last_row) - 2
    return 0, len(data) - 1


@pytest.mark.parametrize("variant", [v[0] for v in VARIANTS])
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), fraction=st.floats(0, 1))
def test_truncated_input_is_rejected(variant: str, seed: int, fraction: float) -> None:
    fmt, writer, _ = _variant(variant)
    cloud = samples.synthetic_scene(64, seed=seed)
    data = writer(cloud)
    low, high = _truncation_points(variant, data, cloud)
    cut = low + int(fraction * (high - low))
    if fmt == "bin" and cut % 16 == 0:
        cut += 1  # a headerless KITTI scan cut at a point boundary is a valid, shorter scan
    with pytest.raises(PointCloudError) as caught:
        read(data[:cut], fmt)
    assert caught.value.reason
    assert isinstance(caught.value, PatternError)


@pytest.mark.parametrize("fmt", sorted(set(FORMATS.values())))
@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=600))
def test_garbage_never_escapes_as_another_error(fmt: str, data: bytes) -> None:
    reason = ""
    try:
        result = read(data, fmt)
    except PointCloudError as error:
        reason = error.reason
    else:
        assert result.xyz.shape[1] == 3
        reason = "parsed"
    assert reason


@pytest.mark.parametrize("variant", [v[0] for v in VARIANTS])
@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    positions=st.lists(st.floats(0, 1), min_size=1, max_size=4),
    value=st.binary(min_size=1, max_size=1),
)
def test_corrupted_bytes_fail_cleanly(variant: str, seed: int, positions: list[float], value: bytes) -> None:
    """Flipped bytes anywhere (headers included) either still parse or raise PointCloudError."""
    fmt, writer, _ = _variant(variant)
    data = bytearray(writer(samples.synthetic_scene(40, seed=seed)))
    for position in positions:
        data[int(position * (len(data) - 1))] = value[0]
    reason = ""
    try:
        result = read(bytes(data), fmt)
    except PointCloudError as error:
        reason = error.reason
    else:
        assert result.count == result.xyz.shape[0]
        reason = "parsed"
    assert reason


# ------------------------------------------------------------------------ specific malformed inputs

PCD_HEADER = b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 2\nHEIGHT 1\nPOINTS 2\n"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"VERSION 0.7\nSIZE 4 4 4\nTYPE F F F\nWIDTH 1\nDATA ascii\n1 2 3\n", "lacks the FIELDS"),
        (PCD_HEADER + b"DATA lzma\n", "DATA 'lzma'"),
        (
            PCD_HEADER.replace(b"FIELDS x y z", b"FIELDS x y w") + b"DATA ascii\n1 2 3\n4 5 6\n",
            "no 'z' field",
        ),
        (PCD_HEADER.replace(b"SIZE 4 4 4", b"SIZE 4 4") + b"DATA ascii\n", "3 FIELDS but 2 SIZE"),
        (PCD_HEADER.replace(b"TYPE F F F", b"TYPE F F X") + b"DATA ascii\n", "type X4"),
        (PCD_HEADER.replace(b"WIDTH 2", b"WIDTH two") + b"DATA ascii\n", "non-numeric"),
        (PCD_HEADER + b"DATA ascii\n1 2 3\n4 5 six\n", "non-numeric value"),
        (PCD_HEADER + b"DATA ascii\n1 2 3\n4 5\n", "line 11: expected 3 values"),
        (PCD_HEADER + b"DATA binary\n" + bytes(23), "need 24 bytes, 23 present"),
        (PCD_HEADER + b"DATA binary_compressed\n" + struct.pack("<II", 4, 25) + bytes(4), "need 24"),
        (PCD_HEADER + b"DATA binary_compressed\n" + struct.pack("<II", 40, 24) + bytes(4), "truncated"),
        (
            PCD_HEADER + b"DATA binary_compressed\n" + struct.pack("<II", 2, 24) + b"\x20\x00",
            "before the start",
        ),
        (PCD_HEADER, "no 'DATA' line"),
        (b"\xff\xfe" + PCD_HEADER + b"DATA ascii\n", "non-ASCII"),
    ],
)
def test_pcd_malformed(data: bytes, reason: str) -> None:
    with pytest.raises(PointCloudError, match=reason):
        read(data, "pcd")


def test_pcd_padding_fields_counts_and_v06_header() -> None:
    """PCL pads records with '_' fields and may use COUNT > 1; the reader skips both correctly."""
    header = (
        b"FIELDS x y z _ rgb _ intensity\nSIZE 4 4 4 1 4 1 2\nTYPE F F F U U U U\nCOUNT 1 1 1 4 1 4 2\n"
        b"WIDTH 3\nPOINTS 3\nDATA binary\n"
    )
    dtype = np.dtype(
        [
            ("x", "<f4"),
            ("y", "<f4"),
            ("z", "<f4"),
            ("p", "u1", 4),
            ("rgb", "<u4"),
            ("q", "u1", 4),
            ("i", "<u2", 2),
        ]
    )
    rows = np.zeros(3, dtype=dtype)
    rows["x"], rows["y"], rows["z"] = [1, 2, 3], [4, 5, 6], [7, 8, 9]
    rows["i"][:, 0] = [10, 20, 30]
    result = read(header + rows.tobytes(), "pcd")
    np.testing.assert_array_equal(result.xyz, [[1, 4, 7], [2, 5, 8], [3, 6, 9]])
    assert result.intensity is not None
    assert result.intensity.tolist() == [10, 20, 30]


def _ply(fmt: str, body: bytes, extra: str = "") -> bytes:
    header = (
        f"ply\nformat {fmt} 1.0\n{extra}element vertex 2\n"
        "property float x\nproperty float y\nproperty float z\n"
    )
    return (header + "end_header\n").encode() + body


def test_ply_big_endian_and_elements_around_vertex() -> None:
    xyz = np.array([[1, 2, 3], [4, 5, 6]], dtype=">f4")
    big = _ply("binary_big_endian", xyz.tobytes())
    np.testing.assert_array_equal(read(big, "ply").xyz, xyz.astype(np.float32))
    # A fixed-size element before the vertices and a face list after them.
    header = (
        b"ply\nformat binary_little_endian 1.0\nelement camera 1\nproperty double scale\n"
        b"element vertex 2\nproperty float x\nproperty float y\nproperty float z\nproperty uchar intensity\n"
        b"element face 1\nproperty list uchar int vertex_indices\nend_header\n"
    )
    rows = np.array(
        [(1, 2, 3, 7), (4, 5, 6, 9)], dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("i", "u1")]
    )
    face = struct.pack("<Biii", 3, 0, 1, 0)
    result = read(header + struct.pack("<d", 2.0) + rows.tobytes() + face, "ply")
    np.testing.assert_array_equal(result.xyz, [[1, 2, 3], [4, 5, 6]])
    assert result.intensity is not None
    assert result.intensity.tolist() == [7, 9]
    ascii_ply = (
        b"ply\nformat ascii 1.0\ncomment scan\nelement camera 1\nproperty float s\nelement vertex 1\n"
        b"property float x\nproperty float y\nproperty float z\nend_header\n0.5\n1 2 3\n"
    )
    np.testing.assert_array_equal(read(ascii_ply, "ply").xyz, [[1, 2, 3]])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"plx\n", "does not start with 'ply'"),
        (_ply("binary_middle_endian", b""), "format 'binary_middle_endian'"),
        (b"ply\nformat ascii 1.0\nelement face 1\nproperty float x\nend_header\n1\n", "no vertex element"),
        (_ply("ascii", b"").replace(b"property float z\n", b""), "no 'z' property"),
        (_ply("ascii", b"").replace(b"float z", b"quaternion z"), "not understood"),
        (_ply("ascii", b"").replace(b"vertex 2", b"vertex -2"), "negative count"),
        (_ply("ascii", b"1 2 3\n"), r"2 vertices declared \(element vertex\), 1 data rows present"),
        (_ply("ascii", b"1 2 3\n4 5\n"), "line 9: expected 3 values"),
        (_ply("ascii", b"1 2 3\n4 5 x\n"), "non-numeric"),
        (_ply("binary_little_endian", bytes(20)), "truncated"),
        (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\n", "no 'end_header'"),
        (
            b"ply\nformat binary_little_endian 1.0\nelement face 1\nproperty list uchar int v\n"
            b"element vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n",
            "before vertex has list properties",
        ),
        (b"ply\nformat ascii 1.0\nproperty float x\nend_header\n", "before any element"),
    ],
)
def test_ply_malformed(data: bytes, reason: str) -> None:
    with pytest.raises(PointCloudError, match=reason):
        read(data, "ply")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: b"LASX" + d[4:], "signature"),
        (lambda d: d[:24] + b"\x02\x00" + d[26:], "version 2.0"),
        (lambda d: d[:100], "shorter than a LAS header"),
        (lambda d: d[:300], "header truncated"),
        (lambda d: d[:-5], "point data truncated"),
        (lambda d: d[:96] + struct.pack("<I", len(d) + 10) + d[100:], "beyond the end"),
        (lambda d: d[:100] + struct.pack("<I", 1000) + d[104:], "VLRs"),
        (lambda d: d[:243] + struct.pack("<I", 7) + d[247:], "extended VLRs"),
        (lambda d: d[:247] + struct.pack("<Q", 2**40) + d[255:], "point data truncated"),
    ],
)
def test_las_malformed(mutate: Callable[[bytes], bytes], reason: str) -> None:
    data = samples.write_las(samples.synthetic_scene(100, seed=1), "1.4")
    with pytest.raises(PointCloudError, match=reason):
        read(mutate(data), "las")


def test_laz_truncated_and_bogus_count() -> None:
    data = samples.write_las(samples.synthetic_scene(3000, seed=2), "1.4", compressed=True)
    with pytest.raises(PointCloudError, match="LAZ"):
        read(data[: len(data) // 2], "laz")
    # An absurd point count must fail when the data runs out, not allocate for the count.
    bogus = data[:247] + struct.pack("<Q", 2**40) + data[255:]
    with pytest.raises(PointCloudError, match="LAZ"):
        read(bogus, "laz")


def test_kitti_bin_size_must_be_whole_points() -> None:
    with pytest.raises(PointCloudError, match="not a multiple of 16"):
        read(bytes(33), "bin")
    assert read(b"", "bin").count == 0


def test_missing_path_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(PointCloudError, match="cannot open"):
        read(tmp_path / "absent.pcd", "pcd")
    with pytest.raises(PointCloudError, match="cannot open"):
        read(tmp_path / "absent.las", "las")
    with pytest.raises(UnknownFormatError):
        read(b"", "xyz")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert read(empty, "bin").count == 0


@pytest.mark.parametrize(
    ("key", "fmt"),
    [("a/b/scan.PCD", "pcd"), ("x.las", "las"), ("x.LaZ", "laz"), ("d/x.ply", "ply"), ("000001.bin", "bin")],
)
def test_detect_format(key: str, fmt: str) -> None:
    assert detect_format(key) == fmt


@pytest.mark.parametrize("key", ["a.txt", "noext", "a.pcd.gz", "dir.pcd/file"])
def test_detect_format_rejects(key: str) -> None:
    with pytest.raises(UnknownFormatError, match="unsupported point cloud suffix"):
        detect_format(key)


def test_point_cloud_shape_checks() -> None:
    with pytest.raises(PointCloudError):
        PointCloud(xyz=np.zeros((3, 2)), intensity=None, format="bin")
    with pytest.raises(PointCloudError):
        PointCloud(xyz=np.zeros((3, 3)), intensity=np.zeros(2), format="bin")
    assert PointCloud(xyz=np.zeros((3, 3)), intensity=None, format="bin").count == 3


@settings(max_examples=80, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.lists(st.binary(min_size=1, max_size=8), max_size=60).map(
            lambda parts: b"".join(p * 40 for p in parts)
        ),
    )
)
def test_lzf_round_trip(data: bytes) -> None:
    """Repeated patterns exercise long and overlapping back references."""
    packed = lzf.compress(data)
    assert lzf.decompress(packed, len(data)) == data


# Streams written by hand from the LZF format (a control byte below 32 starts a literal run of
# ctrl + 1 bytes; otherwise its top 3 bits are length - 2, 7 meaning "add the next byte", and its low
# 5 bits with the following byte are distance - 1), so the decoder is checked against data no LZF
# library produced.
HAND_MADE_LZF = [
    (b"\x02abc", b"abc"),
    # "abc", then a short reference of 3 bytes from 3 back.
    (b"\x02abc\x20\x02", b"abcabc"),
    # An overlapping reference: 8 bytes from 1 back repeat the last byte.
    (b"\x00z\xc0\x00", b"z" * 9),
    # A long reference: length 7 + 255 + 2 = 264 bytes with period 2.
    (b"\x01xy\xe0\xff\x01", b"xy" * 133),
    # A distance of 8192 (the largest): 13 bits of distance - 1.
    (
        b"\x1f" + bytes(range(32)) + b"".join(b"\x1f" + bytes([i] * 32) for i in range(255)) + b"\x3f\xff",
        bytes(range(32)) + b"".join(bytes([i] * 32) for i in range(255)) + bytes(range(32))[:3],
    ),
]


@pytest.mark.parametrize(("packed", "plain"), HAND_MADE_LZF)
def test_lzf_decodes_hand_made_streams(packed: bytes, plain: bytes) -> None:
    assert lzf.decompress(packed, len(plain)) == plain


def test_lzf_round_trips_a_real_cloud() -> None:
    """Column-major fields of a synthetic scan as PCL lays them out: x, y, z, a ring number, padding."""
    cloud = samples.synthetic_scene(20_000, seed=3)
    ring = (np.arange(cloud.count) // 625).astype(np.uint16)
    raw = np.ascontiguousarray(cloud.xyz.T).tobytes() + ring.tobytes() + bytes(4 * cloud.count)
    packed = lzf.compress(raw)
    assert len(packed) < len(raw)
    assert lzf.decompress(packed, len(raw)) == raw


def test_lzf_rejects_wrong_size_and_corrupt_streams() -> None:
    packed = lzf.compress(b"abcabcabcabcabc")
    with pytest.raises(lzf.LzfError, match="decoded to 15 bytes, header announced 16"):
        lzf.decompress(packed, 16)
    with pytest.raises(lzf.LzfError, match="more than the 14 bytes announced"):
        lzf.decompress(packed, 14)
    with pytest.raises(lzf.LzfError, match="corrupt"):
        lzf.decompress(b"\x05ab", 6)  # a literal run cut short
    with pytest.raises(lzf.LzfError, match="corrupt"):
        lzf.decompress(b"\x00a\xe0", 20)  # a stream cut inside a back reference
    with pytest.raises(lzf.LzfError, match="corrupt"):
        lzf.decompress(b"\x00a\x20\x05", 4)  # a reference 6 bytes back, 1 byte written
    with pytest.raises(lzf.LzfError, match="corrupt"):
        lzf.decompress(packed[:-2], 15)
    assert lzf.decompress(b"", 0) == b""
    with pytest.raises(lzf.LzfError, match="cannot expand"):
        lzf.decompress(b"", 3)
    with pytest.raises(lzf.LzfError, match="empty block"):
        lzf.decompress(b"\x00a", 0)


def test_lzf_checks_the_announced_size_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_: object) -> bytes:
        raise AssertionError("the decoder ran")

    monkeypatch.setattr(lzf, "_decode", never)
    # 3 compressed bytes expand to at most 264 (one long back reference).
    with pytest.raises(lzf.LzfError, match="cannot expand to 265 bytes"):
        lzf.decompress(b"\x00a\xe0", 265)
    with pytest.raises(lzf.LzfError, match="above the limit of 1000 bytes"):
        lzf.decompress(bytes(100), 1001, limit=1000)
    assert lzf.MAX_DECOMPRESSED_BYTES >= 1 << 30


def test_pcd_compressed_size_is_checked_before_allocating() -> None:
    huge = PCD_HEADER.replace(b"WIDTH 2", b"WIDTH 30000000").replace(b"POINTS 2", b"POINTS 30000000")
    data = huge + b"DATA binary_compressed\n" + struct.pack("<II", 3, 360_000_000) + b"\x00a\xe0"
    with pytest.raises(PointCloudError, match="cannot expand"):
        read(data, "pcd")


# ------------------------------------------------------------- row-by-row text data, header checks

ASCII_PCD = PCD_HEADER + b"DATA ascii\n"  # 9 header lines: the first row is line 10


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # A short row followed by a long one: the token total matches, the rows do not.
        (b"1 2 3\n4 5 6 7\n8\n", r"line 11: expected 3 values \(one point\), found 4"),
        (b"1 2\n3 4 5 6\n", r"line 10: expected 3 values \(one point\), found 2"),
        (b"1 2 3\n4 5\n", r"line 11: expected 3 values \(one point\), found 2"),
        (b"1 2 3\n", r"2 points declared \(POINTS\), 1 data rows present"),
        (b"1 2 3\n4 5 6\n7 8 9\n", r"line 12: a data row beyond the 2 points declared \(POINTS\)"),
    ],
)
def test_pcd_ascii_rows_are_checked_one_by_one(body: bytes, reason: str) -> None:
    with pytest.raises(PointCloudError, match=reason):
        read(ASCII_PCD + body, "pcd")


def test_pcd_ascii_tolerates_blank_lines_crlf_and_tabs() -> None:
    cloud = read(ASCII_PCD + b"1\t2 3\r\n\n4  5 6\r\n\n", "pcd")
    np.testing.assert_array_equal(cloud.xyz, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize(
    ("header", "body", "reason"),
    [
        (
            PCD_HEADER.replace(b"POINTS 2", b"POINTS 3"),
            b"DATA ascii\n1 2 3\n4 5 6\n7 8 9\n",
            r"POINTS 3 but WIDTH 2 x HEIGHT 1 = 2",
        ),
        (
            PCD_HEADER.replace(b"HEIGHT 1", b"HEIGHT 2"),
            b"DATA ascii\n1 2 3\n4 5 6\n",
            r"POINTS 2 but WIDTH 2 x HEIGHT 2 = 4",
        ),
        (PCD_HEADER, b"DATA binary\n" + bytes(25), r"1 byte\(s\) after the 2 points of 12 bytes"),
        (
            PCD_HEADER,
            b"DATA binary_compressed\n" + struct.pack("<II", 2, 24) + b"\x00\x00\n",
            r"1 byte\(s\) after the 2 compressed bytes",
        ),
    ],
)
def test_pcd_header_cross_checks(header: bytes, body: bytes, reason: str) -> None:
    with pytest.raises(PointCloudError, match=reason):
        read(header + body, "pcd")


def test_pcd_organised_and_v06_headers_are_accepted() -> None:
    """An organised cloud (HEIGHT > 1) and a v0.6 header with POINTS but no WIDTH/HEIGHT."""
    organised = PCD_HEADER.replace(b"WIDTH 2", b"WIDTH 1").replace(b"HEIGHT 1", b"HEIGHT 2")
    np.testing.assert_array_equal(
        read(organised + b"DATA ascii\n1 2 3\n4 5 6\n", "pcd").xyz, [[1, 2, 3], [4, 5, 6]]
    )
    v06 = b"FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nPOINTS 1\nDATA ascii\n1 2 3\n"
    np.testing.assert_array_equal(read(v06, "pcd").xyz, [[1, 2, 3]])


def test_ply_ascii_rows_are_checked_one_by_one() -> None:
    # _ply's header has 7 lines, so the first vertex is line 8.
    with pytest.raises(PointCloudError, match=r"line 8: expected 3 values \(one vertex\), found 4"):
        read(_ply("ascii", b"1 2 3 9\n4 5\n"), "ply")
    with pytest.raises(PointCloudError, match=r"line 9: expected 3 values \(one vertex\), found 2"):
        read(_ply("ascii", b"1 2 3\n4 5\n"), "ply")
    # Rows of an element before the vertices (here a list, so of any length) are skipped by count.
    header = (
        b"ply\nformat ascii 1.0\nelement face 2\nproperty list uchar int vertex_indices\n"
        b"element vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n"
    )
    np.testing.assert_array_equal(read(header + b"3 0 1 2\n4 0 1 2 3\n7 8 9\n", "ply").xyz, [[7, 8, 9]])


@pytest.mark.parametrize("version", ["7.3", "1.1", "0.9", ""])
def test_ply_accepts_version_1_0_only(version: str) -> None:
    data = _ply("ascii", b"1 2 3\n4 5 6\n").replace(b"ascii 1.0", f"ascii {version}".strip().encode())
    with pytest.raises(PointCloudError, match="PLY version"):
        read(data, "ply")


def test_ascii_bodies_read_in_small_pieces_give_the_same_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces and row runs far smaller than the body: boundaries fall inside blank lines and rows."""
    rng = np.random.default_rng(3)
    points = np.round(rng.normal(size=(200, 3)), 4)
    lines = [f"{x} {y}\t{z}\r\n" + ("\n" if i % 7 == 0 else "") for i, (x, y, z) in enumerate(points)]
    data = ASCII_PCD.replace(b"WIDTH 2", b"WIDTH 200").replace(b"POINTS 2", b"POINTS 200")
    data += "".join(lines).encode()
    whole = read(data, "pcd")
    monkeypatch.setattr(readers_module, "ASCII_CHUNK_BYTES", 64)
    monkeypatch.setattr(readers_module, "ASCII_CHUNK_ROWS", 3)
    pieces = read(data, "pcd")
    np.testing.assert_array_equal(pieces.xyz, whole.xyz)
    np.testing.assert_allclose(pieces.xyz, points, rtol=1e-6)
    broken = data.splitlines(keepends=True)
    broken[110] = b"1 2\n"
    with pytest.raises(PointCloudError, match=r"line 111: expected 3 values \(one point\), found 2"):
        read(b"".join(broken), "pcd")
    with pytest.raises(PointCloudError, match="a line longer than 64 bytes"):
        read(ASCII_PCD + b"1 2 3 " + b" " * 100 + b"\n4 5 6\n", "pcd")
