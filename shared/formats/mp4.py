"""MP4 / ISO base media (ISO/IEC 14496-12) container probe: duration, fps, resolution, frame count.

Only the box tree is read, through ranged reads: the top-level box headers (16 bytes each) and the
``moov`` box, wherever it sits (before or after ``mdat``). Media data is never read, so probing a
multi-gigabyte recording costs a few small GETs. Hand-written because the fields needed are a few
fixed offsets in five box types, and a general media library would pull native codecs into the
Lambda layer for no gain.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from shared.errors import PatternError

logger = logging.getLogger(__name__)

# moov holds the sample tables; even hour-long recordings keep it well under this.
MAX_MOOV_BYTES = 64 << 20
# How many boxes the probe follows. A top-level box costs one ranged read, so a file made of
# millions of tiny boxes (or a fragmented recording with a moof per second) would otherwise mean
# millions of requests; a real file has a handful (ftyp, moov, mdat, free). Inside moov each track
# holds about twenty boxes, so 10 000 leaves room for hundreds of tracks.
MAX_TOP_LEVEL_BOXES = 1_000
MAX_MOOV_BOXES = 10_000
_CONTAINERS = {b"trak", b"mdia", b"minf", b"stbl"}

ReadRange = Callable[[int, int], bytes]

# Sample entry FourCC -> codec family (ISO/IEC 14496-15 for AVC/HEVC/VVC, the AV1 and VP codec ISO
# bindings, ProRes's Apple FourCCs). Dolby Vision entries name the base layer's codec.
CODEC_FAMILIES: dict[str, str] = {
    **dict.fromkeys(("avc1", "avc2", "avc3", "avc4", "dvav", "dva1"), "h264"),
    **dict.fromkeys(("hvc1", "hev1", "dvh1", "dvhe"), "hevc"),
    **dict.fromkeys(("vvc1", "vvi1"), "vvc"),
    **dict.fromkeys(("av01", "dav1"), "av1"),
    "vp08": "vp8",
    "vp09": "vp9",
    "mp4v": "mpeg4",
    **dict.fromkeys(("s263", "h263"), "h263"),
    **dict.fromkeys(("apco", "apcs", "apcn", "apch", "ap4h", "ap4x"), "prores"),
}
UNKNOWN_CODEC = "unknown"


class MediaError(PatternError, ValueError):
    """The file is not a readable MP4 container (corrupt, truncated, or lacking a video track)."""


@dataclass(frozen=True)
class VideoInfo:
    """What the probe learned about the first video track."""

    duration_s: float
    fps: float
    width: int
    height: int
    frame_count: int
    codec: str

    @property
    def codec_family(self) -> str:
        """The codec family of the sample entry FourCC (``avc1`` -> ``h264``), or ``unknown``."""
        return CODEC_FAMILIES.get(self.codec, UNKNOWN_CODEC)

    def to_dict(self) -> dict[str, float | int | str]:
        return {
            "duration_s": self.duration_s,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "frame_count": self.frame_count,
            "codec": self.codec,
            "codec_family": self.codec_family,
        }


@dataclass
class _Track:
    handler: bytes = b""
    timescale: int = 0
    duration: int = 0
    codec: str = ""
    width: int = 0
    height: int = 0
    tkhd_width: int = 0
    tkhd_height: int = 0
    stts_count: int | None = None
    stts_ticks: int = 0
    stsz_count: int | None = None


def _unpack(fmt: str, buf: bytes, offset: int, end: int, what: str) -> tuple[int, ...]:
    size = struct.calcsize(fmt)
    if offset < 0 or offset + size > end:
        raise MediaError(f"{what} is truncated: needs {size} bytes at offset {offset}, box ends at {end}")
    return struct.unpack_from(fmt, buf, offset)


def _box_type(raw: bytes, offset: int) -> bytes:
    kind = raw[offset : offset + 4]
    if len(kind) != 4 or not all(32 <= c < 127 for c in kind):
        raise MediaError(f"invalid box type {kind!r} at offset {offset}: not an MP4 file, or corrupt")
    return kind


def _box_header(head: bytes, offset: int, room: int, where: str) -> tuple[bytes, int, int]:
    """(type, header length, box size) of the box at ``offset`` whose first (up to 16) bytes are ``head``.

    ``room`` is what ``where`` (the parent box, or the file) holds from ``offset`` on. A 32-bit
    size of 1 means a 64-bit size follows the type; 0 means the box runs to the end of ``where``.
    """
    (size32,) = struct.unpack_from(">I", head, 0)
    kind = _box_type(head, 4)
    header = 8
    if size32 == 1:
        if len(head) < 16:
            raise MediaError(f"box {kind!r} at offset {offset} is cut inside its 64-bit size")
        (size,) = struct.unpack_from(">Q", head, 8)
        header = 16
    elif size32 == 0:
        size = room
    else:
        size = size32
    if size < header or size > room:
        raise MediaError(
            f"box {kind.decode()!r} at offset {offset} claims {size} bytes; {where} has {room} left "
            "(truncated or corrupt)"
        )
    return kind, header, size


class _BoxCount:
    """Counts the boxes followed inside one moov and stops at :data:`MAX_MOOV_BOXES`."""

    def __init__(self) -> None:
        self.count = 0

    def take(self, offset: int) -> None:
        self.count += 1
        if self.count > MAX_MOOV_BOXES:
            raise MediaError(
                f"more than MAX_MOOV_BOXES={MAX_MOOV_BOXES} boxes inside moov (at offset {offset}): "
                "not a plausible movie header"
            )


def _children(buf: bytes, start: int, end: int, count: _BoxCount) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box in ``buf[start:end]``."""
    pos = start
    while pos < end:
        count.take(pos)
        if end - pos < 8:
            raise MediaError(f"{end - pos} stray bytes at offset {pos} where a box header should be")
        kind, header, size = _box_header(buf[pos : min(pos + 16, end)], pos, end - pos, "its parent")
        yield kind, pos + header, pos + size
        pos += size


