"""Build what a use case needs in S3: one deterministic zip per function, a layer, a packaged template.

``aws cloudformation package`` cannot do this for the project: it zips a folder as it is, so a
function would lose the ``shared/`` package that lives outside it, and the Handler path of the source
template would be wrong inside the flattened zip. The packager therefore

* zips each ``functions/<fn>/`` folder at the zip root together with the function's import closure
  within the first-party packages (``shared/`` and the packages in the use case's own folder; see
  :mod:`scripts.import_closure`), so a module change redeploys only the functions that import it;
  tests, caches and byte code are left out, timestamps and permissions are fixed and entries
  sorted, so the same sources always give the same bytes;
* names every artifact by the SHA-256 of its bytes, so an unchanged function is never uploaded twice;
* builds the third-party dependencies of ``<uc-folder>/requirements.txt`` into a layer: pip
  installs the hash-pinned ``requirements.lock`` beside it (``make lock-layers``; the SDK the
  Lambda runtime already has is left out) with ``--require-hashes`` for the Lambda platform
  (architecture and Python version read from the template), cached by the hash of the lock and the
  platform, so pip runs at most once per machine for one input;
* writes ``build/<uc>/template.packaged.yaml`` with each Handler flattened to ``handler.handler``
  and each code, layer and state machine definition key pointing at its content-addressed
  artifact. A function built by ``Fn::ForEach`` takes its Handler and code key from a Mappings
  row; the packager rewrites those rows, so the packaged template keeps the transform for AWS;
* uploads each template snippet an ``Fn::Transform`` of ``AWS::Include`` names (the shared building
  blocks in ``shared/cfn/blocks``) by the hash of its bytes, and points the Location at the
  ``s3://`` copy, which is where CloudFormation reads a snippet from;
* writes ``build/<uc>/template.expanded.yaml``, the same template with the transform applied and
  the definitions inline (:func:`scripts.cfn_template.load`), for clouds that run no transforms.

A warm run re-hashes the inputs (cheap) and skips compressing any zip whose inputs did not change.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts import catalog, cfn_template, import_closure
from scripts.catalog import ROOT, UseCase

logger = logging.getLogger(__name__)

# Bump when the zip layout or the build rules change, so cached builds are not reused.
BUILD_VERSION = "2"
SHARED_PACKAGE = ROOT / "shared"
DEFAULT_BUILD_ROOT = ROOT / "build"
# 1980-01-01 is the earliest time a zip entry can carry.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # a regular file, rw-r--r--
ZIP_LEVEL = 9

# Handler of the source template: functions/<fn>/<module>.<function>.
_SOURCE_HANDLER = re.compile(r"^functions/(?P<fn>[A-Za-z0-9_\-]+)/(?P<module>[A-Za-z0-9_]+)\.(?P<func>\w+)$")
_PLACEHOLDER_KEY = re.compile(r"^functions/(?P<fn>[A-Za-z0-9_\-]+)\.zip$")
LAYER_PLACEHOLDER_KEY = "layer.zip"

# Distributions the Lambda Python runtime already provides (the AWS SDK and what it needs). A layer
# copy would shadow the runtime's botocore, because /opt/python comes before the runtime's path,
# and could pair it with the runtime's boto3 at a different version. They are left out of the layer
# unless requirements.txt names them itself.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)

_EXCLUDED_DIRS = frozenset(
    {"__pycache__", "tests", "test", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}
)
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")


class PackagingError(Exception):
    """The use case cannot be packaged; the message says what to fix."""


PipRunner = Callable[[Sequence[str]], None]


@dataclass(frozen=True)
class Artifact:
    """One file to upload: a function zip or a layer zip, named by its content."""

    kind: str  # "function", "layer", "definition" or "include"
    name: str  # function folder name, "dependencies" for the layer, a definition's or snippet's file stem
    path: Path
    key: str
    sha256: str
    size: int
    rebuilt: bool


@dataclass(frozen=True)
class PackagedUseCase:
    """The result of :func:`package`: the packaged template and every artifact it references."""

    use_case: UseCase
    template_path: Path
    template_body: str
    artifacts: list[Artifact] = field(default_factory=list)
    expanded_body: str = ""

    @property
    def build_dir(self) -> Path:
        return self.template_path.parent

    @property
    def template(self) -> dict[str, Any]:
        """The packaged template as Python values (long-form intrinsics)."""
        return cfn_template.loads(self.template_body)

    def snippet(self, location: str) -> Path:
        """The built copy of the snippet a packaged Location (``s3://<bucket>/<key>``) names."""
        key = location.split("://", 1)[-1].partition("/")[2]
        for artifact in self.artifacts:
            if artifact.kind == "include" and artifact.key == key:
                return artifact.path
        raise PackagingError(f"{location} is not a snippet of the {self.use_case.name} package")

    @property
    def expanded_template(self) -> dict[str, Any]:
        """What CloudFormation runs: the transform applied, the state machine definitions inline."""
        return cfn_template.loads(self.expanded_body)


# --------------------------------------------------------------------------------------------------
# Use cases and their folders


def resolve(uc: UseCase | str | os.PathLike[str]) -> UseCase:
    """A catalog entry by name, or a folder holding ``template.yaml`` (fixtures, forks)."""
    if isinstance(uc, UseCase):
        return uc
    text = os.fspath(uc)
    try:
        return catalog.find(text)
    except catalog.UnknownUseCaseError:
        folder = Path(text)
        if not folder.is_absolute():
            folder = Path.cwd() / folder
        if (folder / "template.yaml").is_file():
            # number -1: a use case outside the catalog; its folder is absolute.
            return UseCase(-1, folder.name, "", str(folder.resolve()), "")
        raise


def uc_folder(uc: UseCase) -> Path:
    """Where requirements.txt, params.json and functions/ live (a shared stack: beside its template)."""
    return uc.path if uc.number else uc.template.parent


def requirements_file(uc: UseCase) -> Path | None:
    path = uc_folder(uc) / "requirements.txt" if uc.number else uc.template.with_suffix(".requirements.txt")
    return path if path.is_file() else None


# --------------------------------------------------------------------------------------------------
# Deterministic zips


def _excluded(relative: Path) -> bool:
    parts = relative.parts
    if any(part in _EXCLUDED_DIRS or part.startswith(".") for part in parts):
        return True
    name = parts[-1]
    return (
        name.endswith(_EXCLUDED_SUFFIXES)
        or name == "conftest.py"
        or (name.startswith("test_") and name.endswith(".py"))
        or name.endswith("_test.py")
    )


def _walk(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not _excluded(path.relative_to(folder)):
            yield path


def first_party_roots(use_case: UseCase | None, shared_dir: Path = SHARED_PACKAGE) -> dict[str, Path]:
    """Top-level first-party packages a function may import: ``shared`` and the use case's own.

    A use case's own package is any folder beside its template that holds an ``__init__.py``
    (``functions/`` is not a package: each function folder is zipped whole).
    """
    roots = {"shared": shared_dir}
    if use_case is not None:
        folder = uc_folder(use_case)
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.is_dir() and (path / "__init__.py").is_file() and not _excluded(Path(path.name)):
                if path.name == "shared":
                    raise PackagingError(f"{path}: a use case may not bring its own shared package")
                roots[path.name] = path
    return roots


def function_closure(
    function_dir: Path, roots: Mapping[str, Path], parsed: dict[Path, Any] | None = None
) -> import_closure.Closure:
    """The first-party files and third-party imports of one function (see :mod:`scripts.import_closure`)."""
    graph = import_closure.ImportGraph(roots, local=function_dir, parsed=parsed)
    seeds = [
        import_closure.module_name(path.relative_to(function_dir))
        for path in _walk(function_dir)
        if path.suffix == ".py"
    ]
    try:
        return graph.closure(seeds)
    except (import_closure.ClosureError, SyntaxError, ValueError) as error:
        raise PackagingError(f"{function_dir.name}: {error}") from error


def function_entries(
    function_dir: Path,
    shared_dir: Path = SHARED_PACKAGE,
    roots: Mapping[str, Path] | None = None,
    parsed: dict[Path, Any] | None = None,
) -> list[tuple[str, Path]]:
    """(archive name, source file) pairs of one function zip, sorted by archive name.

    The function folder goes in whole; of the first-party packages (``roots``, by default just
    ``shared``) only the modules the function's import closure reaches go in, with their parent
    packages and the data files of each package included (``shared/cfn`` holds the shared stacks,
    not data of the package).
    """
    roots = dict(roots) if roots is not None else {"shared": shared_dir}
    entries: dict[str, Path] = {}
    for path in _walk(function_dir):
        entries[path.relative_to(function_dir).as_posix()] = path
    clashes = sorted({name.split("/")[0] for name in entries} & set(roots))
    if clashes:
        raise PackagingError(f"{function_dir}: a function folder must not contain its own {clashes[0]}/")
    if "handler.py" not in entries:
        raise PackagingError(f"{function_dir}: no handler.py")
    closure = function_closure(function_dir, roots, parsed)
    for name, path in closure.files.items():
        if name.split("/")[0] not in roots:
            continue  # a module of the function folder, already in
        entries[name] = path
        if path.name == "__init__.py":
            package_dir = path.parent
            prefix = name.rsplit("/", 1)[0]
            for data in import_closure.data_files(package_dir):
                relative = data.relative_to(package_dir)
                if not _excluded(relative) and not (
                    path.parent == roots.get("shared") and relative.parts[0] == "cfn"
                ):
                    entries[f"{prefix}/{relative.as_posix()}"] = data
    return sorted(entries.items())


def write_zip(target: Path, entries: Iterable[tuple[str, bytes]]) -> str:
    """Write a byte-reproducible zip of ``entries`` (sorted here) and return its SHA-256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, data in sorted(entries, key=lambda item: item[0]):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so Lambda honours the permission bits
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL)
    os.replace(partial, target)
    return sha256_file(target)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _inputs_digest(entries: Sequence[tuple[str, Path]], memo: dict[Path, bytes]) -> str:
    """A hash of what goes into a zip: names and contents (the zip is a function of these).

    ``memo`` holds file hashes for one packaging run, so ``shared/`` is read once, not once per
    function.
    """
    digest = hashlib.sha256(f"build-{BUILD_VERSION}".encode())
    for name, path in entries:
        if path not in memo:
            memo[path] = hashlib.sha256(path.read_bytes()).digest()
        digest.update(name.encode() + b"\0")
        digest.update(memo[path])
    return digest.hexdigest()


def _entries_cached(
    state: _BuildState,
    fn: str,
    function_dir: Path,
    roots: Mapping[str, Path],
    memo: dict[Path, bytes],
    parsed: dict[Path, Any],
) -> list[tuple[str, Path]]:
    """:func:`function_entries`, reused from the last run while no file it could reach changed.

    The key hashes every file of the function folder and of each first-party root (hashes are
    memoised for the run, so each file is read once), so a warm run does not parse any source.
    """
    universe = [(path.relative_to(function_dir).as_posix(), path) for path in _walk(function_dir)]
    for name, root in sorted(roots.items()):
        universe += [(f"{name}/{path.relative_to(root).as_posix()}", path) for path in _walk(root)]
    key = (
        _inputs_digest(universe, memo)
        + hashlib.sha256(json.dumps(sorted(map(str, roots.values()))).encode()).hexdigest()
    )
    cached = state.data.get(f"closure:{fn}")
    if cached and cached.get("key") == key and all(Path(path).is_file() for _, path in cached["entries"]):
        return [(name, Path(path)) for name, path in cached["entries"]]
    entries = function_entries(function_dir, roots=roots, parsed=parsed)
    state.data[f"closure:{fn}"] = {"key": key, "entries": [[name, str(path)] for name, path in entries]}
    return entries


class _BuildState:
    """``build/<uc>/.package-state.json``: input digest and zip hash of each artifact last built."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.data = {}

    def fresh(self, name: str, inputs: str, target: Path) -> str | None:
        """The recorded SHA-256 when ``target`` still holds the zip built from ``inputs``."""
        entry = self.data.get(name)
        if not entry or entry.get("inputs") != inputs or not target.is_file():
            return None
        if target.stat().st_size != entry.get("size"):
            return None
        sha = sha256_file(target)
        return sha if sha == entry.get("sha256") else None

    def record(self, name: str, inputs: str, target: Path, sha: str) -> None:
        self.data[name] = {"inputs": inputs, "sha256": sha, "size": target.stat().st_size}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# The dependencies layer
#
# A use case's layer is installed from ``<uc>/requirements.lock``: every distribution the layer
# needs, pinned, with the SHA-256 of each wheel the Lambda build and the host build download.
# pip runs with ``--require-hashes``, so a wheel that differs from the one locked fails the build.
# ``make lock-layers`` (:func:`lock_layer`) writes the lock from ``requirements.txt``.

LOCK_HEADER = "# requirements-sha256: "
LOCK_PLATFORM = "# lambda-platform: "


@dataclass(frozen=True)
class LayerTarget:
    """The Lambda platform a layer is built for."""

    architecture: str  # "arm64" or "x86_64"
    python_version: str  # "3.12"

    @property
    def pip_platforms(self) -> tuple[str, ...]:
        """Wheel platforms that run on Lambda's Python 3.12 runtime (Amazon Linux 2023, glibc 2.34).

        manylinux_2_28 wheels need glibc 2.28, manylinux2014 ones 2.17; both run there. pip tries
        the tags in this order, so a release with both gets its newer build.
        """
        machine = "aarch64" if self.architecture == "arm64" else "x86_64"
        return (f"manylinux_2_28_{machine}", f"manylinux2014_{machine}")

    @property
    def pip_args(self) -> list[str]:
        platforms = [arg for platform in self.pip_platforms for arg in ("--platform", platform)]
        return [*platforms, "--implementation", "cp", "--python-version", self.python_version,
                "--only-binary=:all:"]  # fmt: skip

    @property
    def label(self) -> str:
        return f"{' '.join(self.pip_platforms)} cp{self.python_version}"


def _run_pip(args: Sequence[str]) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    logger.debug("running %s", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        if "DO NOT MATCH THE HASHES" in output:
            lines = [line.strip() for line in output.splitlines()]
            mismatch = [line for line in lines if line.startswith(("Expected", "Got"))]
            raise PackagingError(
                "a downloaded wheel does not match the hash in the layer lock (tampered or re-published "
                f"file, or a stale lock): {' | '.join(mismatch[:4])}; check the source, then run "
                "`make lock-layers` only if the new file is trusted"
            )
        tail = " | ".join(output.splitlines()[-3:])
        raise PackagingError(f"pip failed ({' '.join(args[:2])} …): {tail}")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requested_names(requirements: str) -> set[str]:
    names = set()
    for line in requirements.splitlines():
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)", line)
        if match and not line.lstrip().startswith(("#", "-")):
            names.add(_canonical(match.group(1)))
    return names


def lock_file(requirements: Path) -> Path:
    """``requirements.txt`` -> ``requirements.lock`` beside it."""
    return requirements.with_suffix(".lock")


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def read_lock(requirements: Path, target: LayerTarget) -> str:
    """The lock's text, after checking it was generated from this requirements file and platform."""
    lock = lock_file(requirements)
    fix = "run `make lock-layers` (it resolves for the Lambda platform and records the wheel hashes)"
    if not lock.is_file():
        raise PackagingError(f"{lock} is missing: the layer installs only hash-pinned wheels; {fix}")
    text = lock.read_text(encoding="utf-8")
    header = dict(
        line.split(": ", 1) for line in text.splitlines() if line.startswith(("# requirements-", "# lambda-"))
    )
    if header.get(LOCK_HEADER.removesuffix(": ")) != _text_sha256(requirements.read_text(encoding="utf-8")):
        raise PackagingError(f"{lock} was not generated from the current {requirements.name}; {fix}")
    if header.get(LOCK_PLATFORM.removesuffix(": ")) != target.label:
        raise PackagingError(f"{lock} was generated for another platform than {target.label}; {fix}")
    return text


def lock_entries(text: str) -> dict[str, tuple[str, list[str]]]:
    """canonical name -> (``name==version``, hashes) of a lock file."""
    entries: dict[str, tuple[str, list[str]]] = {}
    joined = re.sub(r"\\\n\s*", " ", text)
    for line in joined.splitlines():
        if line.startswith("#") or "==" not in line:
            continue
        pin, *options = line.split()
        hashes = [option.removeprefix("--hash=sha256:") for option in options if option.startswith("--hash=")]
        entries[_canonical(pin.split("==")[0])] = (pin, hashes)
    return entries


def _install_layer(lock: Path, target: LayerTarget | None, site: Path, runner: PipRunner) -> None:
    """Install the locked wheels into ``site``: for ``target`` (Lambda), or for this interpreter."""
    platform_args = target.pip_args if target is not None else ["--only-binary=:all:"]
    runner(["install", "--no-deps", "--require-hashes", "--no-compile", "--quiet", "--target", str(site),
            *platform_args, "-r", str(lock)])  # fmt: skip


def _runner_id(pip: PipRunner | None) -> str:
    # A stand-in runner (tests, the offline local cloud) gets its own cache entries, so its output
    # can never be taken for a real layer by a later deploy.
    if pip is None:
        return "pip"
    return f"{getattr(pip, '__module__', '')}.{getattr(pip, '__qualname__', type(pip).__qualname__)}"


def build_layer(
    requirements: Path,
    target: LayerTarget,
    cache_root: Path,
    *,
    pip: PipRunner | None = None,
) -> tuple[Path, bool]:
    """Build (or reuse) the layer zip for ``requirements`` on ``target``; return (zip, rebuilt).

    pip installs the hash-pinned lock beside ``requirements`` with ``--require-hashes --no-deps``.
    The cache key is the hash of the lock, the platform, the runner and the build version, so a
    rerun on the same machine never calls pip.
    """
    runner = pip or _run_pip
    text = read_lock(requirements, target)
    key = _text_sha256(f"{BUILD_VERSION}\0{_runner_id(pip)}\0{target.label}\0{text}")
    cached = cache_root / f"{key}.zip"
    if cached.is_file():
        if not cached.with_suffix(".sha256").is_file():
            cached.with_suffix(".sha256").write_text(sha256_file(cached) + "\n", encoding="utf-8")
        return cached, False
    with tempfile.TemporaryDirectory(prefix="layer-") as scratch:
        site = Path(scratch) / "python"
        _install_layer(lock_file(requirements), target, site, runner)
        files = [
            (f"python/{path.relative_to(site).as_posix()}", path.read_bytes())
            for path in (sorted(site.rglob("*")) if site.is_dir() else [])
            if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith(".pyc")
        ]
        if not files:
            raise PackagingError(f"{requirements}: pip installed nothing for the layer")
        sha = write_zip(cached, files)
        cached.with_suffix(".sha256").write_text(sha + "\n", encoding="utf-8")
    return cached, True


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (parallel test workers build one cache entry once)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _install_once(folder: Path, install: Callable[[Path], None]) -> None:
    """Run ``install(partial)`` and move the result to ``folder``, unless a finished one is there."""
    with _exclusive(folder.with_name(folder.name + ".lock")):
        if (folder / ".complete").is_file():
            return
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        install(partial)
        (partial / ".complete").write_text("", encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)


def host_layer(
    requirements: Path, target: LayerTarget, cache_root: Path, *, pip: PipRunner | None = None
) -> Path:
    """The same locked distributions installed for this interpreter: a folder for ``sys.path``.

    The real layer holds Linux arm64 wheels that cannot load here; this one has the same
    distributions at the same versions, so an import that fails here fails on Lambda too. Cached
    under ``cache_root`` by the lock, the host platform and the runner.
    """
    text = read_lock(requirements, target)
    host = f"{sys.implementation.cache_tag}-{sysconfig.get_platform()}"
    key = _text_sha256(f"{BUILD_VERSION}\0{_runner_id(pip)}\0host {host}\0{text}")
    folder = cache_root / key[:24]
    runner = pip or _run_pip
    _install_once(
        folder, lambda partial: _install_layer(lock_file(requirements), None, partial / "python", runner)
    )
    return folder / "python"


def runtime_sdk(cache_root: Path, *, pip: PipRunner | None = None) -> Path:
    """The AWS SDK the Lambda runtime provides, at the project's pins, in a folder for ``sys.path``.

    The versions are those of ``requirements.lock`` for :data:`RUNTIME_PROVIDED` (the project pins
    the runtime's boto3); pip installs them once per set into ``cache_root``.
    """
    pins = sorted(
        line.strip()
        for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if "==" in line and _canonical(line.split("==")[0]) in RUNTIME_PROVIDED
    )
    key = _text_sha256(f"{BUILD_VERSION}\0{_runner_id(pip)}\0{sys.implementation.cache_tag}\0{pins}")
    folder = cache_root / f"sdk-{key[:20]}"
    runner = pip or _run_pip
    _install_once(
        folder,
        lambda partial: runner(
            ["install", "--no-deps", "--no-compile", "--quiet", "--target", str(partial), *pins]
        ),
    )
    return folder


def _wheel_name(filename: str) -> tuple[str, str]:
    """(canonical name, version) of a wheel file name."""
    parts = filename.split("-")
    return _canonical(parts[0]), parts[1]


def lock_layer(requirements: Path, target: LayerTarget, *, pip: PipRunner | None = None) -> Path:
    """Resolve ``requirements`` for ``target`` and write the hash-pinned lock beside it.

    The resolution is Lambda's; the SDK the runtime provides is left out (as from the layer). Each
    pinned distribution's wheel is downloaded for Lambda and for this host, and both hashes are
    recorded. Hashes already in the lock for the same version are kept, so a lock written on one
    developer platform still serves another after it ran here once.
    """
    runner = pip or _run_pip
    text = requirements.read_text(encoding="utf-8")
    wanted = _requested_names(text)
    previous = (
        lock_entries(lock_file(requirements).read_text(encoding="utf-8"))
        if lock_file(requirements).is_file()
        else {}
    )
    with tempfile.TemporaryDirectory(prefix="lock-") as scratch:
        report = Path(scratch) / "report.json"
        runner(["install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
                *target.pip_args, "-r", str(requirements)])  # fmt: skip
        pins: dict[str, str] = {}
        for item in json.loads(report.read_text(encoding="utf-8")).get("install", []):
            name, version = item["metadata"]["name"], item["metadata"]["version"]
            if _canonical(name) in RUNTIME_PROVIDED and _canonical(name) not in wanted:
                logger.info("layer lock: leaving out %s %s (the Lambda runtime provides it)", name, version)
                continue
            pins[_canonical(name)] = f"{name}=={version}"
        hashes: dict[str, set[str]] = {name: set() for name in pins}
        for label, platform_args in (("lambda", target.pip_args), ("host", ["--only-binary=:all:"])):
            folder = Path(scratch) / label
            runner(["download", "--no-deps", "--quiet", "--dest", str(folder), *platform_args,
                    *sorted(pins.values())])  # fmt: skip
            for wheel in sorted(folder.glob("*.whl")):
                name, version = _wheel_name(wheel.name)
                if name in pins and pins[name].endswith(f"=={version}"):
                    hashes[name].add(sha256_file(wheel))
        missing = sorted(pins[name] for name, found in hashes.items() if not found)
        if missing:
            raise PackagingError(f"{requirements}: no wheel was downloaded for {', '.join(missing)}")
    lines = [
        f"# Hash-pinned layer dependencies, generated by `make lock-layers` from {requirements.name}; "
        "do not edit.",
        "# pip installs them with --require-hashes --no-deps, for Lambda and for the host check.",
        f"{LOCK_HEADER}{_text_sha256(text)}",
        f"{LOCK_PLATFORM}{target.label}",
    ]
    for name in sorted(pins):
        pin = pins[name]
        kept = set(previous[name][1]) if name in previous and previous[name][0] == pin else set()
        lines.append(" \\\n".join([pin, *(f"    --hash=sha256:{h}" for h in sorted(hashes[name] | kept))]))
    lock = lock_file(requirements)
    lock.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lock


def layer_sha256(layer_zip: Path) -> str:
    """The recorded hash of a cached layer (hashing a large layer on every warm run is wasted time)."""
    recorded = layer_zip.with_suffix(".sha256")
    if recorded.is_file():
        sha = recorded.read_text(encoding="utf-8").strip()
        if len(sha) == 64:
            return sha
    return sha256_file(layer_zip)


def _layer_target(template: dict[str, Any], layer: dict[str, Any]) -> LayerTarget:
    """Architecture and Python version for the layer: its own lists, else the functions'."""
    properties = layer.get("Properties", {})
    architectures = {a for a in properties.get("CompatibleArchitectures", []) if isinstance(a, str)}
    runtimes = {r for r in properties.get("CompatibleRuntimes", []) if isinstance(r, str)}
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Lambda::Function":
            fn = resource.get("Properties", {})
            if not properties.get("CompatibleArchitectures"):
                architectures.update(a for a in fn.get("Architectures", ["x86_64"]) if isinstance(a, str))
            if not properties.get("CompatibleRuntimes") and isinstance(fn.get("Runtime"), str):
                runtimes.add(fn["Runtime"])
    if len(architectures) > 1:
        raise PackagingError(f"one layer cannot serve several architectures: {sorted(architectures)}")
    pythons = {r.removeprefix("python") for r in runtimes if r.startswith("python")}
    if len(pythons) > 1:
        raise PackagingError(f"one layer cannot serve several Python versions: {sorted(pythons)}")
    return LayerTarget(next(iter(architectures), "x86_64"), next(iter(pythons), "3.12"))


# --------------------------------------------------------------------------------------------------
# Packaging a use case


def _function_name(logical_id: str, properties: dict[str, Any]) -> str | None:
    """The ``functions/<fn>`` folder a function resource points at, or None for inline code."""
    code = properties.get("Code", {})
    if not isinstance(code, dict) or "ZipFile" in code:
        return None
    handler = properties.get("Handler")
    key = code.get("S3Key")
    from_handler = _SOURCE_HANDLER.match(handler) if isinstance(handler, str) else None
    from_key = _PLACEHOLDER_KEY.match(key) if isinstance(key, str) else None
    if from_handler is None:
        raise PackagingError(
            f"{logical_id}: Handler must be functions/<fn>/handler.handler (the source path), got {handler!r}"
        )
    if from_key is None or from_key.group("fn") != from_handler.group("fn"):
        raise PackagingError(
            f"{logical_id}: Code.S3Key must be the placeholder functions/{from_handler.group('fn')}.zip, "
            f"got {key!r}"
        )
    return from_handler.group("fn")


def layer_platform(uc: UseCase) -> LayerTarget | None:
    """The platform of ``uc``'s dependencies layer (read from its template), or None without one."""
    template = cfn_template.load(uc.template)
    for resource in template.get("Resources", {}).values():
        if (
            isinstance(resource, dict)
            and resource.get("Type") == "AWS::Lambda::LayerVersion"
            and resource.get("Properties", {}).get("Content", {}).get("S3Key") == LAYER_PLACEHOLDER_KEY
        ):
            return _layer_target(template, resource)
    return None


def lock_use_case(uc: UseCase | str | os.PathLike[str], *, pip: PipRunner | None = None) -> Path | None:
    """Write the layer lock of ``uc`` (``make lock-layers``); None when it has no layer."""
    use_case = resolve(uc)
    requirements = requirements_file(use_case)
    target = layer_platform(use_case) if use_case.exists else None
    if requirements is None or target is None:
        return None
    return lock_layer(requirements, target, pip=pip)


def artifact_key(uc: UseCase, kind: str, name: str, sha: str) -> str:
    """The content-addressed S3 key: ``<uc>/functions/<fn>/<sha256>.zip`` or ``<uc>/layers/...``."""
    folder = "functions" if kind == "function" else "layers"
    return f"{uc.name}/{folder}/{name}/{sha}.zip"


def package(
    uc: UseCase | str | os.PathLike[str],
    build_root: Path = DEFAULT_BUILD_ROOT,
    *,
    shared_dir: Path = SHARED_PACKAGE,
    pip: PipRunner | None = None,
    artifact_bucket: str | None = None,
) -> PackagedUseCase:
    """Build every artifact of ``uc`` into ``build_root/<uc>/`` and write the packaged template.

    ``artifact_bucket`` is where the artifacts will be uploaded: an included snippet's Location
    names it (``s3://<bucket>/<key>``). Without it the Location names :data:`UNKNOWN_BUCKET`, which
    no bucket can be called, so such a template deploys only through ``make deploy``.
    """
    use_case = resolve(uc)
    if not use_case.exists:
        raise PackagingError(f"{use_case.name} has no template yet ({use_case.template} is missing)")
    folder = uc_folder(use_case)
    try:
        template = cfn_template.load(use_case.template, raw=True)
        expanded = cfn_template.expand(cfn_template.inline_includes(template, folder))
    except cfn_template.TemplateError as error:
        raise PackagingError(f"{use_case.template}: {error}") from error
    if not isinstance(template.get("Resources"), dict):
        raise PackagingError(f"{use_case.template}: not a CloudFormation template (no Resources section)")
    build_dir = build_root / use_case.name
    state = _BuildState(build_dir / ".package-state.json")
    artifacts: list[Artifact] = []
    built: dict[str, Artifact] = {}
    memo: dict[Path, bytes] = {}
    resources: dict[str, Any] = template["Resources"]
    roots = first_party_roots(use_case, shared_dir)
    parsed: dict[Path, Any] = {}  # parsed modules, shared by every function of this run
    rewrites: dict[str, str] = {}  # source Handler or placeholder key -> packaged value

    for logical_id, resource in expanded["Resources"].items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Lambda::Function":
            continue
        properties = resource.setdefault("Properties", {})
        fn = _function_name(logical_id, properties)
        if fn is None:
            continue
        if fn not in built:
            function_dir = uc_folder(use_case) / "functions" / fn
            if not function_dir.is_dir():
                raise PackagingError(f"{logical_id}: function folder {function_dir} does not exist")
            entries = _entries_cached(state, fn, function_dir, roots, memo, parsed)
            inputs = _inputs_digest(entries, memo)
            target = build_dir / "functions" / f"{fn}.zip"
            sha = state.fresh(f"function:{fn}", inputs, target)
            rebuilt = sha is None
            if sha is None:
                sha = write_zip(target, ((name, path.read_bytes()) for name, path in entries))
                state.record(f"function:{fn}", inputs, target, sha)
            artifact = Artifact("function", fn, target, artifact_key(use_case, "function", fn, sha), sha,
                                target.stat().st_size, rebuilt)  # fmt: skip
            built[fn] = artifact
            artifacts.append(artifact)
        match = _SOURCE_HANDLER.match(properties["Handler"])
        assert match is not None  # checked by _function_name
        rewrites[properties["Handler"]] = f"{match.group('module')}.{match.group('func')}"
        rewrites[properties["Code"]["S3Key"]] = built[fn].key
    _rewrite_function_sources(template, rewrites)
    local = cfn_template.inline_definitions(
        cfn_template.expand(cfn_template.inline_includes(template, folder)), folder
    )
    cfn_template.drop_unused_mappings(local)
    artifacts.extend(_definitions(use_case, template, build_dir))
    artifacts.extend(_includes(use_case, template, build_dir, artifact_bucket or UNKNOWN_BUCKET))

    layers = {
        logical_id: resource
        for logical_id, resource in expanded["Resources"].items()
        if isinstance(resource, dict)
        and resource.get("Type") == "AWS::Lambda::LayerVersion"
        and resource.get("Properties", {}).get("Content", {}).get("S3Key") == LAYER_PLACEHOLDER_KEY
    }
    requirements = requirements_file(use_case)
    if layers and requirements is None:
        raise PackagingError(
            f"{use_case.name}: the template has a dependencies layer ({', '.join(layers)}) "
            f"but {uc_folder(use_case) / 'requirements.txt'} is missing"
        )
    if requirements is not None and not layers:
        raise PackagingError(
            f"{use_case.name}: {requirements.name} exists but the template has no AWS::Lambda::LayerVersion "
            f"with Content.S3Key {LAYER_PLACEHOLDER_KEY}; its functions would run without their dependencies"
        )
    if requirements is not None:
        if len(layers) > 1:
            raise PackagingError(f"{use_case.name}: one dependencies layer expected, found {sorted(layers)}")
        layer = next(iter(layers.values()))
        platform = _layer_target(expanded, layer)
        zip_path, rebuilt = build_layer(requirements, platform, build_root / ".layer-cache", pip=pip)
        sha = layer_sha256(zip_path)
        key = artifact_key(use_case, "layer", "dependencies", sha)
        artifact = Artifact("layer", "dependencies", zip_path, key, sha, zip_path.stat().st_size, rebuilt)
        # Where the template spells the placeholder: the layer resource, or (for a layer from a
        # shared snippet) the Mappings row its Fn::FindInMap reads the key from.
        raw_layer = resources.get(next(iter(layers)))
        if isinstance(raw_layer, dict) and raw_layer.get("Properties", {}).get("Content", {}).get("S3Key"):
            raw_layer["Properties"]["Content"]["S3Key"] = artifact.key
        _rewrite_function_sources(template, {LAYER_PLACEHOLDER_KEY: artifact.key})
        local["Resources"][next(iter(layers))]["Properties"]["Content"]["S3Key"] = artifact.key
        artifacts.append(artifact)

    body = cfn_template.dump(template)
    expanded_body = cfn_template.dump(local)
    template_path = build_dir / "template.packaged.yaml"
    template_path.parent.mkdir(parents=True, exist_ok=True)
    for path, text in ((template_path, body), (build_dir / "template.expanded.yaml", expanded_body)):
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    state.save()
    return PackagedUseCase(use_case, template_path, body, artifacts, expanded_body)


def _rewrite_function_sources(template: dict[str, Any], rewrites: Mapping[str, str]) -> None:
    """Point Handler and Code.S3Key at the packaged zips, where the raw template spells them.

    That is the function's own properties, or for a function made by ``Fn::ForEach`` the
    Mappings rows its ``Fn::FindInMap`` reads them from.
    """
    for resource in template["Resources"].values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Lambda::Function":
            properties = resource.get("Properties", {})
            if isinstance(properties.get("Handler"), str) and properties["Handler"] in rewrites:
                properties["Handler"] = rewrites[properties["Handler"]]
            code = properties.get("Code")
            if isinstance(code, dict) and isinstance(code.get("S3Key"), str) and code["S3Key"] in rewrites:
                code["S3Key"] = rewrites[code["S3Key"]]
    for rows in (template.get("Mappings") or {}).values():
        for row in rows.values():
            for name, value in row.items():
                if isinstance(value, str) and value in rewrites:
                    row[name] = rewrites[value]


def _definitions(use_case: UseCase, template: dict[str, Any], build_dir: Path) -> list[Artifact]:
    """Copy each state machine definition file into the build and point its S3 key at the copy."""
    artifacts: list[Artifact] = []
    for resource in template["Resources"].values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::StepFunctions::StateMachine":
            continue
        location = resource.get("Properties", {}).get("DefinitionS3Location")
        key = location.get("Key") if isinstance(location, dict) else None
        source = uc_folder(use_case) / key if isinstance(key, str) else None
        if source is None or not source.is_file():
            continue
        data = source.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        name = source.name.removesuffix(".asl.json")
        target = build_dir / "statemachine" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        rebuilt = not target.is_file() or target.read_bytes() != data
        if rebuilt:
            target.write_bytes(data)
        artifact_key_ = f"{use_case.name}/statemachine/{name}/{sha}.asl.json"
        location["Key"] = artifact_key_
        artifacts.append(Artifact("definition", name, target, artifact_key_, sha, len(data), rebuilt))
    return artifacts


# The bucket an included snippet's Location names when the packager is not told the real one: not a
# valid bucket name, so a template packaged that way fails loudly instead of reading another bucket.
UNKNOWN_BUCKET = "artifact-bucket-not-given"


def _includes(use_case: UseCase, template: dict[str, Any], build_dir: Path, bucket: str) -> list[Artifact]:
    """Copy each included snippet into the build, keyed by its hash, and point its Location at S3.

    The raw template's Locations are paths relative to the use case folder; each becomes
    ``s3://<bucket>/<uc>/include/<stem>/<sha256>.yaml``, the copy upload puts there.
    """
    folder = uc_folder(use_case)
    artifacts: dict[str, Artifact] = {}
    for location in cfn_template.include_locations(template):
        source = (folder / location).resolve()
        if "://" in location or not source.is_file():
            raise PackagingError(f"{use_case.template}: AWS::Include snippet {location} is not a file")
        data = source.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        target = build_dir / "include" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        rebuilt = not target.is_file() or target.read_bytes() != data
        if rebuilt:
            target.write_bytes(data)
        key = f"{use_case.name}/include/{source.stem}/{sha}{source.suffix}"
        artifacts[location] = Artifact("include", source.stem, target, key, sha, len(data), rebuilt)
    _rewrite_include_locations(template, {loc: f"s3://{bucket}/{a.key}" for loc, a in artifacts.items()})
    return list(artifacts.values())


def _rewrite_include_locations(node: Any, locations: Mapping[str, str]) -> None:
    """Replace every ``AWS::Include`` Location found in ``locations``, in place."""
    if isinstance(node, list):
        for item in node:
            _rewrite_include_locations(item, locations)
    elif isinstance(node, dict):
        spec = node.get("Fn::Transform")
        location = cfn_template.include_location(spec)
        if isinstance(spec, dict) and location is not None and location in locations:
            spec["Parameters"]["Location"] = locations[location]
        for value in node.values():
            _rewrite_include_locations(value, locations)


def package_names(selection: str) -> list[UseCase]:
    """``all`` means every use case and shared stack that has a template; otherwise one."""
    if selection.strip().lower() == "all":
        return [uc for uc in catalog.ALL if uc.exists]
    return [resolve(selection)]


def describe(packaged: PackagedUseCase, out: Callable[[str], None] = print) -> None:
    """Print one line per artifact (reused or rebuilt) and the packaged template path."""
    for artifact in packaged.artifacts:
        state = "built " if artifact.rebuilt else "cached"
        out(f"  {state} {artifact.kind:<8} {artifact.name:<24} {artifact.size:>10,} B  {artifact.key}")
    try:
        shown = packaged.template_path.relative_to(ROOT)
    except ValueError:
        shown = packaged.template_path
    out(f"  template {shown}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Package a use case (or all) into build/.")
    parser.add_argument("uc", help="use case name, UC<n>, folder, or 'all'")
    parser.add_argument("--build-root", type=Path, default=DEFAULT_BUILD_ROOT)
    parser.add_argument(
        "--lock", action="store_true", help="write the hash-pinned layer lock instead of packaging"
    )
    parser.add_argument(
        "--artifact-bucket", default=None, help="the bucket the artifacts go to (names included snippets)"
    )
    args = parser.parse_args(argv)
    try:
        selected = package_names(args.uc)
    except catalog.UnknownUseCaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = 0
    for use_case in selected:
        print(f"{use_case.name}:")
        try:
            if args.lock:
                lock = lock_use_case(use_case)
                print(f"  {'no dependencies layer' if lock is None else f'wrote {lock}'}")
            else:
                describe(package(use_case, args.build_root, artifact_bucket=args.artifact_bucket))
        except PackagingError as error:
            # With UC=all one broken use case must not hide the others: report and carry on.
            print(f"error: {error}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
