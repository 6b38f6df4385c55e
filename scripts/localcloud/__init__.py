"""The embedded local cloud: run a use case's packaged template end to end on moto, in-process.

See :mod:`scripts.localcloud.cloud` for the facade and the adapter modules for the AWS behaviour
each one reproduces. ``python -m scripts.localcloud demo|invoke`` is the command line.

The facade loads on first use of one of its names (PEP 562): ``scripts.deploy`` consults
:mod:`scripts.localcloud.target` on every deploy, and a deploy to AWS must not import moto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.lazy import deferred_exports

if TYPE_CHECKING:
    from scripts.localcloud.cloud import AccessPoint, LocalCloud, local_cloud

__getattr__, __dir__ = deferred_exports(
    __name__, globals(), {"AccessPoint": "cloud", "LocalCloud": "cloud", "local_cloud": "cloud"}
)

__all__ = ["AccessPoint", "LocalCloud", "local_cloud"]
