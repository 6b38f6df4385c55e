"""The Index step: the run's results into the search index, the citation graph, the dataset and a summary.

It reads the run's chunk list (the key Discover returned), each file's result document under its
version-keyed output key, and nothing else of the run. Then, in ``/tmp``:

1. downloads the current ``index/papers.sqlite`` from the output bucket (a first run starts empty);
2. applies the run's changes (:func:`education_research.search_index.apply_run`): the papers that
   SUCCEEDED replace their file's rows, a FAILED version removes its file's stale rows;
3. uploads the database (multipart, so its size is bounded by ``/tmp``, not memory), the citation
   graph ``index/citation-graph.json``, the run's papers as dataset records
   (``datasets/papers/dt=…/``) and ``runs/<run id>/summary.json``.

A file of the manifest with no result document (its branch failed beyond the Catch) is listed under
``missing`` and left for the next run, which lists it again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from education_research import dataset
from shared.config import CommonConfig, env
from shared.errors import SUCCEEDED, ObjectNotFoundError
from shared.polling.discovery import Chunk, load_chunk
from shared.polling.keys import output_key
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

INDEX_KEY = "index/papers.sqlite"
GRAPH_KEY = "index/citation-graph.json"
UPLOAD_PART = 8 * 1024 * 1024


def summary_key(run_id: str) -> str:
    return f"runs/{run_id}/summary.json"


@dataclasses.dataclass(frozen=True, kw_only=True)
class IndexConfig(CommonConfig):
    output_bucket: str = env("OUTPUT_BUCKET")
    tmp_dir: str = env("TMP_DIR", tempfile.gettempdir())


def run_files(output: S3AccessPoint, chunks_key: str) -> Iterator[dict[str, Any]]:
    """The files of a run's manifest, read chunk by chunk as the Distributed Map read them."""
    for descriptor in json.loads(output.get_bytes(chunks_key)):
        yield from load_chunk(output, Chunk.from_dict(descriptor))


def _file_chunks(path: str, size: int = UPLOAD_PART) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while block := handle.read(size):
            yield block


def _download(output: S3AccessPoint, key: str, path: str) -> bool:
    """Stream ``key`` to ``path``; False when it does not exist yet."""
    try:
        with open(path, "wb") as out:
            for block in output.iter_chunks(key):
                out.write(block)
    except ObjectNotFoundError:
        os.unlink(path)
        return False
    return True


def index_run(
    output: S3AccessPoint, *, run_id: str, chunks_key: str, cfg: IndexConfig, writer_client: Any = None
) -> dict[str, Any]:
    """Update the index, graph and dataset from one run's results (see the module docstring)."""
    from education_research.search_index import apply_run, citation_graph, open_index, stats
    from shared.analytics.writer import DatasetWriter

    succeeded: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    missing: list[str] = []
    comprehend = {"calls": 0, "text_bytes": 0, "chunks": 0}
    languages: dict[str, int] = {}
    for file in run_files(output, chunks_key):
        try:
            body = json.loads(output.get_bytes(output_key(str(file["key"]), str(file["etag"]))))
        except ObjectNotFoundError:
            missing.append(str(file["key"]))
            continue
        if body.get("status") == SUCCEEDED and "paper" in body:
            succeeded.append(body["paper"])
            section = body.get("comprehend") or {}
            if section.get("status") == SUCCEEDED:
                comprehend["calls"] += int(section.get("calls", 0))
                comprehend["text_bytes"] += int(section.get("text_bytes", 0))
                comprehend["chunks"] += int(section.get("chunks", 0))
                languages[section["language"]] = languages.get(section["language"], 0) + 1
        else:
            failures.append(
                {"key": file["key"], "reason": body.get("reason", ""), "error": body.get("error", "")}
            )
    path = os.path.join(cfg.tmp_dir, f"papers-{run_id}.sqlite")
    existed = _download(output, INDEX_KEY, path)
    try:
        connection = open_index(path)
        try:
            changes = apply_run(connection, succeeded, [f["key"] for f in failures], run_id)
            graph = citation_graph(connection)
            index_stats = stats(connection)
        finally:
            connection.close()
        output.upload_multipart(
            INDEX_KEY, _file_chunks(path), part_size=UPLOAD_PART, content_type="application/vnd.sqlite3"
        )
    finally:
        if os.path.exists(path):
            os.unlink(path)
    output.put(GRAPH_KEY, json.dumps(graph, ensure_ascii=False).encode(), content_type="application/json")
    today = datetime.now(UTC).date()
    with DatasetWriter(
        output.target, root=dataset.DATASET_ROOT, run_id=run_id, client=writer_client
    ) as writer:
        for paper in succeeded:
            writer.write(dataset.PAPERS, dataset.paper_record(paper, run_id), dt=today)
    report = {
        "run_id": run_id,
        "status": SUCCEEDED,
        "papers": len(succeeded),
        "failed": len(failures),
        "failures": failures,
        "missing": missing,
        "index_key": INDEX_KEY,
        "index_existed": existed,
        "graph_key": GRAPH_KEY,
        "changes": changes.to_dict(),
        "index": index_stats,
        "graph": {k: graph[k] for k in ("papers", "internal_edges")} | {"edges": len(graph["edges"])},
        "comprehend": {**comprehend, "languages": languages},
        "dataset": writer.summary.to_dict(),
    }
    key = summary_key(run_id)
    output.put(key, json.dumps(report, default=str).encode(), content_type="application/json")
    return {
        "run_id": run_id,
        "status": SUCCEEDED,
        "papers": len(succeeded),
        "failed": len(failures),
        "index_key": INDEX_KEY,
        "graph_key": GRAPH_KEY,
        "summary_key": key,
        "changes": changes.to_dict(),
    }
