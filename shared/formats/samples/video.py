"""A small but structurally real MP4 (ISO base media) file: the boxes a probe reads, fake samples.

The sample bytes are not decodable video; every box the container probe walks (ftyp, moov/mvhd,
trak/tkhd, mdia/mdhd/hdlr, minf/vmhd/dinf/stbl with stsd avc1, stts, stsc, stsz, stco/co64, mdat)
is laid out as the specification says, with real sizes, so the probe is tested on real structure.
"""

from __future__ import annotations

import logging
import struct

logger = logging.getLogger(__name__)

_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


def box(kind: bytes, payload: bytes, *, large: bool = False) -> bytes:
    """One box; ``large`` writes the 64-bit size form (size field 1, then a uint64)."""
    if large:
        return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind: bytes, version: int, flags: int, payload: bytes, *, large: bool = False) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags) + payload, large=large)


def _mvhd(version: int, timescale: int, duration: int) -> bytes:
    times = (
        struct.pack(">QQIQ", 0, 0, timescale, duration)
        if version
        else struct.pack(">IIII", 0, 0, timescale, duration)
    )
    rest = struct.pack(">IH10x", 0x00010000, 0x0100) + _MATRIX + bytes(24) + struct.pack(">I", 2)
    return full_box(b"mvhd", version, 0, times + rest)


def _tkhd(version: int, duration: int, width: int, height: int) -> bytes:
    if version:
        head = struct.pack(">QQIIQ", 0, 0, 1, 0, duration)
    else:
        head = struct.pack(">IIIII", 0, 0, 1, 0, duration)
    tail = (
        bytes(8) + struct.pack(">hhhH", 0, 0, 0, 0) + _MATRIX + struct.pack(">II", width << 16, height << 16)
    )
    return full_box(b"tkhd", version, 3, head + tail)


def _mdhd(version: int, timescale: int, duration: int) -> bytes:
    times = (
        struct.pack(">QQIQ", 0, 0, timescale, duration)
        if version
        else struct.pack(">IIII", 0, 0, timescale, duration)
    )
    return full_box(b"mdhd", version, 0, times + struct.pack(">HH", 0x55C4, 0))


def _stsd(codec: bytes, width: int, height: int) -> bytes:
    entry = (
        bytes(6)
        + struct.pack(">H", 1)  # data reference index
        + bytes(16)  # pre-defined and reserved
        + struct.pack(">HHIIIH", width, height, 0x00480000, 0x00480000, 0, 1)
        + bytes(32)  # compressor name
        + struct.pack(">Hh", 0x0018, -1)
    )
    return full_box(b"stsd", 0, 0, struct.pack(">I", 1) + box(codec, entry))


def write_mp4(
    duration_s: float = 2.0,
    fps: float = 30.0,
    width: int = 1280,
    height: int = 720,
    *,
    moov_first: bool = True,
    large_sizes: bool = False,
    version: int = 0,
    codec: str = "avc1",
    sample_size: int = 24,
    with_audio: bool = False,
) -> bytes:
    """An MP4 of ``round(duration_s * fps)`` fake samples.

    ``moov_first`` False puts moov after mdat (the layout of a recorder that writes the index on
    close); ``large_sizes`` writes mdat with a 64-bit size and offsets in co64; ``version`` 1 writes
    64-bit mvhd/tkhd/mdhd times.
    """
    frames = round(duration_s * fps)
    timescale = round(fps * 1000)
    delta = 1000
    media_duration = frames * delta
    movie_duration = round(duration_s * 1000)
    samples = bytes(sample_size * frames)
    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    mdat = box(b"mdat", samples, large=large_sizes)
    mdat_header = 16 if large_sizes else 8

    def moov(chunk_offset: int) -> bytes:
        if large_sizes:
            offsets = full_box(b"co64", 0, 0, struct.pack(">IQ", 1, chunk_offset))
        else:
            offsets = full_box(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset))
        stbl = box(
            b"stbl",
            _stsd(codec.encode("ascii"), width, height)
            + full_box(b"stts", 0, 0, struct.pack(">III", 1, frames, delta))
            + full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, frames, 1))
            + full_box(
                b"stsz",
                0,
                0,
                struct.pack(">II", 0, frames) + struct.pack(f">{frames}I", *([sample_size] * frames)),
            )
            + offsets,
        )
        dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1) + full_box(b"url ", 0, 1, b"")))
        minf = box(b"minf", full_box(b"vmhd", 0, 1, bytes(8)) + dinf + stbl)
        hdlr = full_box(b"hdlr", 0, 0, bytes(4) + b"vide" + bytes(12) + b"VideoHandler\x00")
        trak = box(
            b"trak",
            _tkhd(version, movie_duration, width, height)
            + box(b"mdia", _mdhd(version, timescale, media_duration) + hdlr + minf),
        )
        tracks = trak
        if with_audio:
            audio_hdlr = full_box(b"hdlr", 0, 0, bytes(4) + b"soun" + bytes(12) + b"SoundHandler\x00")
            audio_stbl = box(b"stbl", full_box(b"stsd", 0, 0, struct.pack(">I", 1) + box(b"mp4a", bytes(28))))
            audio = box(
                b"mdia",
                _mdhd(version, 48000, round(duration_s * 48000)) + audio_hdlr + box(b"minf", audio_stbl),
            )
            tracks = box(b"trak", _tkhd(version, movie_duration, 0, 0) + audio) + trak
        return box(b"moov", _mvhd(version, 1000, movie_duration) + tracks)

    if moov_first:
        size = len(moov(0))
        return ftyp + moov(len(ftyp) + size + mdat_header) + mdat
    return ftyp + mdat + moov(len(ftyp) + mdat_header)
