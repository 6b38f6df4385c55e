"""UC13 education-research on the embedded local cloud: papers into metadata, citations and a search index.

Three runs: the first reads every seeded paper (one result document per version; the broken files
become FAILED results with their reasons) and builds the SQLite FTS5 index, the citation graph and
the papers dataset; the second finds every version done and processes nothing; the third picks up
one new paper and one revised paper, and the index is updated incrementally (the revised title
replaces the old one, nothing else is rewritten). In between, the index is downloaded and
searched, the graph is read, and Athena (DuckDB on the local cloud) queries the papers table.

The index the demo downloads is kept at ``build/education-research/search/papers.sqlite``, where
``make search UC=education-research Q="…"`` finds it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from education_research import samples
from education_research.indexing import GRAPH_KEY, INDEX_KEY, summary_key

logger = logging.getLogger(__name__)

EXTRA_TOPICS = ("course feedback", "open data", "peer review", "learning analytics", "thesis archives")


def parameters(access_point: Any) -> dict[str, str]:
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "EnableComprehend": "true",
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "MaxFilesPerRun": "100",
    }


def extra_paper(index: int) -> samples.Paper:
    """A filler paper that cites one of the collection's papers by DOI (and has no keyword line)."""
    topic = EXTRA_TOPICS[index % len(EXTRA_TOPICS)]
    cited = samples.COLLECTION[index % 4]
    reference = f"{', '.join(cited.authors)}. {cited.title}. Journal of Scholarly Data, 2024."
    if cited.doi:
        reference += f" doi:{cited.doi}"
    return samples.Paper(
        f"papers/extra/study-{index:03d}.pdf",
        f"A Study of {topic.title()} in University Repositories, Part {index}",
        ("Lin Chen", "Priya Natarajan"),
        f"We analyse {topic} across {10 + index} departments and report how students search the "
        "repository for related work.",
        doi=f"10.5555/extra.{index:03d}",
        references=(reference,),
        body=(f"The {topic} records were collected from {20 + index} courses.",),
    )


def plan(files: int) -> dict[str, bytes]:
    """The collection, the broken files and filler papers up to ``files`` in all (at least the first two)."""
    bodies = {paper.key: paper.pdf() for paper in samples.COLLECTION}
    bodies.update(samples.broken_files())
    index = 0
    while len(bodies) < files:
        paper = extra_paper(index)
        bodies[paper.key] = paper.pdf()
        index += 1
    return bodies


def seed(cloud: Any, access_point: Any, files: int) -> int:
    s3 = cloud.client("s3")
    bodies = plan(min(files, 24))
    for key, body in bodies.items():
        s3.put_object(Bucket=access_point.arn, Key=key, Body=body)
    return len(bodies)


def search_cache(build_root: Path | None = None) -> Path:
    """Where ``make search`` looks for the last downloaded index (the demo writes it)."""
    from scripts.packaging import DEFAULT_BUILD_ROOT

    return (build_root or DEFAULT_BUILD_ROOT) / "education-research" / "search" / "papers.sqlite"


