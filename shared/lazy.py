"""Deferred package exports (PEP 562): a package names what it offers, submodules load on first use.

Domain packages re-export many names for convenience, but a handler that needs one of them must not
compile the whole domain (or numpy, or Pillow) at its cold start. Each package declares which
submodule holds which name and installs the two hooks this module builds.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

logger = logging.getLogger(__name__)


def deferred_exports(
    package: str, namespace: dict[str, Any], homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for ``package`` whose names live in ``homes`` (name -> submodule).

    A resolved name is stored in the package namespace, so the hook runs once per name.
    """

    def getattr_(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *homes})

    return getattr_, dir_
