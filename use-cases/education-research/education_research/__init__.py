"""The education-research (UC13) domain: papers into metadata, a citation graph and a search index.

Plain functions with no handler code, imported by the functions in
``use-cases/education-research/functions`` and packaged into their zips at the root, as
``education_research``:

* :mod:`education_research.pdftext`: the text layer of a PDF (pages, text, metadata), typed errors
  for broken files;
* :mod:`education_research.papers`: title, authors, abstract, DOI, keywords from a paper's text;
* :mod:`education_research.references`: the parsed reference list and each reference's graph key
  (DOI, else normalised title);
* :mod:`education_research.process`: one paper version into its result document;
* :mod:`education_research.search_index`: the SQLite FTS5 index and citation graph, updated
  incrementally from one run's results; :mod:`education_research.search`: ``make search``;
* :mod:`education_research.dataset`: the papers table for Athena.

``demo`` drives the use case on the embedded local cloud and is never packaged.
"""
