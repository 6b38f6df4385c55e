"""References keyed by DOI or normalised title; the FTS5 index and its incremental updates."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from education_research.references import clean_doi, normalise_title, paper_key, parse_reference
from education_research.search_index import (
    Fts5UnavailableError,
    apply_run,
    citation_graph,
    fts_query,
    open_index,
    require_fts5,
    search,
    stats,
)


def test_keys_prefer_the_doi_then_the_normalised_title() -> None:
    assert clean_doi("https://doi.org/10.1000/ABC.def).") == "10.1000/abc.def"
    assert clean_doi("doi:10.1002/(SICI)1097-4571(199806)49:8") == "10.1002/(sici)1097-4571(199806)49:8"
    assert normalise_title("Búsqueda — de  Texto: Completo!") == "busqueda de texto completo"
    assert paper_key("10.1/X", "T") == "doi:10.1/x"
    assert paper_key("", "Metadata Quality") == "title:metadata quality"
    assert paper_key("", "") == ""


def test_parse_reference_without_doi() -> None:
    ref = parse_reference("J. R. Smith, A. B. Jones. Learning to Rank. In Proc. SIGIR (2010) 1-8.")
    assert ref.authors == "J. R. Smith, A. B. Jones"
    assert ref.title == "Learning to Rank"
    assert ref.year == 2010
    assert ref.key == "title:learning to rank"


def paper(
    key: str, title: str, doi: str = "", refs: tuple[dict[str, Any], ...] = (), **extra: Any
) -> dict[str, Any]:
    return {
        "source_key": key,
        "etag": "e1",
        "paper_key": paper_key(doi, title),
        "title": title,
        "authors": ["Ada Lovelace"],
        "abstract": extra.get("abstract", ""),
        "doi": doi,
        "year": 2024,
        "keywords": extra.get("keywords", []),
        "language": "en",
        "pages": 1,
        "body": extra.get("body", ""),
        "references": list(refs),
    }


def ref(title: str, doi: str = "") -> dict[str, Any]:
    return {"title": title, "doi": doi, "year": 2020, "key": paper_key(doi, title)}


@pytest.fixture
def index(tmp_path: Path) -> sqlite3.Connection:
    return open_index(str(tmp_path / "papers.sqlite"))


def test_fts5_is_available_here() -> None:
    assert require_fts5()
    assert issubclass(Fts5UnavailableError, RuntimeError)


def test_search_ranks_title_matches_first_and_folds_accents(index: sqlite3.Connection) -> None:
    apply_run(
        index,
        [
            paper("a.pdf", "Graph Databases", body="a citation graph appears once in the body"),
            paper("b.pdf", "Citation Graph Methods", abstract="citation graph everywhere"),
            paper("c.pdf", "Búsqueda de texto", keywords=["recuperación"]),
        ],
        [],
        "run-1",
    )
    hits = search(index, "citation graph")
    assert [h.source_key for h in hits] == ["b.pdf", "a.pdf"]
    assert "[citation]" in hits[0].snippet.lower()
    assert [h.source_key for h in search(index, "busqueda recuperacion")] == ["c.pdf"]
    assert {h.source_key for h in search(index, "grap*")} == {"a.pdf", "b.pdf"}


def test_queries_with_fts_syntax_are_taken_as_words(index: sqlite3.Connection) -> None:
    apply_run(index, [paper("a.pdf", 'The "NEAR" AND OR paper')], [], "run-1")
    assert fts_query('a "b" c*') == '"a" """b""" "c"*'
    assert [h.source_key for h in search(index, 'NEAR AND "OR')] == ["a.pdf"]
    assert search(index, "   ") == []


def test_incremental_runs_replace_and_remove_only_their_files(index: sqlite3.Connection) -> None:
    apply_run(index, [paper("a.pdf", "Old Title"), paper("b.pdf", "Kept Paper")], [], "run-1")
    changes = apply_run(index, [paper("a.pdf", "New Title")], ["missing.pdf"], "run-2")
    assert changes.to_dict() == {"upserted": 1, "removed": 0, "citations": 0}
    assert search(index, "old") == []
    assert [h.source_key for h in search(index, "new title")] == ["a.pdf"]
    assert [h.source_key for h in search(index, "kept")] == ["b.pdf"]
    removed = apply_run(index, [], ["b.pdf"], "run-3")  # the file's new version FAILED
    assert removed.removed == 1 and search(index, "kept") == []
    assert stats(index)["papers"] == 1 and stats(index)["last_run_id"] == "run-3"


def test_citation_graph_joins_a_title_citation_to_the_doi_node(index: sqlite3.Connection) -> None:
    apply_run(
        index,
        [
            paper("target.pdf", "Citation Graphs in Practice", doi="10.5/cg"),
            paper("by-doi.pdf", "Cites By DOI", refs=(ref("Citation graphs in practice", "10.5/CG"),)),
            paper("by-title.pdf", "Cites By Title", refs=(ref("Citation Graphs in Practice!"),)),
            paper("outside.pdf", "Cites Outside", refs=(ref("A Theory of Communication", "10.9/x"),)),
        ],
        [],
        "run-1",
    )
    graph = citation_graph(index)
    nodes = {n["key"]: n for n in graph["nodes"]}
    assert nodes["doi:10.5/cg"]["cited_by"] == 2
    assert "title:citation graphs in practice" not in nodes
    assert nodes["doi:10.9/x"]["in_collection"] is False
    assert graph["papers"] == 4 and graph["internal_edges"] == 2
    hits = search(index, "citation graphs practice")
    assert hits[0].source_key == "target.pdf" and hits[0].cited_by == 2
