"""MP4 probe on generated containers (moov first or last, 64-bit sizes, version 1) and broken ones."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import PatternError
from shared.formats.mp4 import (
    MAX_MOOV_BOXES,
    MAX_TOP_LEVEL_BOXES,
    MediaError,
    VideoInfo,
    probe,
    probe_bytes,
    sample_times,
)
from shared.formats.samples.video import box, full_box, write_mp4

LAYOUTS = [
    {"moov_first": True},
    {"moov_first": False},
    {"moov_first": False, "large_sizes": True},
    {"moov_first": True, "large_sizes": True, "version": 1},
    {"moov_first": False, "version": 1, "with_audio": True},
]


@pytest.mark.parametrize(
    "layout", LAYOUTS, ids=lambda layout: "-".join(f"{k}={v}" for k, v in layout.items())
)
@settings(max_examples=15, deadline=None)
@given(
    duration=st.floats(0.5, 60),
    fps=st.sampled_from([10.0, 12.5, 24.0, 25.0, 29.97, 30.0, 59.94, 60.0]),
    width=st.integers(16, 7680),
    height=st.integers(16, 4320),
)
def test_probe_reads_what_was_written(
    layout: dict[str, bool | int], duration: float, fps: float, width: int, height: int
) -> None:
    data = write_mp4(duration, fps, width, height, **layout)  # type: ignore[arg-type]
    info = probe_bytes(data)
    frames = round(duration * fps)
    assert info.frame_count == frames
    assert info.width == width
    assert info.height == height
    assert info.codec == "avc1"
    assert info.codec_family == "h264"
    assert info.fps == pytest.approx(fps, rel=1e-6)
    assert info.duration_s == pytest.approx(round(duration * 1000) / 1000, abs=1e-6)


@pytest.mark.parametrize("moov_first", [True, False])
def test_never_reads_media_data(moov_first: bool) -> None:
    data = write_mp4(4.0, 30.0, 640, 480, moov_first=moov_first, sample_size=50_000)
    mdat = data.find(b"mdat") - 4
    mdat_end = mdat + struct.unpack_from(">I", data, mdat)[0]
    reads: list[tuple[int, int]] = []

    def read_range(offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return data[offset : offset + length]

    info = probe(read_range, len(data))
    assert info.frame_count == 120
    for offset, length in reads:
        assert offset + length <= mdat + 16 or offset >= mdat_end, (offset, length)
    assert sum(length for _, length in reads) < 5_000 < len(data)


def test_codec_and_other_sample_entries() -> None:
    info = probe_bytes(write_mp4(1.0, 25.0, 320, 240, codec="hvc1"))
    assert info.codec == "hvc1"
    assert info.to_dict() == {
        "duration_s": 1.0,
        "fps": 25.0,
        "width": 320,
        "height": 240,
        "frame_count": 25,
        "codec": "hvc1",
        "codec_family": "hevc",
    }


@pytest.mark.parametrize(
    ("fourcc", "family"),
    [
        ("avc1", "h264"),
        ("avc3", "h264"),
        ("hev1", "hevc"),
        ("dvh1", "hevc"),
        ("av01", "av1"),
        ("vp09", "vp9"),
        ("vp08", "vp8"),
        ("mp4v", "mpeg4"),
        ("apch", "prores"),
        ("ap4h", "prores"),
        ("vvc1", "vvc"),
        ("mjpg", "unknown"),
    ],
)
def test_codec_family_is_named_beside_the_fourcc(fourcc: str, family: str) -> None:
    info = probe_bytes(write_mp4(1.0, 25.0, 320, 240, codec=fourcc))
    assert (info.codec, info.codec_family) == (fourcc, family)


def test_box_of_size_zero_runs_to_the_end() -> None:
    data = write_mp4(2.0, 30.0, 100, 100, moov_first=False)
    moov = data.rfind(b"moov") - 4
    patched = data[:moov] + struct.pack(">I", 0) + data[moov + 4 :]
    assert probe_bytes(patched).frame_count == 60


def _replace_box(data: bytes, kind: bytes, payload: bytes) -> bytes:
    """Swap the payload of the first box ``kind`` (which must be at top level of moov's tree)."""
    start = data.find(kind) - 4
    size = struct.unpack_from(">I", data, start)[0]
    return data[:start] + box(kind, payload) + data[start + size :]


@pytest.mark.parametrize("cut_fraction", [0.0, 0.001, 0.01, 0.3, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("moov_first", [True, False])
def test_truncated_files(cut_fraction: float, moov_first: bool) -> None:
    data = write_mp4(2.0, 30.0, 640, 360, moov_first=moov_first)
    with pytest.raises(MediaError) as caught:
        probe_bytes(data[: int(len(data) * cut_fraction)])
    assert caught.value.reason
    assert isinstance(caught.value, PatternError)


@settings(max_examples=150, deadline=None)
@given(position=st.floats(0, 1), value=st.integers(0, 255), moov_first=st.booleans())
def test_corrupted_bytes_fail_cleanly(position: float, value: int, moov_first: bool) -> None:
    data = bytearray(write_mp4(1.0, 30.0, 64, 64, moov_first=moov_first, sample_size=4))
    data[int(position * (len(data) - 1))] = value
    reason = "parsed"
    try:
        probe_bytes(bytes(data))
    except MediaError as error:
        reason = error.reason
    assert reason


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300))
def test_garbage_is_a_media_error(data: bytes) -> None:
    with pytest.raises(MediaError) as caught:
        probe_bytes(data)
    assert caught.value.reason


def test_specific_malformations() -> None:
    ftyp = box(b"ftyp", b"isom" + bytes(4))
    with pytest.raises(MediaError, match="too small"):
        probe_bytes(b"abc")
    with pytest.raises(MediaError, match="no moov box among top-level boxes \\['ftyp', 'free'\\]"):
        probe_bytes(ftyp + box(b"free", bytes(10)))
    with pytest.raises(MediaError, match="invalid box type"):
        probe_bytes(ftyp + struct.pack(">I", 12) + b"\x00\x01\x02\x03" + bytes(4))
    with pytest.raises(MediaError, match="claims 4 bytes"):
        probe_bytes(ftyp + struct.pack(">I4s", 4, b"free"))
    with pytest.raises(MediaError, match="stray bytes"):
        probe_bytes(ftyp + b"abc")
    with pytest.raises(MediaError, match="64-bit size"):
        probe_bytes(struct.pack(">I4sI", 1, b"mdat", 0))
    with pytest.raises(MediaError, match="no video track among 0"):
        probe_bytes(ftyp + box(b"moov", full_box(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, 1000, 1000))))
    with pytest.raises(MediaError, match="version 2"):
        probe_bytes(ftyp + box(b"moov", full_box(b"mvhd", 2, 0, bytes(100))))


