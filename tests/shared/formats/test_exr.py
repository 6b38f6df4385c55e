"""OpenEXR reader: files written by the OpenEXR library, headers hand-built from the spec, broken files.

The three files below were written by the ``OpenEXR`` Python bindings (``OpenEXR.File(header,
{"RGB": rgb}).write``) from a 16x12 image whose R channel ramps with x (``x / 15``), G with y
(``y / 11``) and B is 0.25 everywhere; they are independent of this project's writer.
"""

from __future__ import annotations

import base64
import io
import struct

import numpy as np
import pytest

from shared.formats import exr
from shared.formats.samples import exr as writer

ZIP_HALF_SCANLINE = base64.b64decode(
    "di8xAQIAAABjaGFubmVscwBjaGxpc3QANwAAAEIAAQAAAAAAAAABAAAAAQAAAEcAAQAAAAAAAAABAAAAAQAAAFIAAQAAAAAA"
    "AAABAAAAAQAAAABjb21wcmVzc2lvbgBjb21wcmVzc2lvbgABAAAAA2RhdGFXaW5kb3cAYm94MmkAEAAAAAAAAAAAAAAADwAA"
    "AAsAAABkaXNwbGF5V2luZG93AGJveDJpABAAAAAAAAAAAAAAAA8AAAALAAAAbGluZU9yZGVyAGxpbmVPcmRlcgABAAAAAHBp"
    "eGVsQXNwZWN0UmF0aW8AZmxvYXQABAAAAAAAgD9zY3JlZW5XaW5kb3dDZW50ZXIAdjJmAAgAAAAAAAAAAAAAAHNjcmVlbldp"
    "bmRvd1dpZHRoAGZsb2F0AAQAAAAAAIA/dHlwZQBzdHJpbmcADQAAAHNjYW5saW5laW1hZ2UAXgEAAAAAAAAAAAAAmQAAAHhe"
    "Y2ggAI40LIqbOHGiLycHGKJLB6Lx11NZ/V00vjIB9aSafwyNb0VAPanumY7GzySgnlT386DxvxBQT6p/MQCa+i1o0j5o/IY1"
    "LU1NjY2NjQ1g2FiBJl2Jxg8moL4Wje9PQD068CGgvhGN701AfTMa35OA+hY0vgcB9a1ofHcqq29D47sRUN+OxncloL4Dje+C"
    "ph4AGJMb2w=="
)

ZIPS_FLOAT_TILED = base64.b64decode(
    "di8xAQICAABjaGFubmVscwBjaGxpc3QANwAAAEIAAgAAAAAAAAABAAAAAQAAAEcAAgAAAAAAAAABAAAAAQAAAFIAAgAAAAAA"
    "AAABAAAAAQAAAABjb21wcmVzc2lvbgBjb21wcmVzc2lvbgABAAAAAmRhdGFXaW5kb3cAYm94MmkAEAAAAAAAAAAAAAAADwAA"
    "AAsAAABkaXNwbGF5V2luZG93AGJveDJpABAAAAAAAAAAAAAAAA8AAAALAAAAbGluZU9yZGVyAGxpbmVPcmRlcgABAAAAAHBp"
    "eGVsQXNwZWN0UmF0aW8AZmxvYXQABAAAAAAAgD9zY3JlZW5XaW5kb3dDZW50ZXIAdjJmAAgAAAAAAAAAAAAAAHNjcmVlbldp"
    "bmRvd1dpZHRoAGZsb2F0AAQAAAAAAIA/dGlsZXMAdGlsZWRlc2MACQAAAAgAAAAIAAAAAHR5cGUAc3RyaW5nAAoAAAB0aWxl"
    "ZGltYWdlAI8BAAAAAAAANAIAAAAAAADUAgAAAAAAAE4DAAAAAAAAAAAAAAAAAAAAAAAAAAAAAJEAAAB4XmNABw3ogLO+8b/r"
    "/731i8FwEprynnVBKPAYIfV6l1CgGwH1L5XuocCvBNST6h59y+MocAYB9S8XxaHAUgLqd72QQIFx6Or3OaFCjPDnMD1txvfp"
    "lNkbEb5PBhfQVO8r6C9Egc6E1E9AhU4E1D+RQYWE1JNq/h8WVEhI/RPZxyjQkYB6reuaKBBdPQAz3kTOAQAAAAAAAAAAAAAA"
    "AAAAAIwAAAB4XmNABw2ogPO/EDLEUN6zLggF+hNSr3cJBZ4noP6l0j0UWEdAPanu0bc8jgIVCah/uSgOBf4joH7XCwkU+Bxd"
    "/T4nVIgW/hzmt9Rei/5h4f0s90j/ouN+RzT1Bf2FKPA0IfUTUOEpAuqfyKBCQupJNf8PCyokpP6J7GMUeJKAeq3rmigQXT0A"
    "rJc+zwAAAAABAAAAAAAAAAAAAABmAAAAeF5jQAM9epdQoFsDZ33jf9f/e+sXg+EkNPWxJT0oUJ+Aev2d7ihQgoB6DICufp8T"
    "CiyYmI8CHRs4TE+b8X06ZfZGhO+TwQVU1U77tnlvRYGE1P9h/Y0CCal32u+ICtHUAwAOkpe/AQAAAAEAAAAAAAAAAAAAAF8A"
    "AAB4XmNAAz16l1Dg+f9CyBBdOUNsSQ8K3EFAvf5OdxS4kIB6dNCJrn6fEwosmJiPAk+a31J7LfqHhfez3CP9i477HdHUb/Pe"
    "igIJqf/D+hsFElLvtB8ohgTR1QMAc32XwA=="
)

