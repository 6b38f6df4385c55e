"""FASTQ, VCF and BAM-header readers against hand-written files, including broken ones.

Nothing here comes from ``shared.formats.samples.genomics``: the FASTQ and VCF texts are written
out by hand with their expected statistics counted by hand, gzip comes from Python's :mod:`gzip`,
and the BAM bytes are laid out field by field from SAMv1 section 4.2 in BGZF blocks built from
section 4.1.
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib

import pytest

from shared.formats.bam import BamError, read_bam_header
from shared.formats.fastq import FastqError, detect_encoding, scan_fastq
from shared.formats.gzstream import CompressedStreamError
from shared.formats.vcf import VcfError, classify, scan_vcf

# -- FASTQ -------------------------------------------------------------------------------------

# Two reads. Read 1: GCNA, qualities I(40) I(40) 5(20) +(10) -> GC 2, N 1, Q30 2.
# Read 2: ACGTAC, qualities ?(30) ?(30) ?(30) #(2) #(2) #(2) -> GC 3, Q30 3.
FASTQ = b"@r1 desc\nGCNA\n+\nII5+\n@r2\nACGTAC\n+r2\n???###\n"


def test_fastq_statistics_counted_by_hand() -> None:
    stats = scan_fastq([FASTQ], name="hand.fastq")
    assert (stats.reads, stats.bases, stats.gc_bases, stats.n_bases, stats.q30_bases) == (2, 10, 5, 1, 5)
    assert stats.encoding == "phred33"
    assert stats.mean_quality == pytest.approx((40 + 40 + 20 + 10 + 30 * 3 + 2 * 3) / 10)
    assert stats.gc_percent == pytest.approx(50.0)
    assert stats.q30_fraction == pytest.approx(0.5)
    assert stats.length_distribution() == {"4": 1, "6": 1}


def test_fastq_gz_in_tiny_chunks_gives_the_same_answer() -> None:
    data = gzip.compress(FASTQ * 3000)
    chunks = [data[i : i + 97] for i in range(0, len(data), 97)]
    stats = scan_fastq(chunks, name="hand.fastq.gz")
    assert stats.reads == 6000 and stats.q30_bases == 15000
    assert stats.compressed_bytes == len(data)


def test_phred64_is_detected_and_scored_with_its_offset() -> None:
    # Qualities h(40) h(40) T(20) J(10) in Phred+64.
    stats = scan_fastq([b"@r1\nACGT\n+\nhhTJ\n"])
    assert stats.encoding == "phred64"
    assert stats.mean_quality == pytest.approx(27.5)
    assert stats.q30_bases == 2


def test_encoding_rules() -> None:
    assert detect_encoding(ord("#"), ord("J")) == "phred33"
    assert detect_encoding(ord("@"), ord("h")) == "phred64"
    assert detect_encoding(ord("!"), ord("~")) == "phred33"  # long reads reach Q93 in Phred+33
    with pytest.raises(FastqError):
        detect_encoding(10, 70)


@pytest.mark.parametrize(
    ("data", "line", "words"),
    [
        (b"@r1\nACGT\n+\nIII\n", 4, "sequence is 4 bases but quality"),
        (b"@r1\nAC\n+\nII\nr2\nAC\n+\nII\n", 5, "should start a record with '@'"),
        (b"@r1\nAC\n-\nII\n", 3, "separator"),
        (b"@r1\nAC\n+\nII\n@r2\nAC\n", 6, "cut short"),
        (b"@r1\nAX\n+\nII\n", 2, "not a nucleotide"),
        (b"@r1\nAC\n+\nII\n\n@r2\nAC\n+\nII\n", 5, "blank line"),
    ],
)
def test_broken_fastq_names_its_line(data: bytes, line: int, words: str) -> None:
    with pytest.raises(FastqError, match=words) as caught:
        scan_fastq([data], name="bad.fastq")
    assert caught.value.details["line"] == line


def test_quality_outside_the_detected_encoding_is_an_error() -> None:
    first = b"".join(b"@r%d\nACGT\n+\nhhhh\n" % i for i in range(5000))
    with pytest.raises(FastqError, match="outside phred64") as caught:
        scan_fastq([first + b"@late\nACGT\n+\n!!!!\n"])
    assert caught.value.details["line"] == 20004


def test_truncated_fastq_gz_is_a_compressed_stream_error() -> None:
    data = gzip.compress(FASTQ * 100)
    with pytest.raises(CompressedStreamError, match="truncated"):
        scan_fastq([data[:-20]], name="cut.fastq.gz")


# -- VCF ---------------------------------------------------------------------------------------

VCF = """##fileformat=VCFv4.2
##contig=<ID=1>
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3
1\t100\t.\tA\tG\t50\tPASS\t.\tGT\t0/1\t1/1\t./.
1\t200\t.\tC\tA\t50\tPASS\t.\tGT:DP\t0|0:3\t.:.\t0/1:9
1\t300\t.\tCTT\tC,CT\t50\tq10\t.\tGT\t1/2\t2/2\t0/0
1\t400\t.\tACG\tATG\t50\tPASS\t.\tGT\t0/1\t./1\t1
1\t500\t.\tA\tAGT,G,*\t50\tPASS\t.\tGT\t0/3\t1/2\t0
2\t600\t.\tAC\tGT\t50\tPASS\t.\tGT\t0/1\t0/0\t0/0
2\t700\t.\tG\t<DEL>\t50\tPASS\t.\tGT\t0/1\t0/0\t./.
"""


def test_vcf_counts_by_hand() -> None:
    stats = scan_vcf([VCF.encode()], name="hand.vcf").to_dict()
    assert stats["records"] == 7
    assert stats["multiallelic_sites"] == 2
    assert stats["variant_types"] == {
        "snv": 4,  # A>G, C>A, ACG>ATG (C>T after trimming), A>G at 500
        "mnv": 1,  # AC>GT
        "insertion": 1,  # A>AGT
        "deletion": 2,  # CTT>C and CTT>CT
        "complex": 0,
        "symbolic": 1,
        "spanning_deletion": 1,
    }
    assert (stats["transitions"], stats["transversions"]) == (3, 1)  # A>G twice, C>T; C>A
    assert stats["genotypes"] == {
        "S1": {"hom_ref": 1, "het": 6, "hom_alt": 0, "missing": 0},
        "S2": {"hom_ref": 2, "het": 1, "hom_alt": 2, "missing": 2},
        "S3": {"hom_ref": 3, "het": 1, "hom_alt": 1, "missing": 2},
    }
    assert stats["passed_filter"] == 6


def test_vcf_bgzf_built_from_the_spec() -> None:
    payload = VCF.encode()
    cdata = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = cdata.compress(payload) + cdata.flush()
    block = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00" + struct.pack("<H", 25 + len(body))
    block += body + struct.pack("<II", zlib.crc32(payload), len(payload))
    eof = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
    assert gzip.decompress(block + eof) == payload
    assert scan_vcf([block + eof]).records == 7


@pytest.mark.parametrize(
    ("ref", "alt", "kind"),
    [("A", "T", "snv"), ("CTT", "CT", "deletion"), ("ACG", "ATG", "snv"), ("AC", "GTT", "complex"),
     ("A", "ACC", "insertion"), ("AT", "GC", "mnv"), ("A", "A[2:300[", "symbolic"),
     ("A", "*", "spanning_deletion")],
)  # fmt: skip
def test_classify(ref: str, alt: str, kind: str) -> None:
    assert classify(ref, alt) == kind


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("#CHROM\tPOS\n", 1, "##fileformat"),
        ("##fileformat=VCFv4.2\n1\t1\t.\tA\tG\t.\t.\t.\n", 2, "before the #CHROM"),
        (VCF + "1\t900\t.\tA\tG\t50\tPASS\t.\tGT\t0/1\t0/1\n", 11, "columns"),
        (VCF + "1\t900\t.\tA\tG\t50\tPASS\t.\tGT\t0/1\t0/2\t0/0\n", 11, "allele the record does not have"),
        (VCF + "1\tx\t.\tA\tG\t50\tPASS\t.\tGT\t0/1\t0/1\t0/0\n", 11, "POS"),
        (VCF + "1\t9\t.\tA\tQ\t50\tPASS\t.\tGT\t0/1\t0/1\t0/0\n", 11, "ALT"),
    ],
)
def test_broken_vcf_names_its_line(text: str, line: int, words: str) -> None:
    with pytest.raises(VcfError, match=words) as caught:
        scan_vcf([text.encode()], name="bad.vcf")
    assert caught.value.details["line"] == line


def test_a_bad_genotype_names_the_sample() -> None:
    with pytest.raises(VcfError) as caught:
        scan_vcf([(VCF + "1\t900\t.\tA\tG\t50\tPASS\t.\tGT\t0/1\t0/1\t0/5\n").encode()])
    assert caught.value.details["sample"] == "S3"


# -- BAM header --------------------------------------------------------------------------------


def _bgzf(payload: bytes) -> bytes:
    blocks = b""
    for start in range(0, len(payload), 30000):
        part = payload[start : start + 30000]
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = compressor.compress(part) + compressor.flush()
        blocks += b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"
        blocks += struct.pack("<H", 25 + len(body)) + body + struct.pack("<II", zlib.crc32(part), len(part))
    return blocks + bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def _bam_header(text: str, refs: list[tuple[bytes, int]]) -> bytes:
    raw = text.encode()
    out = b"BAM\x01" + struct.pack("<i", len(raw)) + raw + struct.pack("<i", len(refs))
    for name, length in refs:
        out += struct.pack("<i", len(name) + 1) + name + b"\x00" + struct.pack("<i", length)
    return out


HEADER_TEXT = (
    "@HD\tVN:1.6\tSO:coordinate\n@SQ\tSN:chr1\tLN:1000\n@SQ\tSN:chrM\tLN:16569\n"
    "@RG\tID:L1\tSM:NA12878\tPL:ILLUMINA\n@RG\tID:L2\tSM:NA12878\n@PG\tID:bwa\tPN:bwa\n"
)
REFS = [(b"chr1", 1000), (b"chrM", 16569)]


def test_bam_header_from_hand_built_bytes_reads_only_the_first_blocks() -> None:
    alignments = bytes(range(256)) * 4000  # stands in for the records: never read
    data = _bgzf(_bam_header(HEADER_TEXT, REFS) + alignments)
    assert gzip.decompress(data).startswith(b"BAM\x01")
    header = read_bam_header(io.BytesIO(data), name="hand.bam").to_dict()
    assert header["references"] == [{"name": "chr1", "length": 1000}, {"name": "chrM", "length": 16569}]
    assert [rg["ID"] for rg in header["read_groups"]] == ["L1", "L2"]
    assert header["samples"] == ["NA12878"]
    assert (header["version"], header["sort_order"], header["programs"]) == ("1.6", "coordinate", ["bwa"])
    assert header["bgzf_blocks_read"] == 1
    assert header["eof_marker"] is True


def test_a_truncated_bam_lacks_its_eof_marker() -> None:
    data = _bgzf(_bam_header(HEADER_TEXT, REFS) + b"\x00" * 100_000)
    assert read_bam_header(io.BytesIO(data[:-28])).eof_marker is False


def test_broken_bams() -> None:
    with pytest.raises(BamError, match="not BAM"):
        read_bam_header(io.BytesIO(_bgzf(b"SAM\x01" + b"\x00" * 100)))
    with pytest.raises(CompressedStreamError, match="not BGZF"):
        read_bam_header(io.BytesIO(gzip.compress(_bam_header(HEADER_TEXT, REFS))))
    with pytest.raises(BamError, match="l_text"):
        read_bam_header(io.BytesIO(_bgzf(b"BAM\x01" + struct.pack("<i", -5))))
    with pytest.raises(BamError, match="disagree at reference 1"):
        read_bam_header(io.BytesIO(_bgzf(_bam_header(HEADER_TEXT, [(b"chr1", 1000), (b"chr2", 5)]))))
    cut = _bgzf(_bam_header(HEADER_TEXT, REFS))
    with pytest.raises(CompressedStreamError, match="truncated"):
        read_bam_header(io.BytesIO(cut[:40]))
    short = _bgzf(_bam_header(HEADER_TEXT, REFS)[:50])
    with pytest.raises(CompressedStreamError, match="ends inside the header text"):
        read_bam_header(io.BytesIO(short))
