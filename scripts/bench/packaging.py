"""Packaging figures: cold versus warm packaging, bytes per function zip, handler import cost.

* Cold: every zip built into an empty build folder (the layer comes from the machine's layer cache,
  so pip and the network are not part of the figure). Warm: the same call again, which must reuse
  every zip; the ratio warm/cold shows what the input check costs.
* Bytes per function zip, as uploaded.
* Import time of a packaged handler's own modules (handler.py, its siblings and ``shared``),
  measured in fresh interpreters from the unpacked zip (median of several runs), once compiling
  from source as a Lambda cold start does ("no .pyc": the zip carries none and the task root is
  read-only) and once with the byte-code cache warm (".pyc"); the target is at most 50 ms.
  The baseline is ``import boto3`` plus every third-party module the handler really imports at
  module level (numpy for the point-cloud handlers, for example): those come from the layer, and
  the handler cannot avoid them, so charging them to the handler would hide what its own code
  costs. A handler that imports a heavy package only inside the function that uses it (Pillow in
  the retail functions) leaves it out of both figures. Each row names the packages in its baseline.

Per use case, three figures about the per-function building blocks:

* raw template lines per function: lines of ``template.yaml`` over the number of function folders,
  read at run time (the template is what a use-case author writes and reads), against 120; the
  snippets of ``shared/cfn/blocks`` every template includes are counted once, on their own line;
* zips changed by a one-module change, next to the number of functions: the sources are copied, then
  each first-party module a function zip holds is edited in turn and the use case re-packaged; the
  minimum, median and maximum of the changed-zip counts over those modules are reported (the
  modules every function imports, such as ``shared/config.py``, change every zip by nature);
* the numpy version of the layer, read from the use case's hash-pinned layer lock.

Every use case with a template is measured; while none has one, the fixture use case stands in.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from scripts import catalog, packaging
from scripts.bench import Report, stopwatch
from scripts.catalog import ROOT, UseCase

logger = logging.getLogger(__name__)

FIXTURE = ROOT / "tests" / "fixtures" / "mini-uc"
IMPORT_RUNS = 3
IMPORT_TARGET_MS = 50.0
TEMPLATE_LINES_TARGET = 120  # raw template lines per function (issue: template building blocks)
BLOCKS = ROOT / "shared" / "cfn" / "blocks"

# Runs in a fresh interpreter: import boto3, then the handler, and print the third-party modules the
# handler import brought in (neither the standard library nor the unpacked zip's own code).
_DISCOVER = """
import json, sys
import boto3
before = set(sys.modules)
sys.path.insert(0, sys.argv[1])
import handler
own = sys.argv[1].rstrip("/") + "/"
third_party = []
for name, module in list(sys.modules.items()):
    if name in before or name.partition(".")[0] in sys.stdlib_module_names or name == "handler":
        continue
    origin = getattr(module, "__file__", None) or ""
    if origin and not origin.startswith(own):
        third_party.append(name)
print(json.dumps(third_party))
"""

# Runs in a fresh interpreter: time the baseline (boto3 plus the handler's third-party modules, in
# the order the handler import loaded them), then the handler module from the unpacked zip.
_PROBE = """
import importlib, json, sys, time
start = time.perf_counter()
import boto3
for name in json.loads(sys.argv[2]):
    try:
        importlib.import_module(name)
    except ImportError:
        pass  # a module that only its parent can create; the parent import brought it in
