"""Sample FASTQ, VCF and BAM files for UC7's demo, tests and bench, including broken ones.

Writers only (never used by a function): FASTQ in Phred+33 or Phred+64, plain or gzip; VCF with
SNVs, MNVs, indels, multi-allelic sites and missing genotypes, plain or BGZF; BAM with a header
(``@HD``, ``@SQ``, ``@RG``, ``@PG``), alignment records and the BGZF end-of-file block. Each
writer is deterministic for a seed. The reader tests use their own hand-built bytes, not these.
"""

from __future__ import annotations

import gzip
import logging
import random
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
BGZF_PAYLOAD = 65280  # what htslib puts in one block
BASES = "ACGT"


def bgzf_compress(data: bytes, *, level: int = 6) -> bytes:
    """``data`` as BGZF: blocks of at most 65280 bytes each, then the end-of-file block."""
    out = bytearray()
    for start in range(0, len(data), BGZF_PAYLOAD):
        payload = data[start : start + BGZF_PAYLOAD]
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        cdata = compressor.compress(payload) + compressor.flush()
        header = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"
        out += header + struct.pack("<H", 18 + len(cdata) + 8 - 1) + cdata
        out += struct.pack("<II", zlib.crc32(payload), len(payload))
    return bytes(out + BGZF_EOF)


# -- FASTQ ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FastqSpec:
    reads: int = 200
    length: int = 100
    vary_length: bool = False
    phred: int = 33
    gc: float = 0.45
    n_rate: float = 0.002
    mean_quality: float = 40.0
    seed: int = 0


def fastq_records(spec: FastqSpec) -> Iterator[bytes]:
    rng = random.Random(spec.seed)
    weights = [(1 - spec.gc) / 2, spec.gc / 2, spec.gc / 2, (1 - spec.gc) / 2]
    for index in range(spec.reads):
        length = spec.length - rng.randrange(0, spec.length // 3) if spec.vary_length else spec.length
        seq = "".join(
            "N" if rng.random() < spec.n_rate else rng.choices(BASES, weights)[0] for _ in range(length)
        )
        # Quality falls along the read, as on an Illumina run.
        mean = spec.mean_quality
        quals = [max(2, min(41, int(rng.gauss(mean - 8 * i / length, 4)))) for i in range(length)]
        qual = "".join(chr(q + spec.phred) for q in quals)
        yield f"@read{index}/1 sample={spec.seed}\n{seq}\n+\n{qual}\n".encode()


def write_fastq(spec: FastqSpec, *, compress: bool = False) -> bytes:
    data = b"".join(fastq_records(spec))
    return gzip.compress(data, mtime=0) if compress else data


def fastq_length_mismatch(spec: FastqSpec) -> bytes:
    """A FASTQ whose third record's quality is one character short (line 12)."""
    records = list(fastq_records(spec))
    head, seq, plus, qual, _ = records[2].split(b"\n")
    records[2] = b"\n".join((head, seq, plus, qual[:-1], b""))
    return b"".join(records)


# -- VCF -----------------------------------------------------------------------------------------

VCF_HEADER = (
    "##fileformat=VCFv4.3\n"
    "##contig=<ID=chr1,length=248956422>\n##contig=<ID=chr2,length=242193529>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">\n'
)


def write_vcf(
    samples: Sequence[str] = ("NA12878", "NA12891", "NA12892"), *, sites: int = 60, seed: int = 0
) -> str:
    """A VCF of ``sites`` records mixing every variant type, multi-allelic sites and ``./.``."""
    rng = random.Random(seed)
    lines = [VCF_HEADER + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples)]
    position = 10_000
    shapes = [
        ("A", "G"), ("C", "T"), ("G", "T"), ("A", "C"), ("T", "C"), ("G", "A"), ("C", "T"),
        ("AC", "GT"), ("A", "AGT"), ("CTT", "C"), ("CTT", "C,CT"), ("A", "G,T"), ("G", "<DEL>"),
    ]  # fmt: skip
    for index in range(sites):
        position += rng.randrange(50, 5000)
        ref, alt = shapes[index % len(shapes)]
        n_alt = alt.count(",") + 1
        genotypes = []
        for _ in samples:
            roll = rng.random()
            if roll < 0.1:
                gt = "./."
            elif roll < 0.4:
                gt = "0/0"
            elif roll < 0.75:
                gt = f"0/{rng.randint(1, n_alt)}"
            else:
                allele = rng.randint(1, n_alt)
                gt = f"{allele}|{allele}"
            genotypes.append(f"{gt}:{rng.randint(5, 60)}")
        chrom = "chr1" if index < sites * 2 // 3 else "chr2"
        filt = "PASS" if rng.random() < 0.9 else "LowQual"
        lines.append(
            f"{chrom}\t{position}\t.\t{ref}\t{alt}\t{rng.randint(20, 99)}\t{filt}\tDP={rng.randint(10, 200)}"
            f"\tGT:DP\t" + "\t".join(genotypes)
        )
    return "\n".join(lines) + "\n"


# -- BAM -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BamSpec:
    references: tuple[tuple[str, int], ...] = (("chr1", 248956422), ("chr2", 242193529), ("chrM", 16569))
    read_groups: tuple[tuple[str, str], ...] = (("rg1", "NA12878"), ("rg2", "NA12878"))
    records: int = 500
    read_length: int = 100
    seed: int = 0


def _bam_record(rng: random.Random, spec: BamSpec, index: int) -> bytes:
    name = f"read{index}".encode() + b"\x00"
    ref_id = rng.randrange(len(spec.references))
    position = rng.randrange(0, max(1, spec.references[ref_id][1] - spec.read_length))
    length = spec.read_length
    cigar = struct.pack("<I", length << 4)  # <length>M
    seq = bytes(rng.choice((0x11, 0x12, 0x24, 0x48, 0x81, 0x84)) for _ in range((length + 1) // 2))
    qual = bytes(rng.randint(20, 40) for _ in range(length))
    rg = f"RGZ{spec.read_groups[index % len(spec.read_groups)][0]}\x00".encode()
    body = struct.pack("<iiBBHHHiiii", ref_id, position, len(name), 60, 4680, 1, 0, length, -1, -1, 0)
    body += name + cigar + seq + qual + rg
    return struct.pack("<i", len(body)) + body


def write_bam(spec: BamSpec, *, header_padding: int = 0) -> bytes:
    """A BAM file: header (``header_padding`` extra ``@CO`` bytes), alignment records, EOF block."""
    text_lines = ["@HD\tVN:1.6\tSO:coordinate"]
    text_lines += [f"@SQ\tSN:{name}\tLN:{length}" for name, length in spec.references]
    text_lines += [f"@RG\tID:{rg}\tSM:{sample}\tPL:ILLUMINA\tLB:lib1" for rg, sample in spec.read_groups]
    text_lines.append("@PG\tID:bwa\tPN:bwa\tVN:0.7.17")
    if header_padding:
        text_lines.append("@CO\t" + "x" * header_padding)
    text = ("\n".join(text_lines) + "\n").encode()
    data = bytearray(
        b"BAM\x01" + struct.pack("<i", len(text)) + text + struct.pack("<i", len(spec.references))
    )
    for name, length in spec.references:
        raw = name.encode() + b"\x00"
        data += struct.pack("<i", len(raw)) + raw + struct.pack("<i", length)
    rng = random.Random(spec.seed)
    for index in range(spec.records):
        data += _bam_record(rng, spec, index)
    return bgzf_compress(bytes(data))
