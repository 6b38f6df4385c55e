"""The papers' search index: one SQLite database with an FTS5 table and the citation graph.

The database (``index/papers.sqlite`` in the output bucket) holds:

* ``papers``: one row per source file (its key, ETag, graph key, title, authors, DOI, year,
  keywords, language, pages, the run that indexed it);
* ``papers_fts``: an FTS5 table over title, authors, abstract, keywords and body text (the
  ``unicode61`` tokenizer with diacritics removed, so ``busqueda`` finds ``Búsqueda``), ranked with
  BM25 (title and keywords weigh most);
* ``citations``: one row per reference of each paper: the citing paper's key and the cited work's
  key (DOI, else normalised title; a title key that names a paper of the collection resolves to
  that paper's key, so a work cited with and without its DOI is one node).

:func:`apply_run` updates it incrementally: rows of the run's papers are replaced (a new version
replaces the old one of the same file; a version that FAILED removes the stale row), nothing else
is touched. Runs never overlap (the polling skeleton's check), so the aggregation step's
download-update-upload cannot race another run.

FTS5 must be compiled into the ``sqlite3`` library: :func:`require_fts5` runs at import and raises
:class:`Fts5UnavailableError` with the SQLite version when it is not. The python3.12 Lambda runtime
(Amazon Linux 2023) ships its own SQLite 3.40-era build with FTS5, as CPython's own builds do;
``tests/education_research`` asserts the check and ``README.md`` records the sources.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from education_research.references import normalise_title

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# BM25 weights of papers_fts columns: paper_id (unindexed), title, authors, abstract, keywords, body.
BM25_WEIGHTS = (0.0, 10.0, 4.0, 3.0, 6.0, 1.0)


class Fts5UnavailableError(RuntimeError):
    """This Python's sqlite3 library was built without FTS5."""


def require_fts5() -> str:
    """The SQLite version, after checking that FTS5 works (raises :class:`Fts5UnavailableError`)."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE VIRTUAL TABLE fts5_probe USING fts5(x)")
    except sqlite3.OperationalError as error:
        raise Fts5UnavailableError(
            f"the sqlite3 library (SQLite {sqlite3.sqlite_version}) has no FTS5 ({error}); the search "
            "index needs it: use the python3.12 Lambda runtime or a Python built with SQLITE_ENABLE_FTS5"
        ) from error
    finally:
        connection.close()
    return sqlite3.sqlite_version


SQLITE_VERSION = require_fts5()

_DDL = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS papers (
    source_key TEXT PRIMARY KEY,
    etag TEXT NOT NULL,
    paper_key TEXT NOT NULL,
    title TEXT NOT NULL,
    title_norm TEXT NOT NULL,
    authors TEXT NOT NULL,
    doi TEXT NOT NULL,
    year INTEGER,
    keywords TEXT NOT NULL,
    language TEXT NOT NULL,
    pages INTEGER NOT NULL,
    run_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS papers_by_key ON papers (paper_key);
CREATE INDEX IF NOT EXISTS papers_by_title ON papers (title_norm);
CREATE VIRTUAL TABLE IF NOT EXISTS papers_fts USING fts5(
    source_key UNINDEXED, title, authors, abstract, keywords, body,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS citations (
    citing_source_key TEXT NOT NULL,
    cited_key TEXT NOT NULL,
    cited_title TEXT NOT NULL,
    cited_doi TEXT NOT NULL,
    cited_year INTEGER
);
CREATE INDEX IF NOT EXISTS citations_by_citing ON citations (citing_source_key);
CREATE INDEX IF NOT EXISTS citations_by_cited ON citations (cited_key);
"""


def open_index(path: str) -> sqlite3.Connection:
    """The index at ``path`` (created when missing), with its schema in place."""
    connection = sqlite3.connect(path)
    connection.executescript(_DDL)
    connection.execute(
        "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )
    return connection


@dataclass
class RunChanges:
    """What one run changed in the index."""

    upserted: int = 0
    removed: int = 0
    citations: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"upserted": self.upserted, "removed": self.removed, "citations": self.citations}


def _remove(connection: sqlite3.Connection, source_key: str) -> int:
    removed = connection.execute("DELETE FROM papers WHERE source_key = ?", (source_key,)).rowcount
    connection.execute("DELETE FROM papers_fts WHERE source_key = ?", (source_key,))
    connection.execute("DELETE FROM citations WHERE citing_source_key = ?", (source_key,))
    return int(removed)


def upsert_paper(connection: sqlite3.Connection, paper: Mapping[str, Any], run_id: str) -> int:
    """Replace the rows of ``paper`` (a result document's ``paper`` section); returns its citations."""
    key = str(paper["source_key"])
    _remove(connection, key)
    keywords = list(paper.get("keywords") or [])
    authors = list(paper.get("authors") or [])
    connection.execute(
        "INSERT INTO papers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key,
            str(paper.get("etag", "")),
            str(paper["paper_key"]),
            str(paper.get("title", "")),
            normalise_title(str(paper.get("title", ""))),
            json.dumps(authors, ensure_ascii=False),
            str(paper.get("doi", "")),
            paper.get("year"),
            json.dumps(keywords, ensure_ascii=False),
            str(paper.get("language", "")),
            int(paper.get("pages", 0)),
            run_id,
        ),
    )
    connection.execute(
        "INSERT INTO papers_fts VALUES (?, ?, ?, ?, ?, ?)",
        (
            key,
            str(paper.get("title", "")),
            "; ".join(authors),
            str(paper.get("abstract", "")),
            "; ".join(keywords),
            str(paper.get("body", "")),
        ),
    )
    references = list(paper.get("references") or [])
    connection.executemany(
        "INSERT INTO citations VALUES (?, ?, ?, ?, ?)",
        [
            (key, str(r["key"]), str(r.get("title", "")), str(r.get("doi", "")), r.get("year"))
            for r in references
            if r.get("key")
        ],
    )
    return sum(1 for r in references if r.get("key"))