def _full_box_version(buf: bytes, start: int, end: int, what: str) -> int:
    (version_flags,) = _unpack(">I", buf, start, end, what)
    version = version_flags >> 24
    if version > 1:
        raise MediaError(f"{what} version {version} is not supported")
    return version


def _time_header(buf: bytes, start: int, end: int, what: str) -> tuple[int, int]:
    """(timescale, duration) of an mvhd or mdhd box, version 0 (32-bit) or 1 (64-bit)."""
    if _full_box_version(buf, start, end, what) == 1:
        return _unpack(">QQIQ", buf, start + 4, end, what)[2:4]  # type: ignore[return-value]
    return _unpack(">IIII", buf, start + 4, end, what)[2:4]  # type: ignore[return-value]


def _parse_stbl_box(kind: bytes, buf: bytes, start: int, end: int, track: _Track) -> None:
    if kind == b"stsd":
        _full_box_version(buf, start, end, "stsd")
        (entries,) = _unpack(">I", buf, start + 4, end, "stsd")
        if entries:
            entry = start + 8
            (entry_size,) = _unpack(">I", buf, entry, end, "stsd entry")
            track.codec = _box_type(buf, entry + 4).decode("ascii")
            if track.handler == b"vide" or entry_size >= 36:
                # VisualSampleEntry: 8 header + 6 reserved + 2 index + 16 pre-defined, then width, height.
                width, height = _unpack(">HH", buf, entry + 32, end, "visual sample entry")
                track.width, track.height = width, height
    elif kind == b"stts":
        _full_box_version(buf, start, end, "stts")
        (entries,) = _unpack(">I", buf, start + 4, end, "stts")
        if start + 8 + 8 * entries > end:
            raise MediaError(f"stts announces {entries} entries but is only {end - start} bytes long")
        counts = struct.unpack_from(f">{2 * entries}I", buf, start + 8)
        track.stts_count = sum(counts[0::2])
        track.stts_ticks = sum(c * d for c, d in zip(counts[0::2], counts[1::2], strict=True))
    elif kind == b"stsz":
        _full_box_version(buf, start, end, "stsz")
        track.stsz_count = _unpack(">II", buf, start + 4, end, "stsz")[1]


def _parse_track(buf: bytes, start: int, end: int, track: _Track, count: _BoxCount) -> None:
    for kind, child_start, child_end in _children(buf, start, end, count):
        if kind in _CONTAINERS:
            _parse_track(buf, child_start, child_end, track, count)
        elif kind == b"tkhd":
            version = _full_box_version(buf, child_start, child_end, "tkhd")
            # Width and height are the last 8 bytes (16.16 fixed point) in both versions.
            offset = child_start + (88 if version == 1 else 76)
            w, h = _unpack(">II", buf, offset, child_end, "tkhd")
            track.tkhd_width, track.tkhd_height = w >> 16, h >> 16
        elif kind == b"mdhd":
            track.timescale, track.duration = _time_header(buf, child_start, child_end, "mdhd")
        elif kind == b"hdlr":
            track.handler = bytes(_unpack(">4s", buf, child_start + 8, child_end, "hdlr")[0])
        else:
            _parse_stbl_box(kind, buf, child_start, child_end, track)


