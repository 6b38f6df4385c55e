"""Which files UC7 reads, and what kind each one is (by its name, as the sequencers write them)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

FASTQ, VCF, BAM = "fastq", "vcf", "bam"
KINDS = (FASTQ, VCF, BAM)
_BY_SUFFIX: dict[str, str] = {
    ".fastq": FASTQ,
    ".fq": FASTQ,
    ".fastq.gz": FASTQ,
    ".fq.gz": FASTQ,
    ".vcf": VCF,
    ".vcf.gz": VCF,
    ".vcf.bgz": VCF,
    ".bam": BAM,
}
# Longest first, so ``.fastq.gz`` wins over a shorter match.
SUFFIXES: tuple[str, ...] = tuple(sorted(_BY_SUFFIX, key=len, reverse=True))


class UnknownKindError(ValueError):
    """A key that discovery should not have listed."""


def kind_of(key: str) -> str:
    """``fastq``, ``vcf`` or ``bam`` from the key's suffix (case-insensitive)."""
    lower = key.lower()
    for suffix in SUFFIXES:
        if lower.endswith(suffix):
            return _BY_SUFFIX[suffix]
    raise UnknownKindError(f"{key!r} is not a FASTQ, VCF or BAM file name")


def summary_key(run_id: str) -> str:
    """Where the Summarize step writes a run's summary, and the Report step reads it."""
    return f"runs/{run_id}/summary.json"
