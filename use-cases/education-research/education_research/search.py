"""``make search UC=education-research Q="…"``: download the papers' search index and query it.

Where the index comes from:

* ``STACK=<name>`` (a deployed stack, AWS credentials in the environment): the stack's
  ``OutputBucketName`` output, key ``index/papers.sqlite``, downloaded to
  ``build/education-research/search/<stack>.sqlite`` on every call;
* ``INDEX=<path>``: a copy already on disk;
* neither: the embedded local cloud. ``make demo UC=education-research`` leaves its index at
  ``build/education-research/search/papers.sqlite``; when that file is missing (or ``REFRESH=1``),
  the demo runs first to build it (no AWS account needed, about a minute).

The query is FTS5 over title, authors, abstract, keywords and body (each word must match; ``word*``
is a prefix; accents are folded), ranked by BM25, each hit with a snippet and how many papers of
the collection cite it.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def from_stack(stack: str, folder: Path) -> Path:
    """Download the index of a deployed stack (its OutputBucketName output)."""
    import boto3

    from education_research.indexing import INDEX_KEY

    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in boto3.client("cloudformation")
        .describe_stacks(StackName=stack)["Stacks"][0]
        .get("Outputs", [])
    }
    target = folder / f"{stack}.sqlite"
    target.parent.mkdir(parents=True, exist_ok=True)
    boto3.client("s3").download_file(outputs["OutputBucketName"], INDEX_KEY, str(target))
    return target


def from_embedded_cloud(refresh: bool) -> Path:
    """The demo's index, building it on the embedded cloud first when it is missing."""
    from education_research.demo import search_cache

    cache = search_cache()
    if refresh or not cache.exists():
        from scripts.demos import run_demo

        print(f"no index at {cache}: running the demo on the embedded cloud to build it", file=sys.stderr)
        summary = run_demo("education-research", 24, out=lambda line: print(line, file=sys.stderr))
        if not summary.ok or not cache.exists():
            raise SystemExit("the demo did not build the index; run `make demo UC=education-research`")
    return cache


def render(path: Path, query: str, limit: int) -> str:
    from education_research.search_index import search, stats

    connection = sqlite3.connect(path)
    try:
        hits = search(connection, query, limit)
        info = stats(connection)
    finally:
        connection.close()
    lines = [f"{len(hits)} hit(s) for {query!r} in {info['papers']} papers ({path})"]
    for rank, hit in enumerate(hits, start=1):
        authors = ", ".join(hit.authors[:3]) + (" et al." if len(hit.authors) > 3 else "")
        lines.append(f"{rank:>2}. {hit.title} ({hit.year or 'n.d.'}) {authors}")
        lines.append(f"    {hit.doi or 'no DOI'} | cited by {hit.cited_by} | {hit.source_key}")
        lines.append(f"    {' '.join(hit.snippet.split())}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make search UC=education-research", description=__doc__.split("\n")[0]
    )
    parser.add_argument("query")
    parser.add_argument("--stack", default="", help="a deployed stack's name (downloads its index)")
    parser.add_argument("--index", default="", help="an index file already on disk")
    parser.add_argument("--refresh", action="store_true", help="rebuild the embedded cloud's index first")
    parser.add_argument("--limit", type=int, default=10)
    args = parser.parse_args(argv)
    if not args.query.strip():
        parser.error('give a query: make search UC=education-research Q="citation graph"')
    if args.index:
        path = Path(args.index)
    elif args.stack:
        from education_research.demo import search_cache

        path = from_stack(args.stack, search_cache().parent)
    else:
        path = from_embedded_cloud(args.refresh)
    print(render(path, args.query, args.limit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
