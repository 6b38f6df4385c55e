"""DICOM (UC5): header bytes read per instance against its size, through the ranged reader.

Instances of 1 MiB, 64 MiB and 512 MiB (512x512 16-bit frames; the header written by pydicom, the
pixel data streamed to disk) are read by :func:`shared.formats.dicom.read_header` with
``stop_before_pixels`` through :class:`shared.formats.ranged.RangedReader` with the Deidentify
function's 16 KiB blocks, over a stand-in S3 client serving ranges from the file. Reported side by
side: bytes fetched and GET requests against the file size (what downloading it would fetch), and
peak traced memory against the smallest instance's. Targets: the 512 MiB instance reads under
0.1 % of its bytes; its peak memory within 1.5x the 1 MiB one's.
"""

from __future__ import annotations

import io
import logging
import struct
import tempfile
import tracemalloc
from pathlib import Path

from scripts.bench import Report
from scripts.bench.seismic import FileClient
from shared.formats import dicom
from shared.formats.ranged import RangedReader
from shared.formats.samples import dicom as samples
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
SIZES_MIB = (1, 64, 512)
FRAME_BYTES = 512 * 512 * 2
BLOCK_BYTES = 16384  # the Deidentify function's READ_BLOCK_BYTES
TARGET_SHARE = 0.001
TARGET_MEMORY_RATIO = 1.5


def write_instance(path: Path, size_mib: int) -> int:
    frames = max(1, size_mib * MIB // FRAME_BYTES)
    inst = samples.study("Bench^Patient", "MRN-1", series=1, per_series=1)[0]
    # Write the header with one frame of pixels, then replace the pixel element by a streamed one.
    data = samples.write_instance(inst, rows=512, columns=512, frames=1, private=False)
    _, header = dicom.read_header(io.BytesIO(data))
    offset = int(header.pixel_data_offset or 0)
    length = frames * FRAME_BYTES
    chunk = bytes(4 * MIB)
    with path.open("wb") as out:
        out.write(data[:offset])
        out.write(b"\xe0\x7f\x10\x00OW\x00\x00" + struct.pack("<I", length))
        left = length
        while left:
            n = min(left, len(chunk))
            out.write(chunk[:n])
            left -= n
    return path.stat().st_size


def measure(path: Path) -> tuple[int, int, int]:
    client = FileClient(path)
    source = S3AccessPoint("bench-bucket", client)
    tracemalloc.start()
    reader = RangedReader(source, path.name, etag="bench", size=client.size, block_size=BLOCK_BYTES)
    dicom.read_header(reader)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return reader.stats.bytes_fetched, reader.stats.requests, peak


def run(report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-dicom-") as folder:
        peaks: dict[int, int] = {}
        for size_mib in SIZES_MIB:
            path = Path(folder) / f"IM{size_mib:04d}.dcm"
            size = write_instance(path, size_mib)
            fetched, requests, peak = measure(path)
            peaks[size_mib] = peak
            big = size_mib == max(SIZES_MIB)
            report.add(
                f"dicom {size_mib} MiB: header bytes fetched",
                fetched,
                "bytes",
                baseline=size,
                target=f"< {TARGET_SHARE:.1%} of the file" if big else "",
                met=fetched / size < TARGET_SHARE if big else None,
            )
            report.add(f"dicom {size_mib} MiB: GET requests", requests, "requests")
            report.add(
                f"dicom {size_mib} MiB: peak traced memory",
                peak / MIB,
                "MiB",
                baseline=peaks[min(SIZES_MIB)] / MIB,
                target=f"<= {TARGET_MEMORY_RATIO}x the smallest" if big else "",
                met=peak <= TARGET_MEMORY_RATIO * peaks[min(SIZES_MIB)] if big else None,
            )
            path.unlink()