after_baseline = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import handler
done = time.perf_counter()
print(json.dumps({"baseline": after_baseline - start, "handler": done - after_baseline}))
"""


def _use_cases() -> list[UseCase]:
    """Use cases that package today (a template still being written is reported and left out)."""
    found = []
    for uc in [uc for uc in catalog.USE_CASES if uc.exists] or [packaging.resolve(str(FIXTURE))]:
        try:
            # Into the real build folder: fills the machine's layer cache (pip runs once per input).
            packaging.package(uc, packaging.DEFAULT_BUILD_ROOT)
        except packaging.PackagingError as error:
            print(f"  skipped {uc.name}: {error}", flush=True)
            continue
        found.append(uc)
    return found


def _third_party(folder: Path, env: dict[str, str]) -> list[str]:
    """Third-party modules (full names, load order) the handler imports at module level."""
    command = [sys.executable, "-c", _DISCOVER, str(folder.resolve())]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=folder, env=env)
    names: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return names


def _import_seconds(folder: Path, *, bytecode: bool) -> tuple[float, float, list[str]]:
    """Median (baseline, handler on top of it) import seconds over IMPORT_RUNS interpreters.

    The baseline is boto3 plus the third-party modules the handler imports at module level (also
    returned, as top-level package names). Without ``bytecode`` the handler's modules compile
    from source on every run, as on Lambda: the zip carries no .pyc and the task root is
    read-only. With it, a first run writes the byte-code cache and the figure shows the import alone.
    """
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("PYTHONPATH", None)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    third_party = _third_party(folder, env)
    command = [sys.executable, "-c", _PROBE, str(folder.resolve()), json.dumps(third_party)]
    if bytecode:
        subprocess.run(command, capture_output=True, text=True, check=True, cwd=folder, env=env)
    baseline_runs, handler_runs = [], []
    for _ in range(IMPORT_RUNS):
        done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=folder, env=env)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        baseline_runs.append(figures["baseline"])
        handler_runs.append(figures["handler"])
    packages = sorted({name.partition(".")[0] for name in third_party})
    return statistics.median(baseline_runs), statistics.median(handler_runs), packages


def _function_count(uc: UseCase) -> int:
    folder = packaging.uc_folder(uc) / "functions"
    return sum(1 for path in folder.iterdir() if (path / "handler.py").is_file()) if folder.is_dir() else 0


def _one_module_changes(uc: UseCase, scratch: Path) -> list[int]:
    """For each first-party module in the use case's zips: how many zips one edit of it changes."""
    sources = scratch / "sources" / uc.name
    shared = sources / "shared"
    shutil.copytree(packaging.SHARED_PACKAGE, shared, ignore=shutil.ignore_patterns("__pycache__"))
    folder = sources / uc.name
    shutil.copytree(packaging.uc_folder(uc), folder, ignore=shutil.ignore_patterns("__pycache__"))
    build = scratch / "one-module" / uc.name
    if (packaging.DEFAULT_BUILD_ROOT / ".layer-cache").is_dir():
        shutil.copytree(packaging.DEFAULT_BUILD_ROOT / ".layer-cache", build / ".layer-cache")

    def hashes() -> dict[str, str]:
        packaged = packaging.package(folder, build, shared_dir=shared)
        return {a.name: a.sha256 for a in packaged.artifacts if a.kind == "function"}

    original = hashes()
    roots = set(packaging.first_party_roots(packaging.resolve(folder), shared))
    modules: set[str] = set()
    for artifact in packaging.package(folder, build, shared_dir=shared).artifacts:
        if artifact.kind == "function":
            with zipfile.ZipFile(artifact.path) as archive:
                modules.update(
                    n for n in archive.namelist() if n.endswith(".py") and n.split("/")[0] in roots
                )
    changed = []
    for name in sorted(modules):
        head, _, rest = name.partition("/")
        path = (shared if head == "shared" else folder / head) / rest
        text = path.read_bytes()
        path.write_bytes(text + b"\n# one-module change\n")
        try:
            after = hashes()
        finally:
            path.write_bytes(text)
        changed.append(sum(after[fn] != original[fn] for fn in original))
    return changed


def _layer_numpy(uc: UseCase) -> str:
    requirements = packaging.requirements_file(uc)
    lock = packaging.lock_file(requirements) if requirements else None
    if lock is None or not lock.is_file():
        return "no layer"
    pins = [pin for pin, _ in packaging.lock_entries(lock.read_text(encoding="utf-8")).values()]
    return next((pin.split("==")[1] for pin in pins if pin.lower().startswith("numpy==")), "not in the layer")


