"""Import a function's ``handler`` module from a folder without leaking its modules to others.

On Lambda every function has its own process, so two zips that both contain ``handler.py`` (and a
copy of ``shared/``) never see each other. In one Python process they would: the second
``import handler`` would return the first. This loader imports the module with the folder first on
``sys.path``, then takes every module it loaded from that folder back out of ``sys.modules`` and
restores what was there before, so each loaded function keeps private copies of its modules.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from pathlib import Path
from types import ModuleType

logger = logging.getLogger(__name__)

_lock = threading.Lock()


def _top_level_names(directory: Path) -> set[str]:
    names = {p.stem for p in directory.glob("*.py")}
    names |= {p.name for p in directory.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    return names


def load_isolated(directory: str | Path, module: str = "handler") -> ModuleType:
    """Import ``module`` from ``directory`` and return it, leaving ``sys.modules`` as it was.

    Modules the folder provides (its siblings, and its own ``shared/`` when the folder is an
    unpacked zip) are private to the returned module. Everything else (boto3, numpy) is shared
    as usual. Imports must happen at module import time, which is the Lambda convention anyway.
    """
    folder = Path(directory).resolve()
    if not (folder / f"{module}.py").is_file():
        raise FileNotFoundError(f"no {module}.py in {folder}")
    local = _top_level_names(folder)
    with _lock:
        saved = {name: mod for name, mod in sys.modules.items() if name.split(".")[0] in local}
        for name in saved:
            del sys.modules[name]
        sys.path.insert(0, str(folder))
        try:
            return importlib.import_module(module)
        finally:
            sys.path.remove(str(folder))
            for name in [n for n in sys.modules if n.split(".")[0] in local]:
                del sys.modules[name]
            sys.modules.update(saved)
