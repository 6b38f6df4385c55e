"""Build what a use case needs in S3: one deterministic zip per function, a layer, a packaged template.

``aws cloudformation package`` cannot do this for the project: it zips a folder as it is, so a
function would lose the ``shared/`` package that lives outside it, and the Handler path of the source
template would be wrong inside the flattened zip. The packager therefore

* zips each ``functions/<fn>/`` folder at the zip root together with the whole ``shared/`` package
  (tests, caches, ``shared/cfn`` and byte code left out), with fixed timestamps, sorted entries and
  fixed permissions, so the same sources always give the same bytes;
* names every artifact by the SHA-256 of its bytes, so an unchanged function is never uploaded twice;
* builds the third-party dependencies of ``<uc-folder>/requirements.txt`` into a layer with pip for
  the Lambda platform (architecture and Python version read from the template), cached by the hash
  of the requirements and the platform, so pip runs at most once per machine for one input (the
  SDK the Lambda runtime already has is left out);
* writes ``build/<uc>/template.packaged.yaml`` with each Handler flattened to ``handler.handler``
  and each code, layer and state machine definition key pointing at its content-addressed
  artifact. A function built by ``Fn::ForEach`` takes its Handler and code key from a Mappings
  row; the packager rewrites those rows, so the packaged template keeps the transform for AWS;
* writes ``build/<uc>/template.expanded.yaml``, the same template with the transform applied and
  the definitions inline (:func:`scripts.cfn_template.load`), for clouds that run no transforms.

A warm run re-hashes the inputs (cheap) and skips compressing any zip whose inputs did not change.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts import catalog, cfn_template
from scripts.catalog import ROOT, UseCase

logger = logging.getLogger(__name__)

# Bump when the zip layout or the build rules change, so cached builds are not reused.
BUILD_VERSION = "1"
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

    kind: str  # "function" or "layer"
    name: str  # function folder name, or "dependencies" for the layer
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


def function_entries(function_dir: Path, shared_dir: Path = SHARED_PACKAGE) -> list[tuple[str, Path]]:
    """(archive name, source file) pairs of one function zip, sorted by archive name."""
    entries: dict[str, Path] = {}
    for path in _walk(function_dir):
        entries[path.relative_to(function_dir).as_posix()] = path
    if any(name.split("/")[0] == "shared" for name in entries):
        raise PackagingError(f"{function_dir}: a function folder must not contain its own shared/")
    for path in _walk(shared_dir):
        relative = path.relative_to(shared_dir)
        if relative.parts[0] == "cfn":
            continue
        entries[f"shared/{relative.as_posix()}"] = path
    if "handler.py" not in entries:
        raise PackagingError(f"{function_dir}: no handler.py")
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


@dataclass(frozen=True)
class LayerTarget:
    """The Lambda platform a layer is built for."""

    architecture: str  # "arm64" or "x86_64"
    python_version: str  # "3.12"

    @property
    def pip_platform(self) -> str:
        return "manylinux2014_aarch64" if self.architecture == "arm64" else "manylinux2014_x86_64"


def _run_pip(args: Sequence[str]) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    logger.debug("running %s", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
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


def build_layer(
    requirements: Path,
    target: LayerTarget,
    cache_root: Path,
    *,
    pip: PipRunner | None = None,
) -> tuple[Path, bool]:
    """Build (or reuse) the layer zip for ``requirements`` on ``target``; return (zip, rebuilt).

    pip first resolves the full set with ``--dry-run --report`` for the Lambda platform, then
    installs the resolved pins with ``--no-deps`` minus :data:`RUNTIME_PROVIDED`. The cache key is
    the hash of the requirements file, the platform, the runner and the build version, so a rerun
    on the same machine never calls pip.
    """
    runner = pip or _run_pip
    # A stand-in runner (tests, the offline local cloud) gets its own cache entries, so its output
    # can never be taken for a real layer by a later deploy.
    runner_id = "pip"
    if pip is not None:
        runner_id = f"{getattr(pip, '__module__', '')}.{getattr(pip, '__qualname__', type(pip).__qualname__)}"
    text = requirements.read_text(encoding="utf-8")
    key = hashlib.sha256(
        f"{BUILD_VERSION}\0{runner_id}\0{target.pip_platform}\0{target.python_version}\0{text}".encode()
    ).hexdigest()
    cached = cache_root / f"{key}.zip"
    if cached.is_file():
        if not cached.with_suffix(".sha256").is_file():
            cached.with_suffix(".sha256").write_text(sha256_file(cached) + "\n", encoding="utf-8")
        return cached, False
    platform_args = [
        "--platform",
        target.pip_platform,
        "--implementation",
        "cp",
        "--python-version",
        target.python_version,
        "--only-binary=:all:",
    ]
    with tempfile.TemporaryDirectory(prefix="layer-") as scratch:
        report = Path(scratch) / "report.json"
        runner(["install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
                *platform_args, "-r", str(requirements)])  # fmt: skip
        resolved = json.loads(report.read_text(encoding="utf-8")).get("install", [])
        wanted = _requested_names(text)
        pins = []
        for item in resolved:
            name, version = item["metadata"]["name"], item["metadata"]["version"]
            if _canonical(name) in RUNTIME_PROVIDED and _canonical(name) not in wanted:
                logger.info("layer: leaving out %s %s (the Lambda runtime provides it)", name, version)
                continue
            pins.append(f"{name}=={version}")
        site = Path(scratch) / "python"
        if pins:
            runner(["install", "--no-deps", "--no-compile", "--quiet", "--target", str(site),
                    *platform_args, *sorted(pins)])  # fmt: skip
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
) -> PackagedUseCase:
    """Build every artifact of ``uc`` into ``build_root/<uc>/`` and write the packaged template."""
    use_case = resolve(uc)
    if not use_case.exists:
        raise PackagingError(f"{use_case.name} has no template yet ({use_case.template} is missing)")
    try:
        template = cfn_template.load(use_case.template, raw=True)
        expanded = cfn_template.expand(template)
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
            entries = function_entries(function_dir, shared_dir)
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
    local = cfn_template.inline_definitions(cfn_template.expand(template), uc_folder(use_case))
    cfn_template.drop_unused_mappings(local)
    artifacts.extend(_definitions(use_case, template, build_dir))

    layers = {
        logical_id: resource
        for logical_id, resource in resources.items()
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
        layer["Properties"]["Content"]["S3Key"] = artifact.key
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
            describe(package(use_case, args.build_root))
        except PackagingError as error:
            # With UC=all one broken use case must not hide the others: report and carry on.
            print(f"error: {error}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