def building_blocks(report: Report, use_cases: list[UseCase], scratch: Path) -> None:
    """Template lines per function, zips changed by a one-module change, the layer's numpy."""
    for uc in use_cases:
        functions = _function_count(uc)
        if not functions:
            continue
        lines = len(uc.template.read_text(encoding="utf-8").splitlines())
        per_function = lines / functions
        report.add(
            f"template lines per function, {uc.name}",
            per_function,
            "lines",
            target=f"≤ {TEMPLATE_LINES_TARGET}",
            met=per_function <= TEMPLATE_LINES_TARGET,
        )
        changes = _one_module_changes(uc, scratch)
        if changes:
            figures = (("min", min(changes)), ("median", statistics.median(changes)), ("max", max(changes)))
            for how, value in figures:
                label = f"zips changed by 1 edit, {uc.name} {how} of {len(changes)}"
                report.add(label, value, "zips", baseline=functions)
        print(f"  {'layer numpy, ' + uc.name:<52} {_layer_numpy(uc):>14}", flush=True)
    # Written once for every use case, so counted once, not per template.
    blocks = sorted(BLOCKS.glob("*.yaml"))
    shared = sum(len(path.read_text(encoding="utf-8").splitlines()) for path in blocks)
    report.add(f"shared building blocks ({len(blocks)} snippets, once for all)", shared, "lines")


def run(report: Report) -> None:
    """Package every use case cold and warm, then size and import each function zip."""
    use_cases = _use_cases()
    shared_cache = packaging.DEFAULT_BUILD_ROOT / ".layer-cache"
    with tempfile.TemporaryDirectory(prefix="bench-packaging-") as scratch:
        root = Path(scratch) / "build"
        if not use_cases:
            return
        if shared_cache.is_dir():
            shutil.copytree(shared_cache, root / ".layer-cache")
        with stopwatch() as cold:
            built = [packaging.package(uc, root) for uc in use_cases]
        with stopwatch() as warm:
            again = [packaging.package(uc, root) for uc in use_cases]
        rebuilt = sum(a.rebuilt for p in again for a in p.artifacts if a.kind == "function")
        names = ", ".join(uc.name for uc in use_cases)
        report.add(f"package cold ({names})", cold() * 1000, "ms")
        report.add(
            "package warm (nothing changed)",
            warm() * 1000,
            "ms",
            baseline=cold() * 1000,
            target="≤ 0.5",
            met=warm() <= 0.5 * cold(),
        )
        report.add("zips rebuilt on the warm run", rebuilt, "zips", target="= 0", met=rebuilt == 0)
        building_blocks(report, use_cases, Path(scratch))

        for packaged in built:
            for artifact in packaged.artifacts:
                if artifact.kind == "include":
                    continue  # the shared snippets, counted once above
                label = f"{packaged.use_case.name}/{artifact.name}"
                report.add(f"{artifact.kind} zip bytes {label}", artifact.size, "B")
            for artifact in packaged.artifacts:
                if artifact.kind != "function":
                    continue
                unpacked = Path(scratch) / "unpacked" / packaged.use_case.name / artifact.name
                with zipfile.ZipFile(artifact.path) as archive:
                    archive.extractall(unpacked)
                for bytecode, how in ((False, "no .pyc"), (True, ".pyc")):
                    label = f"import {packaged.use_case.name}/{artifact.name} {how}"
                    try:
                        baseline_s, handler_s, packages = _import_seconds(unpacked, bytecode=bytecode)
                    except subprocess.CalledProcessError as error:
                        print(f"  {label}: does not import: {error.stderr.strip()[-300:]}", flush=True)
                        report.add(label, 0.0, "ms", target="imports cleanly", met=False)
                        break
                    added_ms = handler_s * 1000
                    base = "+".join(["boto3", *packages])
                    report.add(
                        label,
                        added_ms,
                        "ms",
                        baseline=baseline_s * 1000,
                        target=f"≤ {IMPORT_TARGET_MS:.0f} ms own (baseline {base})",
                        met=added_ms <= IMPORT_TARGET_MS,
                    )
