"""UC6 design-file readers: GDSII records/s and peak memory flat in the file's size; OASIS beside it.

* GDSII records/s: :func:`shared.formats.gdsii.read_gdsii` (every record checked and folded into
  the summary: units, cells, layers, boxes, findings) against the floor of the same file split
  into records and nothing else (:func:`shared.formats.gdsii.iter_records`), in one run.
* Peak memory (tracemalloc) of ``read_gdsii`` over a small and an 8x larger file read from disk in
  256 KiB chunks: the reader keeps cells and layers, never the file, so the two peaks are about
  equal (target: the larger file's peak within 1.25x of the smaller's).
* OASIS: a compressed file (one CBLOCK per cell) read whole, records/s, and its bytes read.

Every GDSII or OASIS byte is read once: a design file's summary needs its last cell, so bytes read
equal the file size (one streamed GET in Lambda), unlike the header-only formats of other suites.
"""

from __future__ import annotations

import io
import logging
import tempfile
import tracemalloc
from pathlib import Path

from scripts.bench import Report, stopwatch
from shared.formats.gdsii import iter_records, read_gdsii
from shared.formats.oasis import read_oasis
from shared.formats.samples import eda

logger = logging.getLogger(__name__)

SPEED_BOUNDARIES = 120_000  # about 7.7 MiB, 600k records
SMALL, LARGE = 20_000, 160_000
PEAK_CHUNK = 256 * 1024  # both files are several chunks long, so both peaks include a full buffer


def _gdsii_file(folder: Path, boundaries: int) -> Path:
    path = folder / f"bench-{boundaries}.gds"
    with path.open("wb") as out:
        eda.write_large_gdsii(out, boundaries)
    return path


def _peak_mib(path: Path) -> float:
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            read_gdsii(stream, chunk_size=PEAK_CHUNK)
        return tracemalloc.get_traced_memory()[1] / (1 << 20)
    finally:
        tracemalloc.stop()


def run(report: Report) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        speed = _gdsii_file(folder, SPEED_BOUNDARIES)
        data = speed.read_bytes()
        with stopwatch() as floor_elapsed:
            records = sum(1 for _ in iter_records(io.BytesIO(data)))
        with stopwatch() as elapsed:
            summary = read_gdsii(io.BytesIO(data))
        assert summary.records == records
        report.add(f"gdsii file ({len(data) / (1 << 20):.1f} MiB)", records, "records")
        floor_rate = records / floor_elapsed()
        report.add("gdsii records split only (the floor)", floor_rate, "records/s")
        report.add(
            "gdsii records read and summarised",
            records / elapsed(),
            "records/s",
            baseline=floor_rate,
            target=">= 0.25x the floor",
            met=records / elapsed() >= 0.25 * floor_rate,
        )
        report.add("gdsii MiB/s read and summarised", len(data) / (1 << 20) / elapsed(), "MiB/s")
        del data

        small, large = _gdsii_file(folder, SMALL), _gdsii_file(folder, LARGE)
        small_peak, large_peak = _peak_mib(small), _peak_mib(large)
        report.add(f"peak memory, {small.stat().st_size / (1 << 20):.1f} MiB file", small_peak, "MiB")
        report.add(
            f"peak memory, {large.stat().st_size / (1 << 20):.1f} MiB file (8x)",
            large_peak,
            "MiB",
            baseline=small_peak,
            target="<= 1.25x (flat)",
            met=large_peak <= 1.25 * small_peak,
        )

    cells = [
        eda.OasisCell(f"C{i}", [(1 + j % 4, 0, (j % 100) * 20, (j // 100) * 20, 10, 10) for j in range(2000)])
        for i in range(40)
    ]
    cells.append(eda.OasisCell("TOP", [], [(f"C{i}", i * 3000, 0) for i in range(40)]))
    oasis = eda.oasis_file(cells, compress=True)
    with stopwatch() as oasis_elapsed:
        result = read_oasis(io.BytesIO(oasis))
    label = f"oasis file, {result.cblocks} CBLOCKs ({len(oasis) / 1024:.0f} KiB)"
    report.add(label, result.records, "records")
    report.add("oasis records read (CBLOCKs inflated)", result.records / oasis_elapsed(), "records/s")
