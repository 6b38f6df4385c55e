"""UC12 logistics-ocr: records/s through the parser, check digits/s, and the share of pages skipping OCR.

* a born-digital waybill or packing list read from its text layer (pypdf, layout analysis) into a
  record with its findings, against the layout analysis alone (the baseline: what the record
  rules and checks add on top of reading the page);
* ``Label: value`` lines of a label photo (as Rekognition answers them) into a record;
* S10 check digits per second;
* the share of the demo's PDF pages that skip OCR (text layer), counted from its plan.
"""

from __future__ import annotations

import logging

from scripts import catalog
from scripts.bench import Report, stopwatch

logger = logging.getLogger(__name__)

TARGET_RECORDS_PER_S = 50.0


def run(report: Report) -> None:
    catalog.make_importable()
    from logistics_ocr import samples
    from logistics_ocr.checkdigits import s10_check_digit
    from logistics_ocr.records import findings, key_values_of, key_values_of_lines, rule_record
    from shared.documents.layout import analyse, parse_layout
    from shared.documents.pdf import ocr_decision, read_pdf
    from shared.formats.samples import documents as docs

    blobs = [docs.text_pdf([samples.waybill_page(i)]) for i in range(30)]
    blobs += [docs.text_pdf([samples.packing_list_page(i)]) for i in range(30)]
    for blob in blobs[:5]:  # warm the imports and caches before either side is timed
        read_pdf(blob)
    with stopwatch() as layout_only:
        for blob in blobs:
            pdf = read_pdf(blob)
            parse_layout(analyse([r for p in pdf.pages for r in p.runs]), pdf.page_count)
    records = []
    with stopwatch() as parsing:
        for blob in blobs:
            pdf = read_pdf(blob)
            document = parse_layout(analyse([r for p in pdf.pages for r in p.runs]), pdf.page_count)
            record = rule_record(key_values_of(document), document.tables)
            records.append((record, findings(record)))
    rate = len(records) / parsing()
    report.add(
        "UC12 PDFs (text layer) into checked records",
        rate,
        "records/s",
        baseline=len(blobs) / layout_only(),
        target=f">= {TARGET_RECORDS_PER_S:.0f} records/s",
        met=rate >= TARGET_RECORDS_PER_S,
    )
    labels = [[run.text for run in samples.label_page(i)] for i in range(2000)]
    with stopwatch() as label_time:
        for lines in labels:
            record = rule_record(key_values_of_lines(lines))
            findings(record)
    report.add("UC12 label lines (DetectText) into checked records", len(labels) / label_time(), "records/s")
    serials = [f"{n:08d}" for n in range(0, 100_000_000, 1_000)]
    with stopwatch() as digits:
        for serial in serials:
            s10_check_digit(serial)
    report.add("UPU S10 check digits", len(serials) / digits(), "ids/s")
    pages = skipped = 0
    for sample in samples.plan():
        if sample.error or not sample.key.lower().endswith(".pdf"):
            continue
        for page in read_pdf(sample.make()).pages:
            pages += 1
            skipped += ocr_decision(page).skip_ocr
    report.add("UC12 demo PDF pages skipping OCR (text layer)", 100.0 * skipped / pages, "% pages")
