"""The first-party modules a function imports, found by reading its source (no code is run).

A function zip holds its own folder plus exactly the first-party modules it can reach: the closure
of its imports within the project's packages (``shared/`` and the packages of the use case's own
folder). Following an import means

* ``import a.b.c`` and ``from a.b import c``: the module, its parent packages' ``__init__.py``
  files, and ``a.b.c`` when ``c`` is a submodule rather than a name;
* relative imports (``from . import x``, ``from ..pkg import y``), resolved against the importing
  module's package;
* imports anywhere in a file (inside functions too, since they run on some path), except under
  ``if TYPE_CHECKING:``, which never runs;
* ``importlib.import_module("literal")`` and ``__import__("literal")``;
* the deferred-export maps of :mod:`shared.lazy`: a package that installs
  ``deferred_exports(__name__, globals(), HOMES)`` serves ``from pkg import name`` and ``pkg.name``
  from the submodule ``HOMES[name]``, so the closure follows that submodule for the names used.

Imports of anything else are third-party or standard library. The third-party ones are reported
too (the isolated-import check imports each of them), marked optional when they sit in a ``try``
that handles ``ImportError``.
"""

from __future__ import annotations

import ast
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
_DYNAMIC_IMPORTERS = frozenset({"import_module", "__import__"})
_DEFERRED_HOOK = "deferred_exports"
_PYTHON_SUFFIXES = (".py", ".pyi", ".pyc", ".pyo")


class ClosureError(Exception):
    """A first-party import cannot be resolved; the message names the file and line."""


@dataclass(frozen=True)
class _Module:
    """A resolved first-party module."""

    name: str
    path: Path | None  # the .py file; None for a namespace package
    archive: str | None  # its name inside the zip
    is_package: bool
    directory: Path | None  # the package folder (packages only)


@dataclass
class Closure:
    """What one function needs: first-party files by archive name, third-party imports by module."""

    files: dict[str, Path] = field(default_factory=dict)
    # dotted module -> True when some import of it is required (not inside try/except ImportError)
    third_party: dict[str, bool] = field(default_factory=dict)

    @property
    def required_third_party(self) -> list[str]:
        return sorted(name for name, required in self.third_party.items() if required)


@dataclass(frozen=True)
class _Reference:
    """One import found in a file, already made absolute."""

    module: str
    names: tuple[str, ...]  # from-import names ("*" for a star import); () for a plain import
    optional: bool
    line: int


