"""Import a function's ``handler`` module from a folder without leaking its modules to others.

On Lambda every function has its own process, so two zips that both contain ``handler.py`` (and a
copy of ``shared/``) never see each other. In one Python process they would: the second
``import handler`` would return the first. This loader imports the module with the folder first on
``sys.path``, then takes every module it loaded from that folder back out of ``sys.modules`` and
restores what was there before, so each loaded function keeps private copies of its modules.
:meth:`IsolatedCode.active` puts a function's own modules back while it runs, so an import inside a
function (``from shared import observability`` at call time) returns the module object its
load-time import got, not a second copy.

In-process loading shares this environment's third-party packages, so it cannot tell whether a
function would import on Lambda. :func:`check_in_isolation` can: it imports a function's modules in
a fresh ``python -I -S`` whose ``sys.path`` holds only the function's code, its use case's layer
(built from the same hash-pinned lock for this host), the runtime's SDK and the standard library.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)

# Re-entrant: a function that runs may invoke another one synchronously, activating its modules.
_lock = threading.RLock()


def _top_level_names(directory: Path) -> set[str]:
    names = {p.stem for p in directory.glob("*.py")}
    names |= {p.name for p in directory.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    return names


@dataclass
class IsolatedCode:
    """One folder's private modules: everything under the top-level names the folder provides."""

    folder: Path
    local: frozenset[str]
    modules: dict[str, ModuleType] = field(default_factory=dict)

    def _owned(self) -> list[str]:
        return [name for name in sys.modules if name.split(".")[0] in self.local]

    @contextmanager
    def active(self) -> Iterator[None]:
        """While inside, ``sys.modules`` holds this folder's modules and ``sys.path`` starts with it.

        Modules imported inside (at call time) join the folder's own set on the way out; what
        ``sys.modules`` held under those names before is put back, so no other folder sees them.
        """
        with _lock:
            saved = {name: sys.modules.pop(name) for name in self._owned()}
            sys.modules.update(self.modules)
            sys.path.insert(0, str(self.folder))
        try:
            yield
        finally:
            with _lock:
                sys.path.remove(str(self.folder))
                self.modules = {name: sys.modules.pop(name) for name in self._owned()}
                sys.modules.update(saved)


def load_code(directory: str | Path, module: str = "handler") -> tuple[IsolatedCode, ModuleType]:
    """Import ``module`` from ``directory``; its folder's modules stay private to the returned code.

    Modules the folder provides (its siblings, and its own ``shared/`` when the folder is an
    unpacked zip) are private. Everything else (boto3, numpy) is shared as usual. Run the module's
    functions inside :meth:`IsolatedCode.active` so that their call-time imports find its modules.
    """
    folder = Path(directory).resolve()
    if not (folder / f"{module}.py").is_file():
        raise FileNotFoundError(f"no {module}.py in {folder}")
    code = IsolatedCode(folder, frozenset(_top_level_names(folder)))
    with code.active():
        loaded = importlib.import_module(module)
    return code, loaded


def load_isolated(directory: str | Path, module: str = "handler") -> ModuleType:
    """Import ``module`` from ``directory`` and return it, leaving ``sys.modules`` as it was.

    For a function that imports at call time, use :func:`load_code` and run it inside
    :meth:`IsolatedCode.active`.
    """
    return load_code(directory, module)[1]


# --------------------------------------------------------------------------------------------------
# The isolation check: import a function as Lambda would, with nothing of this environment


class IsolatedImportError(ImportError):
    """A function's modules do not import from its zip, its layer, the runtime SDK and the stdlib."""


# Runs in ``python -I -S``: no site-packages, no PYTHONPATH, no user site. ``sys.path`` then holds
# only the standard library, to which the probe prepends the code folder and the given paths.
_PROBE = """
import importlib, json, sys
request = json.loads(sys.argv[1])
sys.path[:0] = request["path"]
failures = {}
for name in request["modules"]:
    try:
        importlib.import_module(name)
    except BaseException as error:
        failures[name] = f"{type(error).__name__}: {error}"
print(json.dumps({"failures": failures, "sys_path": sys.path}))
"""