PIZ_HALF_SCANLINE = base64.b64decode(
    "di8xAQIAAABjaGFubmVscwBjaGxpc3QANwAAAEIAAQAAAAAAAAABAAAAAQAAAEcAAQAAAAAAAAABAAAAAQAAAFIAAQAAAAAA"
    "AAABAAAAAQAAAABjb21wcmVzc2lvbgBjb21wcmVzc2lvbgABAAAABGRhdGFXaW5kb3cAYm94MmkAEAAAAAAAAAAAAAAADwAA"
    "AAsAAABkaXNwbGF5V2luZG93AGJveDJpABAAAAAAAAAAAAAAAA8AAAALAAAAbGluZU9yZGVyAGxpbmVPcmRlcgABAAAAAHBp"
    "eGVsQXNwZWN0UmF0aW8AZmxvYXQABAAAAAAAgD9zY3JlZW5XaW5kb3dDZW50ZXIAdjJmAAgAAAAAAAAAAAAAAHNjcmVlbldp"
    "bmRvd1dpZHRoAGZsb2F0AAQAAAAAAIA/dHlwZQBzdHJpbmcADQAAAHNjYW5saW5laW1hZ2UAXgEAAAAAAAAAAAAAQAQAAIgF"
    "gAcQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAAAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAEAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAACAAAAAAAAAAAAAAAAAAAAACAAAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAAAAAAA"
    "gAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAAAgAAAAAAAAAAAAAAAAACAAAAAAAAAAAIAAAAAAAAAAIAAAAAAAAAAAAAAA"
    "AAAAAAJAAAAAAAAAAAAAAAAAAAAAAEAAAAAAEAAAAAAAAAAAAAAAgAAAAAAAAAAAAABAAAAAAACAAAAAAAAAAAAAAAAAAAAA"
    "AAABPwIAAAAAAAAAAAEAyAEAABMDAAAAAAAAB+GAI/BRwB//////////////////////////////////////////////////"
    "////////////////////////////////////////////////////////////////////////////////////////////////"
    "////////////////////////////////////////////////////////////////////////////////////////////////"
    "////////////////////////////////////////////////////////////////////////////////////////////////"
    "////////////////////////////////////////////////////////////////////////////////////////////////"
    "////////////////////////////////////////////////////////////////////////////////////////////////"
    "///////////////////////////////////////////////////////3HAHAHFEFCEIAD/hwF2D/hwE2AP4B/bbbbFxcXFyl"
    "KUpSlB/wf9tttsXFxcXbbbbBfwX8ccccccccXFxcXbbbbDMkIkgUkKjP//5222z//+ZNJpNGf//ztttn//4ZkhEkCkhUZ///"
    "O222f//g"
)


def _expected(width: int = 16, height: int = 12) -> dict[str, np.ndarray]:
    yy, xx = np.mgrid[0:height, 0:width]
    return {
        "R": (xx / (width - 1)).astype(np.float32),
        "G": (yy / (height - 1)).astype(np.float32),
        "B": np.full((height, width), 0.25, dtype=np.float32),
    }


