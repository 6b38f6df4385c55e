"""FASTQ quality control, streamed: reads, bases, GC%, mean quality, Q30 fraction, N rate, lengths.

Hand-written rather than Biopython or pysam: Biopython's parser builds one object per read (tens
of times slower, and it needs the encoding given up front), pysam has no wheel that a Lambda arm64
layer can take without building htslib, and the statistics here are byte counts that C-level
``bytes`` methods compute per batch of reads. The input is any iterable of byte chunks, plain or
gzip/BGZF (:func:`shared.formats.gzstream.iter_decoded`), so memory is one batch of reads whatever
the file size.

The quality encoding is detected, not assumed: Phred+33 (Sanger, Illumina 1.8+) when any quality
byte is below ``;`` (59), Phred+64 (Illumina 1.3-1.7) when every byte is at least ``@`` (64) and
some exceed ``J`` (74), which Phred+33 reaches only above Q41. The first batch decides; a later
byte outside the decided range is a :class:`FastqError`. Every structural problem (a header
without ``@``, a separator without ``+``, a sequence and quality of different lengths, a record cut
short, a byte that is not a base or a quality) is a :class:`FastqError` naming its line.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from shared.errors import PatternError
from shared.formats.gzstream import StreamStats, iter_decoded, iter_line_lists

logger = logging.getLogger(__name__)

PHRED33, PHRED64 = 33, 64
BATCH_READS = 4096
MAX_LENGTH_BINS = 50
# IUPAC nucleotide codes (either case) and the gap/unknown symbols some tools write.
_BASES = b"ACGTUNRYSWKMBDHVacgtunryswkmbdhv.-"
# Byte -> 1 for the bases or qualities counted, else 0: a translate and a popcount count them
# without a Python loop, and without translate(delete=...)'s slow path on mixed input.
_GC_TABLE = bytes(1 if byte in b"GCgcSs" else 0 for byte in range(256))
# Quality bytes each encoding allows: Phred+33 from '!' (Q0); Phred+64 from ';' (Solexa's Q-5).
_ALLOWED = {PHRED33: bytes(range(33, 127)), PHRED64: bytes(range(59, 127))}
_Q30_TABLE = {
    offset: bytes(1 if byte >= offset + 30 else 0 for byte in range(256)) for offset in (PHRED33, PHRED64)
}


def _ones(data: bytes, table: bytes) -> int:
    """How many bytes of ``data`` the 0/1 ``table`` maps to 1."""
    return int.from_bytes(data.translate(table), "little").bit_count()


class FastqError(PatternError, ValueError):
    """A FASTQ record is malformed; ``line`` is the 1-based line where the problem is."""


@dataclass
class FastqStats:
    """The QC summary of one FASTQ file."""

    reads: int = 0
    bases: int = 0
    gc_bases: int = 0
    n_bases: int = 0
    quality_sum: int = 0
    q30_bases: int = 0
    encoding: str = ""
    min_quality_byte: int = 255
    max_quality_byte: int = 0
    lengths: Counter[int] = field(default_factory=Counter)
    compressed_bytes: int = 0
    uncompressed_bytes: int = 0

    @property
    def gc_percent(self) -> float:
        return 100.0 * self.gc_bases / self.bases if self.bases else 0.0

    @property
    def n_rate(self) -> float:
        return self.n_bases / self.bases if self.bases else 0.0

    @property
    def mean_quality(self) -> float:
        return self.quality_sum / self.bases if self.bases else 0.0

    @property
    def q30_fraction(self) -> float:
        return self.q30_bases / self.bases if self.bases else 0.0

    def length_distribution(self, max_bins: int = MAX_LENGTH_BINS) -> dict[str, int]:
        """Read counts by length; above ``max_bins`` distinct lengths, by ranges ``"lo-hi"``."""
        if len(self.lengths) <= max_bins:
            return {str(length): count for length, count in sorted(self.lengths.items())}
        low, high = min(self.lengths), max(self.lengths)
        width = -(-(high - low + 1) // max_bins)
        bins: Counter[int] = Counter()
        for length, count in self.lengths.items():
            bins[low + (length - low) // width * width] += count
        return {f"{start}-{start + width - 1}": count for start, count in sorted(bins.items())}

    def to_dict(self) -> dict[str, Any]:
        return {
            "reads": self.reads,
            "bases": self.bases,
            "gc_percent": round(self.gc_percent, 3),
            "n_rate": round(self.n_rate, 6),
            "mean_quality": round(self.mean_quality, 3),
            "q30_fraction": round(self.q30_fraction, 6),
            "quality_encoding": self.encoding,
            "min_length": min(self.lengths) if self.lengths else 0,
            "max_length": max(self.lengths) if self.lengths else 0,
            "mean_length": round(self.bases / self.reads, 3) if self.reads else 0.0,
            "length_distribution": self.length_distribution(),
            "compressed_bytes": self.compressed_bytes,
            "uncompressed_bytes": self.uncompressed_bytes,
        }


def detect_encoding(low: int, high: int) -> str:
    """``"phred33"`` or ``"phred64"`` from the lowest and highest quality byte seen."""
    if low < PHRED33 or high > 126:
        raise FastqError(f"quality byte {low if low < PHRED33 else high} is outside the printable range")
    if low >= 59 and high > 74:
        return "phred64"
    return "phred33"


def _first(flags: Iterable[bool]) -> int:
    """Index of the first False in ``flags`` (-1 when all are true)."""
    for index, ok in enumerate(flags):
        if not ok:
            return index
    return -1


def _check_structure(lines: list[bytes], first_line: int, name: str) -> None:
    """Headers start with @, separators with +, and each sequence and quality have one length."""
    heads, seqs, plus, quals = lines[0::4], lines[1::4], lines[2::4], lines[3::4]
    if not all(map(bytes.startswith, heads, repeat(b"@"))):
        index = _first(map(bytes.startswith, heads, repeat(b"@")))
        line = first_line + 4 * index
        if not heads[index]:
            raise FastqError(f"{name}: blank line {line} inside the file", line=line, name=name)
        raise FastqError(
            f"{name}: line {line} should start a record with '@', found {heads[index][:20]!r}",
            line=line,
            name=name,
        )
    if not all(map(bytes.startswith, plus, repeat(b"+"))):
        index = _first(map(bytes.startswith, plus, repeat(b"+")))
        line = first_line + 4 * index + 2
        raise FastqError(
            f"{name}: line {line} should be the '+' separator, found {plus[index][:20]!r}",
            line=line,
            name=name,
        )
    seq_lengths, qual_lengths = list(map(len, seqs)), list(map(len, quals))
    if seq_lengths != qual_lengths:
        index = _first(map(int.__eq__, seq_lengths, qual_lengths))
        start = first_line + 4 * index
        read = (
            heads[index][1:].split(maxsplit=1)[0].decode(errors="replace") if len(heads[index]) > 1 else "?"
        )
        raise FastqError(
            f"{name}: read {read} at line {start}: sequence is {seq_lengths[index]} bases but quality "
            f"(line {start + 3}) is {qual_lengths[index]} characters",
            line=start + 3,
            name=name,
        )


def _account(stats: FastqStats, lines: list[bytes], first_line: int, name: str) -> None:
    """Check and count complete records (``lines`` holds a multiple of four lines)."""
    if (lines and lines[-1].endswith(b"\r")) or (lines and lines[0].endswith(b"\r")):
        lines = [line.rstrip(b"\r") for line in lines]
    _check_structure(lines, first_line, name)
    seq_list, qual_list = lines[1::4], lines[3::4]
    seqs, quals = b"".join(seq_list), b"".join(qual_list)
    if seqs.translate(None, _BASES):
        index = _first(not seq.translate(None, _BASES) for seq in seq_list)
        stray = seq_list[index].translate(None, _BASES)
        line = first_line + 4 * index + 1
        raise FastqError(
            f"{name}: line {line} has {stray[:1]!r}, not a nucleotide code", line=line, name=name
        )
    if not stats.encoding and quals:
        stats.encoding = detect_encoding(min(quals), max(quals))
    offset = PHRED64 if stats.encoding == "phred64" else PHRED33
    allowed = _ALLOWED[offset]
    if quals.translate(None, allowed):
        index = _first(not qual.translate(None, allowed) for qual in qual_list)
        bad = qual_list[index].translate(None, allowed)[0]
        line = first_line + 4 * index + 3
        raise FastqError(
            f"{name}: line {line} has quality byte {bad} ({chr(bad)!r}), outside "
            f"{stats.encoding} decided from the first reads",
            line=line,
            name=name,
        )
    stats.reads += len(seq_list)
    stats.bases += len(seqs)
    stats.gc_bases += _ones(seqs, _GC_TABLE)
    stats.n_bases += len(seqs) - len(seqs.translate(None, b"Nn"))
    stats.quality_sum += sum(quals) - offset * len(quals)
    stats.q30_bases += _ones(quals, _Q30_TABLE[offset])
    stats.lengths.update(map(len, seq_list))


def scan_fastq_batches(batches: Iterable[list[bytes]], *, name: str = "stream") -> FastqStats:
    """QC statistics of FASTQ lines given as lists (``gzstream.iter_line_lists``)."""
    stats = FastqStats()
    pending: list[bytes] = []
    first_line = 1  # the line number of pending[0]
    step = 4 * BATCH_READS
    for lines in batches:
        pending = pending + lines if pending else lines
        if len(pending) >= step:
            cut = len(pending) - len(pending) % step
            for at in range(0, cut, step):
                _account(stats, pending[at : at + step], first_line + at, name)
            first_line += cut
            pending = pending[cut:]
    while pending and not pending[-1].strip():
        pending.pop()  # blank lines after the last record
    whole = len(pending) - len(pending) % 4
    if whole:
        _account(stats, pending[:whole], first_line, name)
    tail = pending[whole:]
    if tail:
        start = first_line + whole
        separator = tail[2] if len(tail) == 3 else b"+"
        _check_structure([tail[0], b"", separator, b""], start, name)
        raise FastqError(
            f"{name}: the record at line {start} is cut short ({len(tail)} of 4 lines): truncated file",
            line=start + len(tail) - 1,
            name=name,
        )
    return stats


def scan_fastq_lines(lines: Iterable[bytes], *, name: str = "stream") -> FastqStats:
    """QC statistics of FASTQ ``lines`` (without newlines)."""
    return scan_fastq_batches([list(lines)], name=name)


def scan_fastq(chunks: Iterable[bytes], *, name: str = "stream") -> FastqStats:
    """QC statistics of a FASTQ file given as byte chunks, plain or gzip/BGZF, in bounded memory."""
    stream = StreamStats()
    decoded = iter_decoded(chunks, name=name, stats=stream)
    stats = scan_fastq_batches(iter_line_lists(decoded, name=name), name=name)
    stats.compressed_bytes = stream.compressed_bytes
    stats.uncompressed_bytes = stream.uncompressed_bytes
    return stats