class _ImportVisitor(ast.NodeVisitor):
    """Collects the imports of one module, the names bound to modules, and attribute chains."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.references: list[_Reference] = []
        self.bindings: dict[str, str] = {}  # local name -> module it may hold
        self.chains: list[tuple[str, tuple[str, ...]]] = []  # (name, attributes) of a.b.c chains
        self.bare_names: set[str] = set()
        self.deferred_maps: list[ast.expr] = []
        self._optional = 0

    # -- context --

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        guarded = any(_catches_import_error(handler.type) for handler in node.handlers)
        self._optional += guarded
        for child in node.body:
            self.visit(child)
        self._optional -= guarded
        others: list[ast.AST] = [*node.handlers, *node.orelse, *node.finalbody]
        for other in others:
            self.visit(other)

    def visit_TryStar(self, node: ast.TryStar) -> None:
        self.visit_Try(node)  # type: ignore[arg-type]

    # -- imports --

    def _add(self, module: str, names: tuple[str, ...], line: int) -> None:
        self.references.append(_Reference(module, names, self._optional > 0, line))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, (), node.lineno)
            if alias.asname:
                self.bindings[alias.asname] = alias.name
            else:
                head = alias.name.split(".")[0]
                self.bindings[head] = head

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = self._absolute(node.module or "", node.level, node.lineno)
        names = tuple(alias.name for alias in node.names)
        self._add(module, names, node.lineno)
        for alias in node.names:
            if alias.name != "*":
                self.bindings[alias.asname or alias.name] = f"{module}.{alias.name}"

    def _absolute(self, module: str, level: int, line: int) -> str:
        if level == 0:
            return module
        parts = self.package.split(".") if self.package else []
        if level - 1 > len(parts) or (not parts and level > 0):
            raise ClosureError(f"line {line}: relative import beyond the top-level package")
        base = parts[: len(parts) - (level - 1)]
        return ".".join([*base, module] if module else base)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in _DYNAMIC_IMPORTERS and node.args:
            target = _literal_str(node.args[0])
            if target is not None:
                anchor = _literal_str(node.args[1]) if len(node.args) > 1 else None
                for keyword in node.keywords:
                    if keyword.arg == "package":
                        anchor = _literal_str(keyword.value)
                if target.startswith(".") and anchor:
                    level = len(target) - len(target.lstrip("."))
                    base = anchor.split(".")
                    target = ".".join([*base[: len(base) - (level - 1)], target.lstrip(".")]).rstrip(".")
                self._add(target, (), node.lineno)
        elif name == _DEFERRED_HOOK:
            homes = node.args[2] if len(node.args) > 2 else None
            for keyword in node.keywords:
                if keyword.arg == "homes":
                    homes = keyword.value
            if homes is not None:
                self.deferred_maps.append(homes)
        self.generic_visit(node)

    # -- uses of names bound to modules --

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attributes: list[str] = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute):
            attributes.append(current.attr)
            current = current.value
        if isinstance(current, ast.Name):
            self.chains.append((current.id, tuple(reversed(attributes))))
            return
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        self.bare_names.add(node.id)


def _catches_import_error(handler_type: ast.expr | None) -> bool:
    if handler_type is None:
        return True
    candidates = handler_type.elts if isinstance(handler_type, ast.Tuple) else [handler_type]
    for candidate in candidates:
        name = candidate.attr if isinstance(candidate, ast.Attribute) else getattr(candidate, "id", "")
        if name in _IMPORT_ERRORS:
            return True
    return False


def _literal_str(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _evaluate_map(tree: ast.Module, expression: ast.expr) -> dict[str, str] | None:
    """The name -> submodule map passed to ``deferred_exports``, from module-level literals.

    Module-level assignments of literals, and comprehensions over them, are evaluated with no
    builtins and no other names; anything else returns None (the caller then takes every submodule).
    """
    assigned: dict[str, ast.expr] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                assigned[target.id] = statement.value
        elif isinstance(statement, ast.AnnAssign):
            target, value = statement.target, statement.value
            if isinstance(target, ast.Name) and value is not None:
                assigned[target.id] = value
    values: dict[str, Any] = {}

    def resolve(node: ast.expr, depth: int = 0) -> Any:
        if depth > 8:
            raise ValueError("too deep")
        with_literals = (ast.Name, ast.DictComp, ast.Call, ast.Attribute)
        if not any(isinstance(child, with_literals) for child in ast.walk(node)):
            return ast.literal_eval(node)
        if isinstance(node, ast.Name):
            if node.id not in values:
                values[node.id] = resolve(assigned[node.id], depth + 1)
            return values[node.id]
        if isinstance(node, ast.DictComp):
            bound = {t.id for gen in node.generators for t in ast.walk(gen.target) if isinstance(t, ast.Name)}
            for child in ast.walk(node):
                if isinstance(child, ast.Name) and child.id not in bound:
                    resolve(child, depth + 1)
                elif isinstance(child, ast.Attribute) and child.attr not in {"items", "keys", "values"}:
                    raise ValueError(f"attribute {child.attr}")
            code = compile(ast.Expression(body=node), "<deferred map>", "eval")
            return eval(code, {"__builtins__": {}}, dict(values))  # literals only, checked above
        raise ValueError(f"cannot evaluate {ast.dump(node)[:60]}")

    try:
        result = resolve(expression)
    except (ValueError, KeyError, TypeError, SyntaxError):
        return None
    if isinstance(result, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in result.items()):
        return dict(result)
    return None


@dataclass
class _Parsed:
    visitor: _ImportVisitor
    deferred: dict[str, str] | None  # the package's deferred-export map, if it installs one
    all_submodules: bool  # installs a map that could not be evaluated


class ImportGraph:
    """Resolves first-party modules under a set of roots and walks the imports of their files.

    ``roots`` maps a top-level package name (``shared``, a use case's own package) to its folder.
    ``local`` is a folder whose top-level modules are importable too (the function folder).
    """

    def __init__(
        self, roots: Mapping[str, Path], local: Path | None = None, parsed: dict[Path, Any] | None = None
    ) -> None:
        self.roots = {name: Path(path) for name, path in roots.items()}
        self.local = local
        # Parsed files by path; a caller may share one dict between graphs of the same roots.
        self._parsed: dict[Path, Any] = parsed if parsed is not None else {}

    # -- resolving names --

    def first_party(self, module: str) -> bool:
        head = module.split(".")[0]
        if head in self.roots:
            return True
        return self.local is not None and (
            (self.local / f"{head}.py").is_file() or (self.local / head).is_dir()
        )

    def resolve(self, module: str) -> _Module | None:
        parts = module.split(".")
        head = parts[0]
        if head in self.roots:
            base, prefix = self.roots[head], head
        elif self.local is not None:
            base, prefix = self.local / head, head
        else:
            return None
        for part in parts[1:]:
            base, prefix = base / part, f"{prefix}/{part}"
        archive_root = prefix
        if base.is_dir():
            init = base / "__init__.py"
            if init.is_file():
                return _Module(module, init, f"{archive_root}/__init__.py", True, base)
            return _Module(module, None, None, True, base)
        source = base.with_suffix(".py")
        if source.is_file():
            return _Module(module, source, f"{archive_root}.py", False, None)
        return None

    def _parse(self, found: _Module) -> _Parsed:
        assert found.path is not None
        cached: _Parsed | None = self._parsed.get(found.path)
        if cached is None:
            tree = ast.parse(found.path.read_bytes(), filename=str(found.path))
            visitor = _ImportVisitor(found.name, found.is_package)
            try:
                visitor.visit(tree)
            except ClosureError as error:
                raise ClosureError(f"{found.path}: {error}") from None
            deferred: dict[str, str] | None = None
            everything = False
            for expression in visitor.deferred_maps:
                homes = _evaluate_map(tree, expression)
                if homes is None:
                    everything = True
                else:
                    deferred = {**(deferred or {}), **homes}
            cached = _Parsed(visitor, deferred, everything)
            self._parsed[found.path] = cached
        return cached

    # -- the walk --

    def closure(self, seeds: Iterable[str]) -> Closure:
        """Every first-party file reachable from the modules ``seeds``, and the third-party imports."""
        result = Closure()
        done: set[str] = set()
        queue: list[tuple[str, str]] = [(seed, f"seed {seed}") for seed in seeds]
        while queue:
            module, origin = queue.pop()
            if module in done:
                continue
            found = self.resolve(module)
            if found is None:
                raise ClosureError(f"{origin}: imports {module!r}, which is not in the project")
            done.add(module)
            parent = module.rpartition(".")[0]
            if parent:
                queue.append((parent, origin))
            if found.path is None:
                continue
            assert found.archive is not None
            result.files[found.archive] = found.path
            parsed = self._parse(found)
            queue.extend((name, f"{found.path}") for name in self._follow(found, parsed, result))
            if found.is_package and parsed.all_submodules and found.directory is not None:
                queue.extend((name, str(found.path)) for name in self._submodules(found))
        return result

    def _follow(self, found: _Module, parsed: _Parsed, result: Closure) -> Iterator[str]:
        visitor = parsed.visitor
        for reference in visitor.references:
            origin = f"{found.path}:{reference.line}"
            if not self.first_party(reference.module):
                self._third_party(reference, result)
                continue
            if self.resolve(reference.module) is None:
                if reference.optional:
                    # Python still imports the parent packages before it fails on the missing part.
                    parent = reference.module.rpartition(".")[0]
                    while parent and self.resolve(parent) is None:
                        parent = parent.rpartition(".")[0]
                    if parent:
                        yield parent
                    continue
                raise ClosureError(f"{origin}: imports {reference.module!r}, which is not in the project")
            yield reference.module
            for name in reference.names:
                yield from self._member(reference.module, name, origin)
        for local, module in visitor.bindings.items():
            if not self.first_party(module):
                continue
            for bound, attributes in visitor.chains:
                if bound == local:
                    yield from self._chain(module, attributes)
            if local in visitor.bare_names:
                # The module object itself is passed around: any of its deferred names may be used.
                yield from self._member(module, "*", str(found.path))

    def _member(self, module: str, name: str, origin: str) -> Iterator[str]:
        """What ``from module import name`` (or ``module.name``) loads beyond ``module`` itself."""
        owner = self.resolve(module)
        if owner is None or not owner.is_package:
            return
        if name == "*":
            if owner.path is not None:
                homes = self._parse(owner).deferred or {}
                yield from (f"{module}.{home}" for home in sorted(set(homes.values())))
            return
        if self.resolve(f"{module}.{name}") is not None:
            yield f"{module}.{name}"
            return
        if owner.path is not None:
            homes = self._parse(owner).deferred or {}
            if name in homes:
                yield f"{module}.{homes[name]}"

    def _chain(self, module: str, attributes: tuple[str, ...]) -> Iterator[str]:
        current = module
        for attribute in attributes:
            found = self.resolve(current)
            if found is None or not found.is_package:
                return
            nested = f"{current}.{attribute}"
            if self.resolve(nested) is not None:
                yield nested
                current = nested
                continue
            yield from self._member(current, attribute, current)
            return

    def _submodules(self, found: _Module) -> Iterator[str]:
        assert found.directory is not None
        for path in sorted(found.directory.iterdir()):
            if path.suffix == ".py" and path.stem != "__init__":
                yield f"{found.name}.{path.stem}"
            elif path.is_dir() and (path / "__init__.py").is_file():
                yield f"{found.name}.{path.name}"

    @staticmethod
    def _third_party(reference: _Reference, result: Closure) -> None:
        head = reference.module.split(".")[0]
        if not head or head == "__future__" or head in sys.stdlib_module_names:
            return
        required = result.third_party.get(reference.module, False) or not reference.optional
        result.third_party[reference.module] = required


def module_name(relative: Path) -> str:
    """The dotted module name of a ``.py`` file at ``relative`` under a sys.path entry."""
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def data_files(package_dir: Path) -> Iterator[Path]:
    """Non-Python files that belong to a package: in its folder and in sub-folders holding no code.

    A sub-folder with Python files of its own is either a subpackage (included when imported) or
    something else entirely (``shared/cfn`` holds the shared stacks), never data.
    """
    for path in sorted(package_dir.iterdir()):
        if path.is_file() and not path.name.endswith(_PYTHON_SUFFIXES):
            yield path
        elif path.is_dir() and not any(p.suffix == ".py" for p in path.rglob("*")):
            yield from (p for p in sorted(path.rglob("*")) if p.is_file())
