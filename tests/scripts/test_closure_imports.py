"""The import closure a function zip is built from, on the import forms that are easy to miss."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scripts.import_closure import ClosureError, ImportGraph


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))


def _closure(tmp_path: Path, handler: str, files: dict[str, str]) -> tuple[set[str], dict[str, bool]]:
    _tree(tmp_path / "lib", files)
    function = tmp_path / "fn"
    _tree(function, {"handler.py": handler})
    graph = ImportGraph({"pkg": tmp_path / "lib" / "pkg"}, local=function)
    closure = graph.closure(["handler"])
    return {n for n in closure.files if n != "handler.py"}, closure.third_party


PACKAGE = {
    "pkg/__init__.py": "",
    "pkg/a.py": "from . import b\nfrom .sub import deep\n",
    "pkg/b.py": "X = 1\n",
    "pkg/c.py": "",
    "pkg/sub/__init__.py": "",
    "pkg/sub/deep.py": "from ..c import *\n",
    "pkg/unused.py": "import numpy\n",
}


def test_relative_imports_and_parent_packages(tmp_path: Path) -> None:
    files, _ = _closure(tmp_path, "import pkg.a\n", PACKAGE)
    assert files == {
        "pkg/__init__.py",
        "pkg/a.py",
        "pkg/b.py",
        "pkg/c.py",
        "pkg/sub/__init__.py",
        "pkg/sub/deep.py",
    }


def test_from_package_import_submodule_and_imports_inside_functions(tmp_path: Path) -> None:
    handler = """
        from pkg import b

        def handler(event, context):
            from pkg.sub import deep
            return deep
    """
    files, third = _closure(tmp_path, handler, PACKAGE)
    assert {"pkg/b.py", "pkg/sub/deep.py", "pkg/c.py"} <= files
    assert "pkg/a.py" not in files and "pkg/unused.py" not in files
    assert third == {}


def test_type_checking_imports_are_not_followed_but_its_else_branch_is(tmp_path: Path) -> None:
    handler = """
        from typing import TYPE_CHECKING
        import typing
        if TYPE_CHECKING:
            from pkg import a
        else:
            from pkg import b
        if typing.TYPE_CHECKING:
            import pkg.c
    """
    files, _ = _closure(tmp_path, handler, PACKAGE)
    assert files == {"pkg/__init__.py", "pkg/b.py"}


def test_importlib_literals_and_dunder_import(tmp_path: Path) -> None:
    handler = """
        import importlib
        from importlib import import_module

        def handler(event, context):
            importlib.import_module("pkg.b")
            import_module(".deep", package="pkg.sub")
            __import__("pkg.c")
            importlib.import_module(event["name"])  # not a literal: nothing to follow
    """
    files, _ = _closure(tmp_path, handler, PACKAGE)
    assert files == {"pkg/__init__.py", "pkg/b.py", "pkg/c.py", "pkg/sub/__init__.py", "pkg/sub/deep.py"}


LAZY = {
    "pkg/__init__.py": """
        from pkg.lazy import deferred_exports
        _HOMES = {"read": "readers", "qc": "quality"}
        __getattr__, __dir__ = deferred_exports(__name__, globals(), _HOMES)
    """,
    "pkg/lazy.py": "import importlib\n",
    "pkg/readers.py": "import numpy\n",
    "pkg/quality.py": "from pkg import read\n",
    "pkg/other.py": "",
    "pkg/inverted/__init__.py": """
        from pkg.lazy import deferred_exports
        _BY_MODULE: dict[str, tuple[str, ...]] = {"one": ("f", "g"), "two": ("h",)}
        _SOURCE = {name: module for module, names in _BY_MODULE.items() for name in names}
        __getattr__, __dir__ = deferred_exports(__name__, globals(), _SOURCE)
    """,
    "pkg/inverted/one.py": "",
    "pkg/inverted/two.py": "",
    "pkg/opaque/__init__.py": """
        from pkg.lazy import deferred_exports
        __getattr__, __dir__ = deferred_exports(__name__, globals(), build_map())
    """,
    "pkg/opaque/x.py": "",
    "pkg/opaque/y.py": "",
}


def test_deferred_exports_follow_the_names_used(tmp_path: Path) -> None:
    files, third = _closure(tmp_path, "from pkg import qc\n", LAZY)
    # qc -> quality, whose `from pkg import read` -> readers
    assert files == {"pkg/__init__.py", "pkg/lazy.py", "pkg/quality.py", "pkg/readers.py"}
    assert third == {"numpy": True}


def test_deferred_exports_through_a_module_alias_and_an_inverted_map(tmp_path: Path) -> None:
    handler = """
        import pkg.inverted as inv
        import pkg

        def handler(event, context):
            return inv.h(), pkg.qc
    """
    files, _ = _closure(tmp_path, handler, LAZY)
    assert {"pkg/inverted/two.py", "pkg/quality.py"} <= files
    assert "pkg/inverted/one.py" not in files and "pkg/other.py" not in files


def test_a_map_that_cannot_be_read_statically_takes_every_submodule(tmp_path: Path) -> None:
    files, _ = _closure(tmp_path, "from pkg.opaque import anything\n", LAZY)
    assert {"pkg/opaque/x.py", "pkg/opaque/y.py"} <= files


def test_third_party_imports_are_reported_optional_inside_try_import_error(tmp_path: Path) -> None:
    handler = """
        import json
        import boto3
        from PIL import Image
        try:
            import orjson
        except ImportError:
            orjson = None
        try:
            import ujson
        except ValueError:
            pass
    """
    _, third = _closure(tmp_path, handler, PACKAGE)
    assert third == {"boto3": True, "PIL": True, "orjson": False, "ujson": True}


def test_a_missing_first_party_module_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ClosureError, match=r"handler\.py:2: imports 'pkg\.missing'"):
        _closure(tmp_path, "import pkg\nfrom pkg.missing import x\n", PACKAGE)


def test_a_missing_optional_first_party_module_is_skipped(tmp_path: Path) -> None:
    handler = "try:\n    import pkg.missing\nexcept ImportError:\n    pass\n"
    files, _ = _closure(tmp_path, handler, PACKAGE)
    assert files == {"pkg/__init__.py"}
