"""The embedded local cloud: run a use case's packaged template end to end on moto, in-process.

See :mod:`scripts.localcloud.cloud` for the facade and the adapter modules for the AWS behaviour
each one reproduces. ``python -m scripts.localcloud demo|invoke`` is the command line.
"""

from __future__ import annotations

from scripts.localcloud.cloud import AccessPoint, LocalCloud, local_cloud

__all__ = ["AccessPoint", "LocalCloud", "local_cloud"]
