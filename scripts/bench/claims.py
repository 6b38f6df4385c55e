"""UC14 insurance-claims: photo preparation for DetectLabels, OCR avoided on the demo's documents,
and the recommendation rules' speed.

* photos prepared per second: a JPEG under 5 MB passes as it is (the baseline), a PNG over 5 MB
  is re-encoded and downscaled to a JPEG under 5 MB; the bytes sent per photo for each;
* the share of the demo's readable document pages (estimates and letters) that skip OCR;
* claims decided per second by the completeness check and the rules (no model call).
"""

from __future__ import annotations

import io
import logging
import os

from scripts import catalog
from scripts.bench import Report, stopwatch

logger = logging.getLogger(__name__)


def run(report: Report) -> None:
    catalog.make_importable()
    from PIL import Image

    from insurance_claims import samples
    from insurance_claims.assessment import Evidence, Thresholds, completeness, recommend, rules
    from insurance_claims.evidence import PHOTO, kind_of, prepare_photo
    from shared.documents.errors import DocumentError
    from shared.documents.inspect import PDF, inspect_document
    from shared.documents.pdf import ocr_decision, read_pdf

    jpegs = [samples.damage_photo(seed) for seed in range(20)]
    with stopwatch() as passing:
        for data in jpegs:
            prepare_photo(data)
    out = io.BytesIO()
    Image.frombytes("RGB", (2600, 2000), os.urandom(2600 * 2000 * 3)).save(out, "PNG")
    big = out.getvalue()
    with stopwatch() as resizing:
        prepared = [prepare_photo(big) for _ in range(2)]
    report.add("UC14 photos prepared, JPEG under 5 MB (as is)", len(jpegs) / passing(), "photos/s")
    report.add(
        "UC14 photos prepared, 15 MB noise PNG -> JPEG < 5 MB",
        len(prepared) / resizing(),
        "photos/s",
        baseline=len(jpegs) / passing(),
    )
    report.add(
        "UC14 bytes sent for the big PNG",
        len(prepared[0].payload) / (1024 * 1024),
        "MB",
        baseline=len(big) / (1024 * 1024),
        target="< 5 MB",
        met=len(prepared[0].payload) < 5 * 1024 * 1024,
    )
    pages = skipped = 0
    for sample in samples.files():
        if kind_of(sample.key) == PHOTO or sample.error:
            continue
        data = sample.make()
        try:
            info = inspect_document(data, sample.key)
        except DocumentError:
            continue
        pages += info.page_count
        if info.format == PDF:
            skipped += sum(1 for page in read_pdf(data).pages if ocr_decision(page).skip_ocr)
    report.add("UC14 demo document pages skipping OCR", skipped / pages, "share", baseline=1.0)
    evidence = [
        Evidence("c/p.jpg", "e", "photo", "SUCCEEDED", facts={"damage_labels": ["Car"]}),
        Evidence("c/e.pdf", "e", "estimate", "SUCCEEDED", facts={"total": 900.0, "currency": "USD"}),
        Evidence(
            "c/l.pdf", "e", "document", "SUCCEEDED", facts={"policy_number": "P-1", "policy_status": "active"}
        ),
    ]
    thresholds = Thresholds()
    rounds = 20000
    with stopwatch() as deciding:
        for _ in range(rounds):
            recommend(completeness(evidence), rules(evidence, thresholds))
    report.add("UC14 claims decided by the rules", rounds / deciding(), "claims/s")