def apply_run(
    connection: sqlite3.Connection,
    succeeded: Iterable[Mapping[str, Any]],
    failed_keys: Iterable[str],
    run_id: str,
) -> RunChanges:
    """Upsert the run's papers and remove the rows of its failed versions, in one transaction."""
    changes = RunChanges()
    with connection:
        for paper in succeeded:
            changes.citations += upsert_paper(connection, paper, run_id)
            changes.upserted += 1
        for key in failed_keys:
            changes.removed += _remove(connection, key)
        connection.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('last_run_id', ?)", (run_id,))
    return changes


@dataclass(frozen=True)
class Hit:
    source_key: str
    title: str
    authors: list[str]
    doi: str
    year: int | None
    score: float
    snippet: str
    cited_by: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_key": self.source_key,
            "title": self.title,
            "authors": self.authors,
            "doi": self.doi,
            "year": self.year,
            "score": self.score,
            "snippet": self.snippet,
            "cited_by": self.cited_by,
        }


def fts_query(text: str) -> str:
    """A user's words as an FTS5 query: each word a quoted term (all must match), ``*`` kept as prefix."""
    terms = []
    for word in text.split():
        prefix = word.endswith("*")
        word = word.rstrip("*").replace('"', '""')
        if word:
            terms.append(f'"{word}"' + ("*" if prefix else ""))
    return " ".join(terms)


def _graph_key_sql() -> str:
    """The cited key resolved to a collection paper's key when a title key names one."""
    return (
        "COALESCE((SELECT p.paper_key FROM papers p WHERE c.cited_key = 'title:' || p.title_norm LIMIT 1),"
        " c.cited_key)"
    )


def search(connection: sqlite3.Connection, text: str, limit: int = 10) -> list[Hit]:
    """Papers matching ``text``, best first (BM25), with a snippet and their in-collection citations."""
    query = fts_query(text)
    if not query:
        return []
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    rows = connection.execute(
        f"""
        SELECT p.source_key, p.title, p.authors, p.doi, p.year, bm25(papers_fts, {weights}) AS rank,
               snippet(papers_fts, -1, '[', ']', ' … ', 12),
               (SELECT COUNT(DISTINCT c.citing_source_key) FROM citations c
                 WHERE c.citing_source_key != p.source_key
                   AND {_graph_key_sql()} = p.paper_key) AS cited_by
        FROM papers_fts JOIN papers p ON p.source_key = papers_fts.source_key
        WHERE papers_fts MATCH ?
        ORDER BY rank LIMIT ?
        """,
        (query, limit),
    ).fetchall()
    return [
        Hit(row[0], row[1], json.loads(row[2]), row[3], row[4], round(-float(row[5]), 6), row[6], int(row[7]))
        for row in rows
    ]


def citation_graph(connection: sqlite3.Connection) -> dict[str, Any]:
    """Nodes (papers of the collection and the works they cite) and edges, keyed by DOI or title."""
    nodes: dict[str, dict[str, Any]] = {}
    for key, title, doi, year, source in connection.execute(
        "SELECT paper_key, title, doi, year, source_key FROM papers ORDER BY source_key"
    ):
        nodes[key] = {
            "key": key,
            "title": title,
            "doi": doi,
            "year": year,
            "in_collection": True,
            "file": source,
        }
    edges = []
    for citing, cited, title, doi, year in connection.execute(
        f"""SELECT p.paper_key, {_graph_key_sql()}, c.cited_title, c.cited_doi, c.cited_year
            FROM citations c JOIN papers p ON p.source_key = c.citing_source_key
            ORDER BY p.paper_key, c.rowid"""
    ):
        nodes.setdefault(
            cited, {"key": cited, "title": title, "doi": doi, "year": year, "in_collection": False}
        )
        edges.append({"from": citing, "to": cited})
    cited_by: dict[str, int] = {}
    for edge in {(e["from"], e["to"]) for e in edges}:
        cited_by[edge[1]] = cited_by.get(edge[1], 0) + 1
    for key, node in nodes.items():
        node["cited_by"] = cited_by.get(key, 0)
    return {
        "nodes": sorted(nodes.values(), key=lambda n: n["key"]),
        "edges": edges,
        "papers": sum(1 for n in nodes.values() if n["in_collection"]),
        "internal_edges": sum(1 for e in edges if nodes[e["to"]]["in_collection"]),
    }


def stats(connection: sqlite3.Connection) -> dict[str, Any]:
    papers = connection.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
    citations = connection.execute("SELECT COUNT(*) FROM citations").fetchone()[0]
    last = connection.execute("SELECT value FROM meta WHERE name = 'last_run_id'").fetchone()
    return {
        "papers": int(papers),
        "citations": int(citations),
        "last_run_id": last[0] if last else "",
        "sqlite_version": SQLITE_VERSION,
    }
