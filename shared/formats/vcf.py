"""VCF (v4.x) variant statistics, streamed from plain text or BGZF: types, Ts/Tv, per-sample genotypes.

Hand-written rather than pysam or cyvcf2: both wrap htslib, which has no wheel a Lambda arm64
layer can take without a native build, and the statistics need only the first ten columns and the
``GT`` of each sample. The input is any iterable of byte chunks, plain or gzip/BGZF
(:func:`shared.formats.gzstream.iter_decoded`), so memory is one line at a time plus per-sample
counters.

Each ALT allele of a record is classified against REF on its own, after trimming the bases the two
share at the end and then at the start (keeping one), the way a multi-allelic site split into
biallelic records (``bcftools norm -m-``) would be: at ``REF=CTT ALT=C,CT`` one allele deletes two
bases and the other one; at ``REF=ACG ALT=ATG`` the allele is an SNV (C>T), not an MNV. The types
are SNV, MNV (same length, more than one base differs), insertion, deletion, complex (lengths
differ and neither contains the other), symbolic (``<DEL>``, breakends) and spanning deletion
(``*``). Ts/Tv counts the SNV alleles: A<->G and C<->T are transitions.

Genotypes: each sample's ``GT`` is hom-ref (all alleles 0), het (alleles differ), hom-alt (all the
same non-zero allele) or missing when any allele is ``.`` (``./.``, ``.|.``, ``.``, ``./1``), never
counted as homozygous. Malformed input raises :class:`VcfError` naming the line (and the sample).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shared.errors import PatternError
from shared.formats.gzstream import StreamStats, iter_decoded, iter_lines

logger = logging.getLogger(__name__)

FIXED_COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")
VARIANT_TYPES = ("snv", "mnv", "insertion", "deletion", "complex", "symbolic", "spanning_deletion")
TRANSITIONS = frozenset({("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")})
MAX_CONTIGS = 100_000
_REF = re.compile(r"^[ACGTNacgtn]+$")
_ALT = re.compile(r"^[ACGTNacgtn]+$")
_GT_SPLIT = re.compile(r"[/|]")
_KIND_INDEX = {"hom_ref": 0, "het": 1, "hom_alt": 2, "missing": 3}
_SEQUENCE_KINDS = frozenset({"snv", "mnv", "insertion", "deletion", "complex"})
_CACHE_LIMIT = 65536


class VcfError(PatternError, ValueError):
    """A VCF line is malformed; ``line`` is its 1-based number in the decompressed text."""


@dataclass
class SampleCounts:
    hom_ref: int = 0
    het: int = 0
    hom_alt: int = 0
    missing: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"hom_ref": self.hom_ref, "het": self.het, "hom_alt": self.hom_alt, "missing": self.missing}


@dataclass
class VcfStats:
    """The variant summary of one VCF file."""

    file_format: str = ""
    samples: list[str] = field(default_factory=list)
    records: int = 0
    multiallelic_sites: int = 0
    passed_filter: int = 0
    types: Counter[str] = field(default_factory=Counter)
    transitions: int = 0
    transversions: int = 0
    contigs: Counter[str] = field(default_factory=Counter)
    genotypes: dict[str, SampleCounts] = field(default_factory=dict)
    compressed_bytes: int = 0
    uncompressed_bytes: int = 0

    @property
    def ts_tv(self) -> float | None:
        return self.transitions / self.transversions if self.transversions else None

    def to_dict(self) -> dict[str, Any]:
        ratio = self.ts_tv
        return {
            "file_format": self.file_format,
            "samples": len(self.samples),
            "records": self.records,
            "alleles": sum(self.types.values()),
            "multiallelic_sites": self.multiallelic_sites,
            "passed_filter": self.passed_filter,
            "variant_types": {name: self.types.get(name, 0) for name in VARIANT_TYPES},
            "transitions": self.transitions,
            "transversions": self.transversions,
            "ts_tv": round(ratio, 4) if ratio is not None else None,
            "contigs": dict(self.contigs.most_common(50)),
            "genotypes": {sample: counts.to_dict() for sample, counts in self.genotypes.items()},
            "compressed_bytes": self.compressed_bytes,
            "uncompressed_bytes": self.uncompressed_bytes,
        }


def trim(ref: str, alt: str) -> tuple[str, str]:
    """REF and one ALT without the bases they share at the end, then at the start (one base kept)."""
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt = ref[1:], alt[1:]
    return ref, alt


def classify(ref: str, alt: str) -> str:
    """The type of one REF/ALT allele pair (see the module docstring)."""
    if alt == "*":
        return "spanning_deletion"
    if alt.startswith(("<", ".")) or alt.endswith(".") or "[" in alt or "]" in alt:
        return "symbolic"
    ref, alt = trim(ref.upper(), alt.upper())
    if len(ref) == len(alt):
        return "snv" if len(ref) == 1 else "mnv"
    if len(ref) < len(alt):
        return "insertion" if alt.startswith(ref) or alt.endswith(ref) else "complex"
    return "deletion" if ref.startswith(alt) or ref.endswith(alt) else "complex"


def _genotype(gt: str, n_alleles: int) -> str:
    if gt in {".", ""}:
        return "missing"
    alleles = _GT_SPLIT.split(gt)
    if any(allele == "." for allele in alleles):
        return "missing"
    try:
        indexes = [int(allele) for allele in alleles]
    except ValueError:
        raise VcfError(f"GT {gt!r} is not a genotype") from None
    if any(index < 0 or index >= n_alleles for index in indexes):
        raise VcfError(f"GT {gt!r} names an allele the record does not have ({n_alleles - 1} ALT)")
    if all(index == 0 for index in indexes):
        return "hom_ref"
    if len(set(indexes)) == 1:
        return "hom_alt"
    return "het"


class _Scanner:
    def __init__(self, name: str) -> None:
        self.name = name
        self.stats = VcfStats()
        self.columns: list[str] = []
        self.number = 0
        self.counts: list[list[int]] = []  # per sample: hom_ref, het, hom_alt, missing
        self.genotype_kinds: dict[int, dict[str, int]] = {}  # allele count -> GT text -> kind index
        self.allele_kinds: dict[tuple[str, str], str] = {}

    def error(self, message: str, **details: Any) -> VcfError:
        return VcfError(
            f"{self.name}: line {self.number}: {message}", line=self.number, name=self.name, **details
        )

    def header(self, text: str) -> None:
        if self.number == 1:
            if not text.startswith("##fileformat=VCF"):
                raise self.error(f"the first line must be ##fileformat=VCFv4.x, found {text[:40]!r}")
            self.stats.file_format = text.split("=", 1)[1]
        if text.startswith("#CHROM"):
            columns = text.split("\t")
            if tuple(columns[:8]) != FIXED_COLUMNS:
                raise self.error(f"the header line must start with {' '.join(FIXED_COLUMNS)} (tab-separated)")
            if len(columns) > 8 and columns[8] != "FORMAT":
                raise self.error("the ninth header column must be FORMAT when there are samples")
            self.columns = columns
            self.stats.samples = columns[9:]
            self.stats.genotypes = {sample: SampleCounts() for sample in self.stats.samples}
            self.counts = [[0, 0, 0, 0] for _ in self.stats.samples]

    def record(self, text: str) -> None:
        if not self.columns:
            raise self.error("a data line before the #CHROM header line")
        fields = text.split("\t")
        if len(fields) != len(self.columns):
            raise self.error(f"{len(fields)} columns, the header has {len(self.columns)}")
        chrom, pos, _id, ref, alt = fields[:5]
        if not pos.isdigit():
            raise self.error(f"POS {pos!r} is not a position")
        if not _REF.match(ref):
            raise self.error(f"REF {ref[:20]!r} is not a sequence of A, C, G, T, N")
        stats = self.stats
        stats.records += 1
        if len(stats.contigs) < MAX_CONTIGS or chrom in stats.contigs:
            stats.contigs[chrom] += 1
        if fields[6] == "PASS":
            stats.passed_filter += 1
        alts = [] if alt == "." else alt.split(",")
        if len(alts) > 1:
            stats.multiallelic_sites += 1
        for allele in alts:
            key = (ref, allele)
            kind = self.allele_kinds.get(key)
            if kind is None:
                kind = classify(ref, allele)
                if kind in _SEQUENCE_KINDS and not _ALT.match(allele):
                    raise self.error(f"ALT {allele[:20]!r} is not a sequence, a symbolic allele or '*'")
                if kind == "snv":
                    kind = "snv-ts" if trim(ref.upper(), allele.upper()) in TRANSITIONS else "snv-tv"
                if len(self.allele_kinds) >= _CACHE_LIMIT:
                    self.allele_kinds.clear()
                self.allele_kinds[key] = kind
            if kind == "snv-ts":
                stats.types["snv"] += 1
                stats.transitions += 1
            elif kind == "snv-tv":
                stats.types["snv"] += 1
                stats.transversions += 1
            else:
                stats.types[kind] += 1
        if len(fields) > 9:
            fmt = fields[8]
            if fmt != "GT" and not fmt.startswith("GT:"):
                if "GT" in fmt.split(":"):
                    raise self.error("GT must be the first FORMAT key")
                return
            n_alleles = len(alts) + 1
            cache = self.genotype_kinds.setdefault(n_alleles, {})
            counts = self.counts
            for index, value in enumerate(fields[9:]):
                gt = value.partition(":")[0]
                kind_index = cache.get(gt)
                if kind_index is None:
                    try:
                        kind_index = _KIND_INDEX[_genotype(gt, n_alleles)]
                    except VcfError as error:
                        sample = stats.samples[index]
                        raise VcfError(
                            f"{self.name}: line {self.number}, sample {sample}: {error.reason}",
                            line=self.number,
                            sample=sample,
                            name=self.name,
                        ) from None
                    if len(cache) < _CACHE_LIMIT:
                        cache[gt] = kind_index
                counts[index][kind_index] += 1

    def finish(self) -> VcfStats:
        for sample, (hom_ref, het, hom_alt, missing) in zip(self.stats.samples, self.counts, strict=True):
            self.stats.genotypes[sample] = SampleCounts(hom_ref, het, hom_alt, missing)
        return self.stats


def scan_vcf_lines(lines: Iterable[bytes], *, name: str = "stream") -> VcfStats:
    """Variant statistics of VCF ``lines`` (without newlines)."""
    scanner = _Scanner(name)
    for raw in lines:
        scanner.number += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise scanner.error(f"not UTF-8 text (byte {error.start})") from None
        if not text:
            continue
        if text.startswith("#"):
            scanner.header(text)
        else:
            scanner.record(text)
    if scanner.number == 0:
        raise VcfError(f"{name}: empty file, not VCF", line=0, name=name)
    if not scanner.columns:
        raise VcfError(f"{name}: no #CHROM header line", line=scanner.number, name=name)
    return scanner.finish()


def scan_vcf(chunks: Iterable[bytes], *, name: str = "stream") -> VcfStats:
    """Variant statistics of a VCF file given as byte chunks, plain or gzip/BGZF, in bounded memory."""
    stream = StreamStats()
    stats = scan_vcf_lines(iter_lines(iter_decoded(chunks, name=name, stats=stream), name=name), name=name)
    stats.compressed_bytes = stream.compressed_bytes
    stats.uncompressed_bytes = stream.uncompressed_bytes
    return stats
