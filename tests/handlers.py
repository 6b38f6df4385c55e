"""Load a Lambda handler module by file path, as the packaged zip would see it."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from scripts.isolated_import import load_isolated

ROOT = Path(__file__).resolve().parent.parent


def load_handler(path: str | Path) -> ModuleType:
    """Import ``<dir>/handler.py`` (path to the file or its folder, absolute or repo-relative).

    Sibling modules of the handler are private to it, so two use cases whose functions share a
    module name never collide. ``shared`` resolves to the repository's package.
    """
    target = Path(path)
    if not target.is_absolute():
        target = ROOT / target
    folder = target if target.is_dir() else target.parent
    module = "handler" if target.is_dir() else target.stem
    return load_isolated(folder, module)
