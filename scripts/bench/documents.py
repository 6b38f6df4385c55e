"""Document core: pages/s through the block parser and the text-layer reader, and the share of the
UC2 demo's pages that skip OCR.

* Block parser: the Textract blocks (LINE, WORD, KEY_VALUE_SET, TABLE, CELL; as the local stand-in
  writes them for FORMS + TABLES) of 200 invoice and statement pages, parsed by
  :func:`shared.documents.blocks.parse_blocks`, beside a bare pass that only indexes the blocks by
  id and joins each LINE's words (the floor any parser pays). Also AnalyzeExpense documents through
  :func:`~shared.documents.blocks.parse_expense`.
* Text layer: born-digital pages through :func:`shared.documents.pdf.read_pdf` plus the layout
  analysis, beside pypdf's plain ``extract_text`` of the same pages.
* OCR skipped: over the UC2 demo documents (``financial_idp.samples.plan``, broken files left out),
  the pages whose text layer is usable, as the per-file step decides them, and the Textract calls
  (sync page calls plus async jobs) the demo's routes make against one call per page.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from scripts.bench import Report, stopwatch

logger = logging.getLogger(__name__)

PAGES = 200


def _pages() -> list[Any]:
    from financial_idp import samples

    pages: list[Any] = []
    number = 0
    while len(pages) < PAGES:
        pages.append(samples.invoice_page(number))
        pages.extend(samples.statement_pages(number, pages=2))
        number += 1
    return pages[:PAGES]


def _runs(pages: list[Any]) -> list[Any]:
    from scripts.localcloud.textract import _runs_from_layout
    from shared.formats.samples.documents import render

    out: list[Any] = []
    for index, page in enumerate(pages):
        _, layout = render(page, dpi=100)
        out.extend(run for page_runs in _runs_from_layout([layout], index + 1) for run in page_runs)
    return out


def _parser_figures(report: Report) -> None:
    from scripts.localcloud.textract import analysis_blocks, expense_documents
    from shared.documents.blocks import parse_blocks, parse_expense

    pages = _pages()
    runs = _runs(pages)
    by_page: list[list[Any]] = [[] for _ in range(PAGES)]
    for run in runs:
        by_page[run.page - 1].append(run)
    blocks = analysis_blocks(by_page, ["FORMS", "TABLES"], "bench")
    with stopwatch() as floor_time:
        for _ in range(3):
            index = {b["Id"]: b for b in blocks}
            _ = [
                " ".join(index[i]["Text"] for rel in b.get("Relationships", []) for i in rel["Ids"])
                for b in blocks
                if b["BlockType"] == "LINE"
            ]
    floor = floor_time() / 3
    with stopwatch() as parse_time:
        for _ in range(3):
            parsed = parse_blocks(blocks)
    parsed_seconds = parse_time() / 3
    report.add("Textract blocks per page (FORMS + TABLES)", len(blocks) / PAGES, "blocks")
    report.add(
        "block parser pages/s (lines, key-values, tables)",
        PAGES / parsed_seconds,
        "pages/s",
        baseline=PAGES / floor,
        target=">= 200",
        met=PAGES / parsed_seconds >= 200,
    )
    report.add("tables found", len(parsed.tables), "tables")
    expenses = expense_documents(by_page, "bench")
    with stopwatch() as expense_time:
        parse_expense(expenses)
    report.add("expense parser pages/s", PAGES / expense_time(), "pages/s")


def _text_layer_figures(report: Report) -> None:
    from pypdf import PdfReader

    from shared.documents.layout import analyse, parse_layout
    from shared.documents.pdf import read_pdf
    from shared.formats.samples.documents import text_pdf

    pages = _pages()[:60]
    data = text_pdf(pages)
    with stopwatch() as plain:
        for page in PdfReader(io.BytesIO(data)).pages:
            page.extract_text()
    with stopwatch() as ours:
        document = read_pdf(data)
        parse_layout(analyse(r for p in document.pages for r in p.runs), document.page_count)
    report.add(
        "text layer + layout pages/s",
        len(pages) / ours(),
        "pages/s",
        baseline=len(pages) / plain(),
        target=">= 20",
        met=len(pages) / ours() >= 20,
    )


def _ocr_share(report: Report) -> None:
    from financial_idp import samples
    from financial_idp.process import SourceFile, read
    from shared.documents.limits import ASYNC, SYNC, route

    pages = skipped = calls = 0
    for sample in samples.plan():
        if sample.error:
            continue
        data = sample.make()
        reading = read(data, SourceFile(sample.key, '"bench"', len(data)))
        plan = route(reading.info, reading.ocr_pages)
        pages += reading.info.page_count
        skipped += sum(1 for d in reading.decisions if d["skip_ocr"])
        calls += len(plan.ocr_pages) if plan.mode == SYNC else 1 if plan.mode == ASYNC else 0
    report.add("demo pages (documents that parse)", pages, "pages")
    report.add("share of demo pages skipping OCR", skipped / pages, "share", target="> 0", met=skipped > 0)
    report.add("Textract calls for the demo documents", calls, "calls", baseline=pages)


def run(report: Report) -> None:
    from scripts import catalog

    catalog.make_importable()
    _parser_figures(report)
    _text_layer_figures(report)
    _ocr_share(report)