def test_audio_only_and_zero_timescale() -> None:
    data = write_mp4(1.0, 30.0, 64, 64, with_audio=True)
    no_video = data.replace(b"vide", b"text")
    with pytest.raises(MediaError, match="no video track among 2"):
        probe_bytes(no_video)
    mdhd = data.rfind(b"mdhd")  # the video track's media header comes last
    zero = data[: mdhd + 4 + 12] + bytes(4) + data[mdhd + 4 + 16 :]
    with pytest.raises(MediaError, match="zero timescale"):
        probe_bytes(zero)


def test_short_reads_are_reported() -> None:
    data = write_mp4(1.0, 30.0, 64, 64, moov_first=False)
    with pytest.raises(MediaError, match="file truncated"):
        probe(lambda offset, length: data[offset : offset + length // 2], len(data))
    with pytest.raises(MediaError, match="file truncated"):
        probe(lambda offset, length: data[offset : offset + length], len(data) + 100)
    # Once the movie is read, padding after the last box is tolerated; a cut box is not.
    first = write_mp4(1.0, 30.0, 64, 64, moov_first=False)
    assert probe_bytes(first + b"xyz").frame_count == 30
    assert probe_bytes(first + bytes(64)).frame_count == 30
    with pytest.raises(MediaError, match="claims 100 bytes"):
        probe_bytes(first + struct.pack(">I4s", 100, b"free") + bytes(10))


def test_oversized_stts_is_rejected() -> None:
    data = write_mp4(1.0, 30.0, 64, 64)
    stts = data.find(b"stts")
    broken = data[: stts + 8] + struct.pack(">I", 10_000) + data[stts + 12 :]
    with pytest.raises(MediaError, match="stts announces 10000 entries"):
        probe_bytes(broken)


def test_sample_times() -> None:
    info = VideoInfo(duration_s=10.0, fps=30.0, width=1, height=1, frame_count=300, codec="avc1")
    times = sample_times(info, 5)
    assert times == [1.0, 3.0, 5.0, 7.0, 9.0]
    assert sample_times(info, 0) == []
    short = VideoInfo(duration_s=0.1, fps=30.0, width=1, height=1, frame_count=3, codec="avc1")
    assert len(sample_times(short, 10)) == 3
    assert sample_times(VideoInfo(0.0, 0.0, 0, 0, 0, ""), 3) == []


@settings(max_examples=100, deadline=None)
@given(
    duration=st.floats(0.01, 36_000),
    fps=st.floats(1, 240),
    n=st.integers(1, 200),
)
def test_sample_times_properties(duration: float, fps: float, n: int) -> None:
    frames = max(1, round(duration * fps))
    info = VideoInfo(duration_s=duration, fps=fps, width=1, height=1, frame_count=frames, codec="avc1")
    times = sample_times(info, n)
    assert len(times) == min(n, frames)
    assert times == sorted(times)
    assert all(0 <= t <= duration for t in times)
    # Each time is the start of a frame.
    assert all(abs(t * fps - round(t * fps)) < 1e-3 for t in times)


def test_the_probe_stops_after_max_top_level_boxes() -> None:
    # A valid file followed by many tiny free boxes: each would cost one ranged read.
    data = write_mp4(1.0, 30.0, 64, 64, moov_first=False)
    padded = box(b"free", b"") * (MAX_TOP_LEVEL_BOXES + 1) + data
    reads: list[int] = []

    def read_range(offset: int, length: int) -> bytes:
        reads.append(offset)
        return padded[offset : offset + length]

    with pytest.raises(MediaError, match=f"MAX_TOP_LEVEL_BOXES={MAX_TOP_LEVEL_BOXES}"):
        probe(read_range, len(padded))
    assert len(reads) == MAX_TOP_LEVEL_BOXES + 1
    # Just under the cap the same file is read.
    fits = box(b"free", b"") * (MAX_TOP_LEVEL_BOXES - 10) + data
    assert probe_bytes(fits).frame_count == 30


def test_the_probe_stops_after_max_moov_boxes() -> None:
    data = write_mp4(1.0, 30.0, 64, 64, moov_first=True)
    moov = data.find(b"moov") - 4
    size = struct.unpack_from(">I", data, moov)[0]
    flood = box(b"moov", box(b"free", b"") * (MAX_MOOV_BOXES + 1) + data[moov + 8 : moov + size])
    with pytest.raises(MediaError, match=f"MAX_MOOV_BOXES={MAX_MOOV_BOXES}"):
        probe_bytes(data[:moov] + flood + data[moov + size :])
