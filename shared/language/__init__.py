"""The shared language core: Comprehend over long texts and schema-checked Bedrock extraction.

* :mod:`shared.language.chunking`: :func:`chunk_text` cuts text into chunks of at most N UTF-8
  bytes (100 KB for Comprehend, under 20,000 for Comprehend Medical) at paragraph, sentence or
  whitespace boundaries, never inside a character; each :class:`Chunk` knows its character offset.
* :mod:`shared.language.comprehend`: :class:`Comprehend` routes by the detected language
  (``DetectDominantLanguage``), runs entities / key phrases / PII per chunk and maps every offset
  back into the original text; an unsupported language is a reason in
  :attr:`LanguageAnalysis.skipped`, or :class:`UnsupportedLanguageError` when asked for directly.
* :mod:`shared.language.extraction`: :class:`StructuredExtractor` asks Bedrock Converse for JSON
  following a :class:`DocumentSchema`, validates it with ``jsonschema``, retries once with the
  errors, then raises :class:`ExtractionError` (a FAILED result for the caller). The model id may
  be a foundation model or an inference profile: :func:`bedrock_resource_arns` gives the IAM
  resources for either.

The local cloud answers these calls with stand-ins derived from the real text
(``scripts/localcloud/comprehend.py``; Converse in ``scripts/localcloud/ai_standins.py``).
``docs/language.md`` shows a use case putting them together.
"""

from __future__ import annotations

import logging

from shared.lazy import deferred_exports

logger = logging.getLogger(__name__)

_HOMES = {
    "COMPREHEND_MAX_BYTES": "chunking",
    "COMPREHEND_MEDICAL_MAX_BYTES": "chunking",
    "Chunk": "chunking",
    "chunk_floor": "chunking",
    "chunk_text": "chunking",
    "iter_chunks": "chunking",
    "utf8_size": "chunking",
    "PII_LANGUAGES": "comprehend",
    "Comprehend": "comprehend",
    "Entity": "comprehend",
    "LanguageAnalysis": "comprehend",
    "LanguageRejectedError": "comprehend",
    "PiiEntity": "comprehend",
    "UnsupportedLanguageError": "comprehend",
    "DocumentSchema": "extraction",
    "Extraction": "extraction",
    "ExtractionError": "extraction",
    "StructuredExtractor": "extraction",
    "bedrock_resource_arns": "extraction",
    "is_inference_profile": "extraction",
}

__getattr__, __dir__ = deferred_exports(__name__, globals(), _HOMES)

__all__ = sorted(_HOMES)
