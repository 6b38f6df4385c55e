"""Tooling: the use-case catalog, packaging and deploy, and the embedded local cloud.

Importing any tool makes every use case's own package (``retail_catalog``, ...) importable, as it
is inside that use case's function zips; the catalog says where those packages live.
"""

from __future__ import annotations

from scripts import catalog as _catalog

_catalog.make_importable()
