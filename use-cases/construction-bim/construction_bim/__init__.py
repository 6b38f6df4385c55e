"""UC10 construction-bim: IFC models summarised and diffed between revisions, drawings read, .rvt reported.

Per file (:mod:`construction_bim.models`): an IFC model streamed through the shared STEP scanner
(:mod:`shared.formats.ifc`) and compared with the previous revision of the same key; a PDF drawing
through the document core (:mod:`shared.documents`) with Textract's page limits checked first; a
Revit ``.rvt`` reported as unsupported with its reason.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)