@pytest.mark.parametrize(
    ("data", "compression", "tiled", "pixel_type"),
    [
        (ZIP_HALF_SCANLINE, "ZIP", False, "HALF"),
        (ZIPS_FLOAT_TILED, "ZIPS", True, "FLOAT"),
    ],
    ids=["zip-half-scanline", "zips-float-tiled"],
)
def test_library_written_files_decode_to_their_pixels(
    data: bytes, compression: str, tiled: bool, pixel_type: str
) -> None:
    header, planes = exr.read_pixels(io.BytesIO(data), len(data))
    summary = header.to_dict()
    assert summary["compression"] == compression
    assert summary["flags"] == {
        "scanline": not tiled,
        "tiled": tiled,
        "multipart": False,
        "deep": False,
        "long_names": False,
    }
    assert [c["pixel_type"] for c in summary["channels"]] == [pixel_type] * 3
    assert summary["data_window"] == [0, 0, 15, 11]
    assert summary["display_window"] == [0, 0, 15, 11]
    assert summary["pixel_aspect"] == 1.0
    # The data really is deflated: the file is smaller than its raw pixels.
    assert len(data) < 16 * 12 * 3 * (2 if pixel_type == "HALF" else 4)
    for name, want in _expected().items():
        np.testing.assert_allclose(planes[name], want, atol=1e-3)


def test_a_piz_file_has_its_header_read_and_its_pixels_refused_as_unsupported() -> None:
    header = exr.read_header(io.BytesIO(PIZ_HALF_SCANLINE))
    assert header.part.compression == "PIZ"
    with pytest.raises(exr.ExrUnsupportedError, match="PIZ compression is not decoded"):
        exr.read_pixels(io.BytesIO(PIZ_HALF_SCANLINE), len(PIZ_HALF_SCANLINE))


# -- headers built by hand from the file layout ---------------------------------------------------


def _attr(name: str, kind: str, value: bytes) -> bytes:
    return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value


def _header(flags: int = 0, extra: bytes = b"", compression: int = 0) -> bytes:
    chlist = b"Y\0" + struct.pack("<i", 2) + b"\0\0\0\0" + struct.pack("<ii", 1, 1) + b"\0"
    return (
        b"\x76\x2f\x31\x01"
        + struct.pack("<I", 2 | flags)
        + _attr("channels", "chlist", chlist)
        + _attr("compression", "compression", bytes([compression]))
        + _attr("dataWindow", "box2i", struct.pack("<4i", 10, 20, 1929, 1099))
        + _attr("displayWindow", "box2i", struct.pack("<4i", 0, 0, 1919, 1079))
        + _attr("lineOrder", "lineOrder", b"\x00")
        + _attr("pixelAspectRatio", "float", struct.pack("<f", 2.0))
        + extra
        + b"\0"
    )


def test_a_hand_built_header_reads_every_field() -> None:
    data = _header(compression=8, extra=_attr("owner", "string", b"studio"))
    header = exr.read_header(io.BytesIO(data))
    summary = header.to_dict()
    assert summary["version"] == 2
    assert summary["channels"] == [
        {"name": "Y", "pixel_type": "FLOAT", "linear": False, "x_sampling": 1, "y_sampling": 1}
    ]
    assert summary["compression"] == "DWAA"
    assert summary["data_window"] == [10, 20, 1929, 1099]
    assert (summary["width"], summary["height"]) == (1920, 1080)
    assert summary["display_window"] == [0, 0, 1919, 1079]
    assert summary["pixel_aspect"] == 2.0
    assert summary["header_bytes"] == len(data)
    assert header.part.attributes["owner"] == "studio"


def test_the_tiled_and_deep_flags_are_read_from_the_version_field() -> None:
    tiles = _attr("tiles", "tiledesc", struct.pack("<IIB", 64, 64, 1))
    header = exr.read_header(io.BytesIO(_header(flags=0x200 | 0x800, extra=tiles)))
    assert header.tiled and header.deep and not header.multipart
    assert header.part.tiles == {
        "x_size": 64,
        "y_size": 64,
        "level_mode": "MIPMAP_LEVELS",
        "rounding": "ROUND_DOWN",
    }


