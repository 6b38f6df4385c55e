"""The Paper and Index steps over moto: result documents, FAILED reasons, Comprehend, the index in S3."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from education_research import samples
from education_research.indexing import GRAPH_KEY, INDEX_KEY, IndexConfig, index_run, summary_key
from education_research.process import PaperConfig, SourceFile, process_paper
from education_research.search_index import search
from scripts.localcloud.comprehend import ComprehendStandIn
from shared.language.comprehend import Comprehend
from shared.polling.discovery import discover
from shared.polling.keys import output_key
from shared.polling.results import result_document, write_result
from shared.s3ap import S3AccessPoint

OUTPUT = "uc13-output"


@pytest.fixture
def stand_in() -> Iterator[ComprehendStandIn]:
    comprehend = ComprehendStandIn()
    comprehend.install()
    try:
        yield comprehend
    finally:
        comprehend.uninstall()


@pytest.fixture
def stores(access_point: dict[str, Any], stand_in: ComprehendStandIn) -> tuple[S3AccessPoint, S3AccessPoint]:
    s3 = access_point["client"]
    s3.create_bucket(Bucket=OUTPUT)
    return S3AccessPoint(access_point["arn"], s3), S3AccessPoint(OUTPUT, s3)


def cfg(**overrides: Any) -> PaperConfig:
    values: dict[str, Any] = {"use_case": "education-research", "access_point": "ap", "output_bucket": OUTPUT}
    return PaperConfig(**{**values, **overrides})


def put(source: S3AccessPoint, key: str, body: bytes) -> SourceFile:
    source.put(key, body)
    info = source.head(key)
    return SourceFile(key, info.etag, info.size)


def run(source: S3AccessPoint, output: S3AccessPoint, file: SourceFile, **overrides: Any) -> dict[str, Any]:
    comprehend = Comprehend(boto3.client("comprehend", region_name="us-east-1"))
    summary = process_paper(source, output, file, run_id="run-1", cfg=cfg(**overrides), comprehend=comprehend)
    body: dict[str, Any] = json.loads(output.get_bytes(summary["output_key"]))
    return body


def test_a_paper_becomes_its_result_document(stores: tuple[S3AccessPoint, S3AccessPoint]) -> None:
    source, output = stores
    paper = samples.COLLECTION[3]  # no keyword line: the keywords come from Comprehend key phrases
    file = put(source, paper.key, paper.pdf())
    body = run(source, output, file)
    assert body["status"] == "SUCCEEDED"
    assert body["output_key"] == output_key(file.key, file.etag)
    section = body["paper"]
    assert section["title"] == paper.title and section["doi"] == paper.doi
    assert section["keywords_source"] == "comprehend" and section["keywords"]
    flat = " ".join(section["body"].split()).lower()
    assert all(k in flat for k in section["keywords"])
    assert body["comprehend"]["language"] == "en"
    assert body["comprehend"]["calls"] == 2  # DetectDominantLanguage + one DetectKeyPhrases chunk


def test_comprehend_off_leaves_keywords_from_the_paper(stores: tuple[S3AccessPoint, S3AccessPoint]) -> None:
    source, output = stores
    paper = samples.COLLECTION[3]
    body = run(source, output, put(source, paper.key, paper.pdf()), enable_comprehend=False)
    assert body["paper"]["keywords"] == [] and body["comprehend"]["status"] == "SKIPPED"


@pytest.mark.parametrize("key", sorted(samples.broken_files()))
def test_broken_files_are_failed_results_with_reasons(
    stores: tuple[S3AccessPoint, S3AccessPoint], key: str
) -> None:
    source, output = stores
    body = run(source, output, put(source, key, samples.broken_files()[key]))
    assert body["status"] == "FAILED"
    assert body["reason"] and key in body["reason"]
    assert body["error"].endswith("Error") and "paper" not in body


def test_a_file_above_the_size_limit_is_not_read(stores: tuple[S3AccessPoint, S3AccessPoint]) -> None:
    source, output = stores
    file = put(source, "papers/huge.pdf", samples.COLLECTION[0].pdf())
    body = run(source, output, SourceFile(file.key, file.etag, 2 * 1024 * 1024), max_pdf_mib=1)
    assert body["status"] == "FAILED" and "MAX_PDF_MIB=1" in body["reason"]


def discovered(source: S3AccessPoint, output: S3AccessPoint, run_id: str) -> str:
    """The run's chunk list, written by the skeleton's own discovery."""
    return discover(source, output, run_id=run_id, suffixes=(".pdf",)).chunks_key


def test_index_step_reads_the_run_and_builds_index_graph_dataset(
    stores: tuple[S3AccessPoint, S3AccessPoint], tmp_path: Path
) -> None:
    source, output = stores
    files = [put(source, p.key, p.pdf()) for p in samples.COLLECTION[:3]]
    broken = put(source, "papers/broken/truncated.pdf", samples.broken_files()["papers/broken/truncated.pdf"])
    chunks_key = discovered(source, output, "run-1")
    for file in [*files, broken]:
        run(source, output, file)
    index_cfg = IndexConfig(use_case="education-research", output_bucket=OUTPUT, tmp_dir=str(tmp_path))
    answer = index_run(output, run_id="run-1", chunks_key=chunks_key, cfg=index_cfg)
    assert answer["papers"] == 3 and answer["failed"] == 1
    assert answer["changes"] == {"upserted": 3, "removed": 1 - 1, "citations": 6}
    report = json.loads(output.get_bytes(summary_key("run-1")))
    assert report["failures"][0]["error"] == "CorruptPdfError"
    assert report["dataset"]["records"] == {"papers": 3}
    graph = json.loads(output.get_bytes(GRAPH_KEY))
    assert graph["papers"] == 3 and graph["internal_edges"] == 3
    local = tmp_path / "downloaded.sqlite"
    local.write_bytes(output.get_bytes(INDEX_KEY))
    connection = sqlite3.connect(local)
    assert search(connection, "metadata quality")[0].title == samples.COLLECTION[2].title
    connection.close()


def test_index_step_lists_a_file_without_result_as_missing(
    stores: tuple[S3AccessPoint, S3AccessPoint], tmp_path: Path
) -> None:
    source, output = stores
    a = put(source, "papers/a.pdf", b"%PDF-")
    put(source, "papers/b.pdf", b"%PDF-")
    chunks_key = discovered(source, output, "r")
    write_result(output, result_document(key=a.key, etag=a.etag, status="FAILED", reason="boom"))
    index_cfg = IndexConfig(use_case="education-research", output_bucket=OUTPUT, tmp_dir=str(tmp_path))
    index_run(output, run_id="r", chunks_key=chunks_key, cfg=index_cfg)
    report = json.loads(output.get_bytes(summary_key("r")))
    assert report["missing"] == ["papers/b.pdf"] and report["failed"] == 1 and report["papers"] == 0


def test_a_paper_with_a_keyword_line_costs_one_comprehend_call(
    stores: tuple[S3AccessPoint, S3AccessPoint],
) -> None:
    source, output = stores
    paper = samples.COLLECTION[0]
    body = run(source, output, put(source, paper.key, paper.pdf()), language_chars=500)
    section = body["comprehend"]
    assert section["calls"] == 1 and section["sent_chars"] == 500
    assert section["skipped"] == {"key_phrases": "the paper has a keyword line"}
    assert body["paper"]["keywords_source"] == "paper"