def modules_to_import(code_dir: Path) -> list[str]:
    """``handler`` first, then every module of the folder, then each third-party module they import.

    Importing every module catches a module-level import that ``handler`` only reaches on some
    path; naming the third-party modules found anywhere in the code (inside functions too, outside
    ``try/except ImportError``) catches a library imported only when a function runs.
    """
    from scripts import import_closure

    own = [
        import_closure.module_name(path.relative_to(code_dir))
        for path in sorted(code_dir.rglob("*.py"))
        if "__pycache__" not in path.parts
    ]
    graph = import_closure.ImportGraph({}, local=code_dir)
    third_party = graph.closure(own).required_third_party
    rest = sorted(name for name in own if name != "handler")
    return ["handler", *rest, *third_party]


def check_in_isolation(
    code_dir: str | Path,
    paths: list[Path],
    *,
    modules: list[str] | None = None,
    label: str | None = None,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """Import ``modules`` (default :func:`modules_to_import`) of ``code_dir`` in a fresh interpreter.

    Its ``sys.path`` is ``code_dir``, then ``paths`` (a layer folder, the runtime SDK), then the
    standard library: never this environment's site-packages. Raises :class:`IsolatedImportError`
    naming every module that failed; returns what the probe reported (its ``sys_path``).
    """
    folder = Path(code_dir).resolve()
    wanted = modules if modules is not None else modules_to_import(folder)
    request = json.dumps({"path": [str(folder), *(str(p) for p in paths)], "modules": wanted})
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "LANG": "C.UTF-8",
    }
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _PROBE, request],
        capture_output=True,
        text=True,
        check=False,
        cwd=folder,
        env=env,
        timeout=timeout,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise IsolatedImportError(f"{folder}: the import probe crashed: {done.stderr.strip()[-500:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if report["failures"]:
        lines = "; ".join(f"{name}: {reason}" for name, reason in report["failures"].items())
        raise IsolatedImportError(
            f"{label or folder.name} does not import with only its zip, its layer and the runtime SDK "
            f"({lines}). A library it imports is probably missing from the use case's requirements.txt."
        )
    return report


def use_case_paths(uc: Any, cache_root: Path | None = None) -> list[Path]:
    """The ``sys.path`` a use case's functions get on Lambda: its layer (host build) and the runtime SDK."""
    from scripts import packaging

    root = cache_root or packaging.DEFAULT_BUILD_ROOT / ".host-layers"
    use_case = packaging.resolve(uc)
    paths = []
    requirements = packaging.requirements_file(use_case)
    target = packaging.layer_platform(use_case) if use_case.exists else None
    if requirements is not None and target is not None:
        paths.append(packaging.host_layer(requirements, target, root))
    paths.append(packaging.runtime_sdk(root))
    return paths


def check_zip(zip_path: Path, paths: list[Path], cache_root: Path | None = None) -> None:
    """:func:`check_in_isolation` on a function zip (named ``<fn>.zip``); a pass is remembered by zip
    and path set, so an unchanged function is checked once."""
    from scripts import packaging

    root = cache_root or packaging.DEFAULT_BUILD_ROOT / ".isolated-checks"
    key = hashlib.sha256(
        f"{packaging.sha256_file(zip_path)}\0{[str(p) for p in paths]}\0{sys.version}".encode()
    ).hexdigest()
    marker = root / f"{key[:32]}.ok"
    if marker.is_file():
        return
    with tempfile.TemporaryDirectory(prefix="isolated-") as scratch:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(scratch)
        check_in_isolation(scratch, paths, label=f"function {zip_path.stem}")
    root.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{zip_path}\n", encoding="utf-8")


def check_packaged(packaged: Any, cache_root: Path | None = None) -> None:
    """Check every function zip of a packaged use case; one error names each function that fails."""
    from scripts.packaging import PackagingError

    try:
        paths = use_case_paths(packaged.use_case)
    except PackagingError as error:
        raise IsolatedImportError(
            f"{packaged.use_case.name}: cannot build the layer for this machine that the import check "
            f"needs (pip must reach an index once; later runs use build/.host-layers): {error}"
        ) from error
    failures = []
    for artifact in packaged.artifacts:
        if artifact.kind != "function":
            continue
        try:
            check_zip(artifact.path, paths, cache_root)
        except IsolatedImportError as error:
            failures.append(str(error))
    if failures:
        raise IsolatedImportError(
            f"{packaged.use_case.name}: refusing to deploy {len(failures)} function(s) that would fail to "
            "import on Lambda: " + " | ".join(failures)
        )