def test_a_multipart_file_lists_each_part() -> None:
    one = (
        _header()[8:-1]
        + _attr("name", "string", b"beauty")
        + _attr("type", "string", b"scanlineimage")
        + b"\0"
    )
    two = (
        _header()[8:-1] + _attr("name", "string", b"depth") + _attr("type", "string", b"deepscanline") + b"\0"
    )
    data = b"\x76\x2f\x31\x01" + struct.pack("<I", 2 | 0x1000) + one + two + b"\0"
    header = exr.read_header(io.BytesIO(data))
    assert header.multipart and header.deep
    assert [p.attributes["name"] for p in header.parts] == ["beauty", "depth"]


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"\x89PNG\r\n\x1a\n", exr.ExrError, "not an OpenEXR file: magic number 89504e47 at byte 0"),
        (b"\x76\x2f\x31\x01" + struct.pack("<I", 1), exr.ExrError, "unsupported OpenEXR version 1"),
        (_header()[:60], exr.ExrTruncatedError, "file ends inside"),
        (
            _header().replace(b"pixelAspectRatio", b"pixelAspectRatiX"),
            exr.ExrError,
            "lacks required attribute",
        ),
        (
            _header().replace(struct.pack("<4i", 10, 20, 1929, 1099), struct.pack("<4i", 10, 20, 5, 1099)),
            exr.ExrError,
            "empty box",
        ),
    ],
    ids=["png", "version-1", "truncated-header", "missing-attribute", "empty-data-window"],
)
def test_broken_headers_raise_a_typed_error_naming_what_and_where(
    data: bytes, error: type[exr.ExrError], message: str
) -> None:
    with pytest.raises(error, match=message):
        exr.read_header(io.BytesIO(data))


# -- pixels ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["NONE", "ZIPS", "ZIP"])
@pytest.mark.parametrize("pixel_type", ["HALF", "FLOAT", "UINT"])
@pytest.mark.parametrize("tile", [None, 8], ids=["scanline", "tiled"])
def test_every_decoded_layout_round_trips(compression: str, pixel_type: str, tile: int | None) -> None:
    planes = writer.gradient(37, 21, seed=3, scale=100.0 if pixel_type == "UINT" else 1.0)
    if pixel_type == "UINT":
        planes = {k: np.round(v) for k, v in planes.items()}
    data = writer.write(
        planes, pixel_type=pixel_type, compression=compression, tile_size=tile, origin=(5, -3)
    )
    header, got = exr.read_pixels(io.BytesIO(data), len(data))
    assert header.part.data_window == (5, -3, 41, 17)
    for name, plane in planes.items():
        np.testing.assert_allclose(got[name], plane.astype(writer._NUMPY[pixel_type]).astype(np.float32))


def test_nan_and_inf_survive_the_decoder() -> None:
    planes = writer.gradient(8, 4)
    planes["R"][1, 2] = np.nan
    planes["G"][0, 0] = np.inf
    data = writer.write(planes, pixel_type="HALF", compression="ZIP")
    _, got = exr.read_pixels(io.BytesIO(data), len(data))
    assert np.isnan(got["R"][1, 2]) and np.isinf(got["G"][0, 0])


def test_a_truncated_file_names_the_chunk_beyond_the_end() -> None:
    data = writer.write(writer.gradient(16, 16), compression="NONE")
    cut = data[: len(data) // 2]
    with pytest.raises(
        exr.ExrTruncatedError, match=r"chunk \d+ points at byte \d+, beyond the end of the file"
    ):
        exr.read_pixels(io.BytesIO(cut), len(cut))


def test_corrupt_zlib_data_is_an_error_naming_the_chunk_offset() -> None:
    data = bytearray(writer.write(writer.gradient(32, 16), compression="ZIP"))
    data[-20:-10] = b"\xff" * 10
    with pytest.raises(exr.ExrError, match=r"chunk at byte \d+"):
        exr.read_pixels(io.BytesIO(bytes(data)), len(data))


def test_mipmapped_tiles_are_not_decoded() -> None:
    tiles = _attr("tiles", "tiledesc", struct.pack("<IIB", 16, 16, 1))
    data = _header(flags=0x200, extra=tiles)
    with pytest.raises(exr.ExrUnsupportedError, match="mipmapped"):
        exr.read_pixels(io.BytesIO(data), len(data))