def download_index(cloud: Any, bucket: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    body = cloud.client("s3").get_object(Bucket=bucket, Key=INDEX_KEY)["Body"].read()
    target.write_bytes(body)
    return target


def _json(cloud: Any, bucket: str, key: str) -> Any:
    return json.loads(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def _search(path: Path, query: str) -> list[dict[str, Any]]:
    from education_research.search_index import search

    connection = sqlite3.connect(path)
    try:
        return [hit.to_dict() for hit in search(connection, query, limit=5)]
    finally:
        connection.close()


def _extracted(path: Path, limit: int = 6) -> list[str]:
    """A line per paper of the collection: title, authors, DOI and keywords, as indexed."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT title, authors, doi, keywords, language FROM papers "
            "WHERE source_key NOT LIKE 'papers/extra/%' ORDER BY source_key LIMIT ?",
            (limit,),
        ).fetchall()
    finally:
        connection.close()
    return [
        f"{title} | {', '.join(json.loads(authors))} | {doi or 'no DOI'} | {lang} | "
        f"{'; '.join(json.loads(keywords)[:3])}"
        for title, authors, doi, keywords, lang in rows
    ]


def _athena(cloud: Any, stack: Any) -> list[dict[str, Any]]:
    from shared.analytics.athena import AthenaRunner, AthenaSettings

    # moto leaves out outputs of the resources the local cloud creates itself: find them by name.
    databases = cloud.client("glue").get_databases()["DatabaseList"]
    database = next(d["Name"] for d in databases if d["Name"].startswith("uc13_"))
    settings = AthenaSettings(workgroup=f"{stack.name}-papers", database=database)
    runner = AthenaRunner(settings, client=cloud.client("athena"))
    result = runner.run(
        "SELECT language, COUNT(*) AS papers, SUM(reference_count) AS refs FROM papers "
        "GROUP BY language ORDER BY papers DESC, language",
        deadline_seconds=60,
    )
    return result.rows


def drive(cloud: Any, stack: Any, access_point: Any, summary: Any, step: Any) -> None:
    bucket = stack.outputs.get("OutputBucketName") or stack.physical_ids.get("OutputBucket", "")
    with step("tick the pipeline schedule and wait for the execution"):
        firings = cloud.tick("PipelineSchedule")
        results = cloud.wait_for_executions(timeout_seconds=300)
        result = results[0] if results else None
        ok = bool(firings) and all(f.ok for f in firings) and result is not None and result.succeeded
        detail = f"{result.status} {result.error or ''}".strip() if result else "no execution started"
        summary.flow("pipeline state machine", ok, detail)
    if result is None or not result.succeeded:
        return
    summary.items_per_state = dict(result.states_entered())
    report = _json(cloud, bucket, summary_key(result.name))
    summary.files_detected = int(report["papers"]) + int(report["failed"])
    summary.extra["papers indexed"] = report["papers"]
    summary.extra["FAILED with reasons"] = {
        f["key"].rsplit("/", 1)[-1]: f["error"] for f in report["failures"]
    }
    summary.extra["comprehend"] = report["comprehend"]
    broken = set(samples.broken_files())
    summary.flow(
        "each broken file is a FAILED result with its reason",
        {f["key"] for f in report["failures"]} == broken and all(f["reason"] for f in report["failures"]),
        f"{len(report['failures'])} failed",
    )
    with step("download the search index and query it"):
        local = Path(tempfile.mkdtemp(prefix="uc13-")) / "papers.sqlite"
        download_index(cloud, bucket, local)
        summary.extra["extracted"] = _extracted(local)
        queries = {
            "citation graph": "papers/2023/citation-graphs-in-practice.pdf",
            "busqueda repositorios": "papers/2025/busqueda-en-repositorios.pdf",
            "BM25": "papers/2019/ranking-functions-revisited.pdf",
        }
        found = {q: _search(local, q) for q in queries}
        summary.extra["search"] = {q: [h["title"] for h in hits[:3]] for q, hits in found.items()}
        summary.flow(
            "search finds the paper a query names (diacritics folded, BM25 ranked)",
            all(hits and hits[0]["source_key"] == queries[q] for q, hits in found.items()),
        )
    with step("read the citation graph (keyed by DOI or normalised title)"):
        graph = _json(cloud, bucket, GRAPH_KEY)
        most = max(graph["nodes"], key=lambda n: n["cited_by"])
        summary.extra["citation graph"] = {
            "papers": graph["papers"],
            "nodes": len(graph["nodes"]),
            "edges": len(graph["edges"]),
            "internal edges": graph["internal_edges"],
            "most cited": f"{most['title']} ({most['cited_by']})",
        }
        # "Citation graphs in practice" is cited by DOI in one paper and by its title alone in another:
        # both citations reach the one node keyed by its DOI.
        edges = {(e["from"], e["to"]) for e in graph["edges"]}
        node_keys = {n["key"] for n in graph["nodes"]}
        summary.flow(
            "a work cited with and without its DOI is one node",
            ("doi:10.5555/edu.2021.502", "doi:10.5555/edu.2023.014") in edges
            and ("doi:10.5555/edu.2024.001", "doi:10.5555/edu.2023.014") in edges
            and "title:citation graphs in practice" not in node_keys,
        )
    with step("query the papers table with Athena"):
        rows = _athena(cloud, stack)
        summary.extra["athena papers by language"] = {r["language"]: r["papers"] for r in rows}
        summary.flow("athena papers table", sum(int(r["papers"]) for r in rows) == report["papers"])
    with step("run again: every paper version has its result, so nothing is processed"):
        again = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        idle = again.succeeded and again.states_entered().get("NothingToDo") == 1
        summary.flow("a second run finds nothing new", idle, again.status)
    with step("add a paper and revise another: the index is updated incrementally"):
        s3 = cloud.client("s3")
        new = extra_paper(90)
        s3.put_object(Bucket=access_point.arn, Key=new.key, Body=new.pdf())
        old = samples.COLLECTION[3]
        revised = samples.Paper(
            old.key, "Ranking Functions Revisited Again", old.authors, old.abstract, old.doi,
            old.keywords, old.references, old.body,
        )  # fmt: skip
        s3.put_object(Bucket=access_point.arn, Key=revised.key, Body=revised.pdf())
        third = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        changes = (third.output or {}).get("changes", {}) if isinstance(third.output, dict) else {}
        download_index(cloud, bucket, local)
        again_hits = _search(local, "Revisited Again")
        total = json.loads(json.dumps(_json(cloud, bucket, summary_key(third.name))["index"]))
        summary.extra["incremental run"] = {"changes": changes, "index papers": total["papers"]}
        summary.flow(
            "incremental update: two papers replaced, the rest kept",
            third.succeeded
            and changes.get("upserted") == 2
            and total["papers"] == report["papers"] + 1
            and bool(again_hits)
            and again_hits[0]["source_key"] == old.key,
            f"{changes}",
        )
    with step("keep the index for make search"):
        cache = download_index(cloud, bucket, search_cache(cloud.build_root))
        summary.extra["search index"] = str(cache)
    summary.extra["runs"] = 3
    keys: list[str] = []
    for prefix in ("index/", "runs/", "results/", "datasets/"):
        for page in (
            cloud.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        ):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
    summary.output_keys = sorted(keys)
