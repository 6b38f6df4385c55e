"""Two function folders that both define ``handler`` and a sibling module never share state."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scripts.isolated_import import load_isolated


def _function(root: Path, name: str, value: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "helpers.py").write_text(f"VALUE = {value!r}\nSTATE = []\n")
    (folder / "handler.py").write_text(
        "import helpers\n\ndef handler(event, context):\n    helpers.STATE.append(event)\n"
        "    return helpers.VALUE, len(helpers.STATE)\n"
    )
    return folder


def test_two_handlers_do_not_shadow_each_other(tmp_path: Path) -> None:
    first = load_isolated(_function(tmp_path, "a", "first"))
    second = load_isolated(_function(tmp_path, "b", "second"))
    assert first.handler(1, None) == ("first", 1)
    assert second.handler(2, None) == ("second", 1)
    assert first.handler(3, None) == ("first", 2)
    assert "handler" not in sys.modules and "helpers" not in sys.modules


def test_existing_modules_of_the_same_name_are_restored(tmp_path: Path) -> None:
    import shared

    folder = _function(tmp_path, "c", "x")
    (folder / "shared").mkdir()
    (folder / "shared" / "__init__.py").write_text("ZIPPED = True\n")
    (folder / "handler.py").write_text("import shared\n\ndef handler(e, c):\n    return shared.ZIPPED\n")
    module = load_isolated(folder)
    assert module.handler(None, None) is True
    assert sys.modules["shared"] is shared and not hasattr(shared, "ZIPPED")


def test_missing_handler_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no handler\.py"):
        load_isolated(tmp_path)
