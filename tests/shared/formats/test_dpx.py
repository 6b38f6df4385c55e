"""DPX reader: headers and pixels hand-built from SMPTE 268M offsets in the test, both byte orders."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from shared.formats import dpx
from shared.formats.samples import dpx as writer


def _hand_built(order: str, width: int = 3, height: int = 2, packing: int = 1) -> tuple[bytes, list[int]]:
    """A 10-bit RGB DPX built field by field at the standard's offsets, and its component values."""
    e = ">" if order == "big" else "<"
    head = bytearray(2048)
    head[0:4] = b"SDPX" if order == "big" else b"XPDS"
    struct.pack_into(e + "I", head, 4, 2048)  # offset to image data
    head[8:12] = b"V1.0"
    struct.pack_into(e + "I", head, 16, 2048 + width * height * 4)  # file size
    head[36:45] = b"plate.dpx"
    head[160:165] = b"scanr"
    struct.pack_into(e + "HHII", head, 768, 0, 1, width, height)  # orientation, elements, size
    struct.pack_into(e + "I", head, 780, 0)  # data sign
    head[780 + 20] = 50  # descriptor RGB
    head[780 + 23] = 10  # bit depth
    struct.pack_into(e + "HH", head, 780 + 24, packing, 0)  # packing, encoding
    struct.pack_into(e + "I", head, 780 + 28, 2048)  # offset to data
    values = [(i * 97) % 1024 for i in range(width * height * 3)]
    words = []
    for i in range(0, len(values), 3):
        r, g, b = values[i : i + 3]
        words.append((r << 22 | g << 12 | b << 2) if packing == 1 else (r << 20 | g << 10 | b))
    return bytes(head) + struct.pack(f"{e}{len(words)}I", *words), values


@pytest.mark.parametrize("order", ["big", "little"])
@pytest.mark.parametrize("packing", [1, 2], ids=["method-a", "method-b"])
def test_a_hand_built_file_reads_in_either_byte_order(order: str, packing: int) -> None:
    data, values = _hand_built(order, packing=packing)
    header, planes = dpx.read_pixels(io.BytesIO(data), len(data))
    assert header.byte_order == order
    assert (header.width, header.height, header.version) == (3, 2, "V1.0")
    assert header.file_name == "plate.dpx" and header.creator == "scanr"
    element = header.elements[0].to_dict()
    assert element["descriptor"] == "RGB" and element["bit_depth"] == 10 and element["packing"] == packing
    got = np.stack([planes[c] for c in "RGB"], axis=-1).reshape(-1)
    np.testing.assert_allclose(got * 1023.0, np.array(values, dtype=np.float32), atol=1e-3)


@pytest.mark.parametrize("order", ["big", "little"])
@pytest.mark.parametrize("bit_depth", [8, 10, 16])
def test_the_writer_round_trips_through_the_reader(order: str, bit_depth: int) -> None:
    rgb = np.random.default_rng(0).random((7, 11, 3))
    data = writer.write(rgb, byte_order=order, bit_depth=bit_depth)
    header, planes = dpx.read_pixels(io.BytesIO(data), len(data))
    assert header.to_dict()["channels"] == [{"name": "RGB", "pixel_type": f"{bit_depth}-bit"}]
    got = np.stack([planes[c] for c in "RGB"], axis=-1)
    assert np.abs(got - rgb).max() <= 0.5 / ((1 << bit_depth) - 1) + 1e-6


def test_bad_magic_is_named() -> None:
    with pytest.raises(dpx.DpxError, match=r"not a DPX file: magic b'RIFF' at byte 0"):
        dpx.read_header(io.BytesIO(b"RIFF" + bytes(2000)))


def test_a_file_cut_inside_the_image_header_says_so() -> None:
    data, _ = _hand_built("big")
    with pytest.raises(dpx.DpxTruncatedError, match="inside the image information header at byte 1000"):
        dpx.read_header(io.BytesIO(data[:1000]))


def test_a_file_cut_inside_the_pixels_says_which_bytes_are_missing() -> None:
    data, _ = _hand_built("little")
    cut = data[:-5]
    with pytest.raises(
        dpx.DpxTruncatedError, match=r"image data needs bytes 2048\.\.2072 but the file has 2067"
    ):
        dpx.read_pixels(io.BytesIO(cut), len(cut))


def test_run_length_encoding_is_not_decoded() -> None:
    data = bytearray(_hand_built("big")[0])
    struct.pack_into(">H", data, 780 + 26, 1)
    with pytest.raises(dpx.DpxUnsupportedError, match="run-length"):
        dpx.read_pixels(io.BytesIO(bytes(data)), len(data))


def test_an_undefined_image_size_is_an_error() -> None:
    data = bytearray(_hand_built("big")[0])
    struct.pack_into(">I", data, 772, 0xFFFFFFFF)
    with pytest.raises(dpx.DpxError, match="undefined"):
        dpx.read_header(io.BytesIO(bytes(data)))
