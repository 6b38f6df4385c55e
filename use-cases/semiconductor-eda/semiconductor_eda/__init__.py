"""UC6 semiconductor-eda: GDSII and OASIS design files validated and summarised per project.

Per file (:mod:`semiconductor_eda.designs`): the whole file streamed through the shared readers
(:mod:`shared.formats.gdsii`, :mod:`shared.formats.oasis`), a result document, and dataset rows.
Per run (:mod:`semiconductor_eda.report`): Athena summaries per project, unit mismatches across a
project's libraries, and the shared Bedrock report step.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)
