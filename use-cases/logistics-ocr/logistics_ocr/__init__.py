"""UC12 logistics-ocr: waybills, packing lists and label photos into typed shipment records.

Modules: :mod:`~logistics_ocr.checkdigits` (UPU S10 and ISO 6346 check digits),
:mod:`~logistics_ocr.records` (the record, its rules and its Bedrock schema),
:mod:`~logistics_ocr.process` (the per-file step), :mod:`~logistics_ocr.report` (dataset rows and
the run summary with label counts per location), :mod:`~logistics_ocr.samples` (the generator) and
:mod:`~logistics_ocr.demo` (the ``make demo`` driver).
"""
