"""The shared document core: PDF, Textract sync/async, the block model (UC2, UC10, UC12, UC14).

Modules (each documented on its own; heavy libraries load on first use):

* :mod:`~shared.documents.inspect` ``inspect_document(data, name) -> DocumentInfo``: the format
  from the bytes (PDF, TIFF, JPEG, PNG; a disagreeing extension raises
  :class:`~shared.documents.errors.WrongExtensionError`), page count and page sizes.
* :mod:`~shared.documents.pdf` (pypdf): ``read_pdf`` (pages, text layer, positioned runs),
  ``split_pages``/``page_bytes``, ``ocr_decision(page)``: a born-digital page with a usable text
  layer skips OCR, with the reason recorded. Truncated, encrypted, zero-page and corrupt files
  raise typed errors (:mod:`~shared.documents.errors`).
* :mod:`~shared.documents.limits`: Textract's limits checked before any call (pages, size, 40 in /
  10,000 px), each breach a :class:`~shared.documents.errors.DocumentLimitError` with a clear
  reason; ``route(info, ocr_pages) -> Route`` picks ``text-layer``, ``sync`` or ``async``.
* :mod:`~shared.documents.textract`: ``analyze_pages`` (synchronous, one page at a time on
  bytes), and for asynchronous jobs ``stage`` (to a bucket: Textract cannot read an access
  point), ``start_job`` (SNS NotificationChannel, JobTag = the task-token correlation id of
  :mod:`shared.tasktokens`), ``parse_notification`` (the callback's SNS event), ``collect``
  (NextToken paging) and ``unstage``.
* :mod:`~shared.documents.model`: the block model (``Line``, ``KeyValue``, ``Table`` of
  ``Cell``, ``ExpenseDocument`` with ``ExpenseField`` summary fields and ``LineItem``), each item
  with its confidence and page; :mod:`~shared.documents.blocks` builds it from Textract answers,
  :mod:`~shared.documents.layout` from a text layer's runs (so a born-digital page is read
  without Textract, into the same model).

A typical per-file step::

    info = inspect_document(data, key)                   # typed errors -> FAILED result
    decisions = [ocr_decision(p) for p in read_pdf(data).pages] if info.format == "pdf" else []
    r = route(info, tuple(d.page for d in decisions if not d.skip_ocr) if decisions else None)
    # text-layer: layout.parse_layout(...); sync: textract.analyze_pages(...);
    # async: stage + start_job behind a .waitForTaskToken task, then collect + unstage.

Local stand-ins for AnalyzeDocument, AnalyzeExpense, the async jobs and Rekognition DetectText are
in ``scripts/localcloud/textract.py``; sample documents in ``shared/formats/samples/documents.py``.
"""
