"""SEG-Y (UC8): bytes read per survey against its size, through the ranged reader, and peak memory.

Surveys of 16 MiB, 256 MiB and 1 GiB (IEEE float, 1000 samples per trace) are written to a
temporary folder (one inline block repeated, so writing them costs seconds) and read by
:func:`shared.formats.segy.read_segy` through :class:`shared.formats.ranged.RangedReader` with the
Inspect function's settings (64 sampled traces, 16 KiB blocks), over a stand-in S3 client that
serves ``GetObject`` ranges from the file. Reported side by side: bytes fetched and GET requests
per survey, against the file size (what a download-then-read approach fetches; ratio = share of
the file), and the reader's peak traced memory, against the smallest survey's (flat: the ratio
stays near 1). Targets: a 1 GiB survey reads under 1 % of its bytes; peak memory of the 1 GiB
survey within 1.5x the 16 MiB one's.

A LAS well log of 20,000 depth steps and 8 curves is read as well (lasio from a text stream),
against the time to parse the same text with ``numpy.loadtxt`` alone (the floor).
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from scripts.bench import Report, stopwatch
from shared.formats.ranged import RangedReader
from shared.formats.samples import segy as segy_samples
from shared.formats.samples import welllog as las_samples
from shared.formats.segy import FILE_HEADER_SIZE, read_segy
from shared.formats.welllog import read_las
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
SIZES_MIB = (16, 256, 1024)
SAMPLES = 1000
BLOCK_TRACES = 512
SAMPLED_TRACES = 64
BLOCK_BYTES = 16384  # the Inspect function's READ_BLOCK_BYTES
TARGET_SHARE = 0.01
TARGET_MEMORY_RATIO = 1.5


class FileClient:
    """The one S3 call the ranged reader makes, answered from a local file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size

    def get_object(self, *, Bucket: str, Key: str, Range: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        start, stop = (int(x) for x in Range.removeprefix("bytes=").split("-"))
        stop = min(stop, self.size - 1)
        with self.path.open("rb") as handle:
            handle.seek(start)
            body = handle.read(stop - start + 1)
        return {
            "Body": io.BytesIO(body),
            "ETag": '"bench"',
            "ContentRange": f"bytes {start}-{stop}/{self.size}",
            "ContentLength": len(body),
        }


def write_survey(path: Path, size_mib: int) -> int:
    """Headers plus one inline block of traces repeated until the file reaches about ``size_mib``."""
    one = io.BytesIO()
    segy_samples.write_segy(
        one, inlines=range(1, 2), crosslines=range(1, BLOCK_TRACES + 1), samples=SAMPLES, format_code=5
    )
    data = one.getvalue()
    header, block = data[:FILE_HEADER_SIZE], data[FILE_HEADER_SIZE:]
    repeats = max(1, size_mib * MIB // len(block))
    with path.open("wb") as out:
        out.write(header)
        for _ in range(repeats):
            out.write(block)
    return path.stat().st_size


def measure(path: Path) -> tuple[int, int, int, int]:
    """(bytes fetched, requests, peak traced bytes, traces) of one read through the ranged reader."""
    client = FileClient(path)
    source = S3AccessPoint("bench-bucket", client)
    tracemalloc.start()
    reader = RangedReader(source, path.name, etag="bench", size=client.size, block_size=BLOCK_BYTES)
    summary = read_segy(reader, sampled_traces=SAMPLED_TRACES)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return reader.stats.bytes_fetched, reader.stats.requests, peak, summary.trace_count


def run(report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-segy-") as folder:
        peaks: dict[int, int] = {}
        for size_mib in SIZES_MIB:
            path = Path(folder) / f"survey-{size_mib}.sgy"
            size = write_survey(path, size_mib)
            fetched, requests, peak, traces = measure(path)
            peaks[size_mib] = peak
            share = fetched / size
            big = size_mib == max(SIZES_MIB)
            report.add(
                f"segy {size_mib} MiB ({traces} traces): bytes fetched",
                fetched,
                "bytes",
                baseline=size,
                target=f"< {TARGET_SHARE:.0%} of the file" if big else "",
                met=share < TARGET_SHARE if big else None,
            )
            report.add(f"segy {size_mib} MiB: GET requests", requests, "requests")
            report.add(
                f"segy {size_mib} MiB: peak traced memory",
                peak / MIB,
                "MiB",
                baseline=peaks[min(SIZES_MIB)] / MIB,
                target=f"<= {TARGET_MEMORY_RATIO}x the smallest" if big else "",
                met=peak <= TARGET_MEMORY_RATIO * peaks[min(SIZES_MIB)] if big else None,
            )
            os.unlink(path)
    text = las_samples.write_las(rows=20_000, spikes=(100, 9_000))
    with stopwatch() as las_seconds:
        log = read_las(text)
    import numpy as np

    body = text[text.index("~A") :].split("\n", 1)[1]
    with stopwatch() as floor_seconds:
        np.loadtxt(io.StringIO(body))
    report.add(
        f"las {log.rows} depths x {len(log.curves)} curves: read + statistics",
        las_seconds(),
        "s",
        baseline=floor_seconds(),
    )