def _video_info(moov: bytes) -> VideoInfo:
    movie_timescale = movie_duration = 0
    tracks: list[_Track] = []
    count = _BoxCount()
    for kind, start, end in _children(moov, 0, len(moov), count):
        if kind == b"mvhd":
            movie_timescale, movie_duration = _time_header(moov, start, end, "mvhd")
        elif kind == b"trak":
            track = _Track()
            _parse_track(moov, start, end, track, count)
            tracks.append(track)
    video = next((t for t in tracks if t.handler == b"vide"), None)
    if video is None:
        raise MediaError(f"no video track among {len(tracks)} track(s)")
    if video.timescale <= 0:
        raise MediaError("video track has no media header (mdhd) or a zero timescale")
    frames = video.stsz_count if video.stsz_count is not None else (video.stts_count or 0)
    media_ticks = video.duration or video.stts_ticks
    media_seconds = media_ticks / video.timescale
    if movie_timescale > 0 and movie_duration > 0:
        duration = movie_duration / movie_timescale
    else:
        duration = media_seconds
    fps = frames / media_seconds if media_seconds > 0 else 0.0
    return VideoInfo(
        duration_s=round(duration, 6),
        fps=round(fps, 6),
        width=video.width or video.tkhd_width,
        height=video.height or video.tkhd_height,
        frame_count=int(frames),
        codec=video.codec,
    )


def probe(read_range: ReadRange, size: int) -> VideoInfo:
    """Probe an MP4 of ``size`` bytes through ``read_range(offset, length) -> bytes``."""

    def fetch(offset: int, length: int) -> bytes:
        data = read_range(offset, length)
        if len(data) != length:
            raise MediaError(
                f"read of {length} bytes at offset {offset} returned {len(data)}: file truncated"
            )
        return data

    if size < 8:
        raise MediaError(f"{size} bytes is too small for an MP4 file")
    offset = 0
    seen: list[str] = []
    info: VideoInfo | None = None
    while offset < size:
        if size - offset < 8:
            if info is not None:
                logger.warning("ignoring %d stray bytes after the last box", size - offset)
                return info
            raise MediaError(f"{size - offset} stray bytes at offset {offset} after the last box")
        head = fetch(offset, min(16, size - offset))
        if info is not None and not all(32 <= c < 127 for c in head[4:8]):
            # Some writers pad the file after the last box; the movie is already read.
            logger.warning("ignoring %d bytes of padding after the last box", size - offset)
            return info
        kind, header, box_size = _box_header(head, offset, size - offset, "the file")
        seen.append(kind.decode())
        if len(seen) > MAX_TOP_LEVEL_BOXES:
            raise MediaError(
                f"more than MAX_TOP_LEVEL_BOXES={MAX_TOP_LEVEL_BOXES} top-level boxes (at offset "
                f"{offset}); each costs a ranged read, so the probe stops here"
            )
        if kind == b"moov" and info is None:
            if box_size - header > MAX_MOOV_BYTES:
                raise MediaError(f"moov box of {box_size} bytes exceeds the {MAX_MOOV_BYTES}-byte limit")
            info = _video_info(fetch(offset + header, box_size - header))
        # Keep walking the top-level headers after moov: a file cut inside mdat shows up as a box
        # claiming more bytes than remain, at the cost of one 16-byte read per box.
        offset += box_size
    if info is not None:
        return info
    raise MediaError(f"no moov box among top-level boxes {seen[:20]}: not a complete MP4 (or fragmented)")


def probe_bytes(data: bytes | memoryview) -> VideoInfo:
    """:func:`probe` over an in-memory file."""
    view = memoryview(data).cast("B")
    return probe(lambda offset, length: bytes(view[offset : offset + length]), len(view))


def sample_times(info: VideoInfo, n: int) -> list[float]:
    """``n`` timestamps (seconds) spread evenly over the video, each at the start of a frame.

    Picks the middle of ``n`` equal slices, so the first and last frames (often black or blurred)
    are avoided; never more timestamps than frames.
    """
    if n <= 0 or info.duration_s <= 0:
        return []
    count = min(n, info.frame_count) if info.frame_count > 0 else n
    times = []
    for index in range(count):
        t = (index + 0.5) * info.duration_s / count
        if info.fps > 0:
            t = int(t * info.fps) / info.fps
        times.append(round(t, 6))
    return times
