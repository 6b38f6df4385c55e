"""Imports of every function of the catalog: from its own zip alone, and light at cold start.

* Each function's zip, unpacked, imports with only itself, its use case's layer, the runtime SDK
  and the standard library (``scripts.isolated_import``), as on Lambda.
* Importing a handler loads, of the modules that cost a cold start or belong to one path only
  (:data:`WATCHED`), only those declared for it in :data:`COLD_START`. A use case that is not
  declared fails, so each new use case states what its functions may load.
* Every tool resolves each use case's own package: the catalog's ``sys.path`` entries, mypy's
  ``mypy_path`` and files, ruff's first-party list.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scripts import catalog, packaging
from scripts.isolated_import import IsolatedImportError, check_in_isolation, modules_to_import, use_case_paths
from tests.contract import checks
from tests.fixtures.fake_pip import FakePip

logger = logging.getLogger(__name__)

ROOT = catalog.ROOT
HOST_LAYERS = ROOT / "build" / ".host-layers"  # shared by every run: the wheels download once
USE_CASES = [uc for uc in catalog.USE_CASES if uc.exists]
FUNCTIONS = [
    pytest.param(uc, folder.name, id=f"{uc.name}-{folder.name}")
    for uc in USE_CASES
    for folder in checks.function_folders(uc)
]

# Modules every function must leave alone unless declared: heavy libraries and single-path engines.
WATCHED = (
    "numpy",
    "PIL",
    "laspy",
    "lazrs",
    # The producer's engines; the consumer (shared.streaming.consumer) must not pay for them.
    "shared.streaming.changes",
    "shared.streaming.kinesis",
    "shared.streaming.producer",
    "shared.tasktokens",
    "shared.formats.mp4",
    "shared.formats.pointcloud.readers",
    "shared.formats.pointcloud.las",
    "shared.formats.pointcloud.lzf",
    "shared.formats.pointcloud.transform",
)
# Use case -> (its own watched modules, function -> the watched modules its import may load).
COLD_START: dict[str, tuple[tuple[str, ...], dict[str, set[str]]]] = {
    "retail-catalog": (
        (
            "retail_catalog.discovery",
            "retail_catalog.pipeline",
            "retail_catalog.tagging",
            "retail_catalog.metadata",
        ),
        {
            "discovery": {"retail_catalog.discovery"},
            "image_tagging": {"retail_catalog.pipeline", "retail_catalog.tagging", "retail_catalog.metadata"},
            "catalog_metadata": {"retail_catalog.tagging", "retail_catalog.metadata"},
            "quality_check": {"retail_catalog.pipeline", "retail_catalog.tagging", "retail_catalog.metadata"},
            "stream_producer": {
                "shared.streaming.changes",
                "shared.streaming.kinesis",
                "shared.streaming.producer",
            },
            "stream_consumer": {
                "retail_catalog.pipeline",
                "retail_catalog.tagging",
                "retail_catalog.metadata",
            },
        },
    ),
    "autonomous-driving": (
        ("autonomous_driving.quality", "autonomous_driving.segmentation"),
        {
            "discovery": set(),
            "video_metadata": {"shared.formats.mp4"},
            "annotation_manager": set(),
            "segmentation_callback": {"shared.tasktokens"},
            "pointcloud_qc": {"numpy", "autonomous_driving.quality", "shared.formats.pointcloud.readers"},
            "segmentation_invoke": {
                "numpy",
                "shared.formats.pointcloud.readers",
                "shared.formats.pointcloud.transform",
            },
        },
    ),
    "media-vfx": (
        ("media_vfx.frames", "media_vfx.report", "media_vfx.render"),
        {
            "discovery": set(),
            "frame_check": {"numpy", "media_vfx.frames"},
            "sequence_report": {"numpy", "media_vfx.frames", "media_vfx.report"},
            "render": {"media_vfx.render"},
        },
    ),
    "semiconductor-eda": (
        ("shared.formats.gdsii", "shared.formats.oasis"),
        {"discovery": set(), "validate": set(), "report": set()},
    ),
    "construction-bim": (
        ("shared.formats.ifc", "shared.documents.pdf"),
        {"discovery": set(), "process": set()},
    ),
    "legal-compliance": (
        ("legal_compliance.analyze", "legal_compliance.report"),
        {
            "discovery": set(),
            "collect_acl": set(),
            "analyze": {"legal_compliance.analyze"},
            "report": {"legal_compliance.report"},
        },
    ),
    "energy-seismic": (
        ("energy_seismic.inspect", "energy_seismic.report"),
        {
            "discovery": set(),
            "inspect": {"numpy", "energy_seismic.inspect"},
            "report": {"energy_seismic.report"},
        },
    ),
    "healthcare-dicom": (
        ("healthcare_dicom.deidentify", "healthcare_dicom.summary"),
        {
            "discovery": set(),
            "deidentify": {"healthcare_dicom.deidentify"},
            "summary": {"healthcare_dicom.summary"},
        },
    ),
    "education-research": (
        ("education_research.search_index", "education_research.papers"),
        {
            "discovery": set(),
            "paper": {"education_research.papers"},
            "index": {"education_research.search_index"},
        },
    ),
    "financial-idp": (
        ("financial_idp.report", "pypdf"),
        {
            "discovery": set(),
            "extract": set(),
            "textract_start": {"shared.tasktokens"},
            "textract_callback": {"shared.tasktokens"},
            "report": {"financial_idp.report"},
        },
    ),
    "genomics-pipeline": (
        ("genomics_pipeline.qc", "genomics_pipeline.summary"),
        {
            "discovery": set(),
            "quality_control": {"genomics_pipeline.qc"},
            "summarize": {"genomics_pipeline.summary"},
            "report": set(),
        },
    ),
    "manufacturing-analytics": (
        ("manufacturing_analytics.report",),
        {
            "discovery": set(),
            "sensor_log": set(),
            "inspection": set(),
            "report": {"manufacturing_analytics.report"},
        },
    ),
    "insurance-claims": (
        ("insurance_claims.aggregate", "shared.language.extraction", "pypdf", "PIL"),
        {
            "discovery": set(),
            "evidence": set(),
            "assess": {"insurance_claims.aggregate"},
        },
    ),
    "logistics-ocr": (
        ("logistics_ocr.report", "pypdf", "jsonschema"),
        {
            "discovery": set(),
            "process": set(),
            "report": {"logistics_ocr.report"},
            "stream_producer": {
                "shared.streaming.changes",
                "shared.streaming.kinesis",
                "shared.streaming.producer",
            },
            "stream_consumer": set(),
        },
    ),
}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    build = tmp_path_factory.mktemp("build")
    return {uc.name: packaging.package(uc.name, build, pip=FakePip()) for uc in USE_CASES}


def _unzip(artifact: Any, target: Path) -> Path:
    with zipfile.ZipFile(artifact.path) as archive:
        archive.extractall(target)
    return target


@pytest.mark.slow
@pytest.mark.parametrize(("uc", "function"), FUNCTIONS)
def test_every_function_imports_from_its_zip_layer_and_the_runtime_sdk_alone(
    packaged: dict[str, Any], uc: catalog.UseCase, function: str, tmp_path: Path
) -> None:
    artifact = next(a for a in packaged[uc.name].artifacts if a.name == function)
    code = _unzip(artifact, tmp_path / "code")
    # The use case's package, when the function uses it, sits at the zip root, never under its folder.
    assert not (code / uc.folder).exists()
    assert "handler" in modules_to_import(code)
    check_in_isolation(code, use_case_paths(uc.name, HOST_LAYERS))


def test_a_function_importing_what_its_zip_lacks_fails_the_isolated_import(tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text("import retail_catalog\n")  # a package left out of the zip
    with pytest.raises(IsolatedImportError, match=r"retail_catalog: ModuleNotFoundError"):
        check_in_isolation(tmp_path, [])


def loaded_at_cold_start(code_dir: Path, paths: list[Path], watched: tuple[str, ...]) -> set[str]:
    """The watched modules that importing ``handler`` from ``code_dir`` loads, in a fresh interpreter."""
    probe = (
        "import json, sys\n"
        f"sys.path[:0] = {[str(code_dir), *map(str, paths)]!r}\n"
        "import handler\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=code_dir,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    return {w for w in watched for m in modules if m == w or m.startswith(w + ".")}


@pytest.mark.parametrize(("uc", "function"), FUNCTIONS)
def test_a_handler_loads_at_cold_start_only_what_it_declares(uc: catalog.UseCase, function: str) -> None:
    assert uc.name in COLD_START, f"declare what the functions of {uc.name} may load at cold start"
    own, allowed = COLD_START[uc.name]
    assert function in allowed, f"declare what {uc.name}/{function} may load at cold start"
    loaded = loaded_at_cold_start(uc.functions_dir / function, [ROOT, uc.path], WATCHED + own)
    assert loaded <= allowed[function], f"loads {sorted(loaded - allowed[function])} at cold start"


def test_a_top_level_heavy_import_is_caught(tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text("import json\n\ndef handler(event, context):\n    import numpy\n")
    assert loaded_at_cold_start(tmp_path, [ROOT], WATCHED) == set()
    (tmp_path / "handler.py").write_text("import numpy\n")
    assert loaded_at_cold_start(tmp_path, [ROOT], WATCHED) == {"numpy"}


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_tool_resolves_every_use_case_package() -> None:
    packages = [uc for uc in catalog.USE_CASES if uc.has_package]
    assert {uc.name for uc in packages} >= {uc.name for uc in USE_CASES}
    assert [str(p) for p in catalog.package_folders()] == [str(uc.path) for uc in packages]
    assert {str(uc.path) for uc in packages} <= set(sys.path)
    tools = _pyproject()["tool"]
    folders = {str(uc.path.relative_to(ROOT)) for uc in packages}
    assert set(tools["mypy"]["mypy_path"]) == folders
    assert {str(uc.package_dir.relative_to(ROOT)) for uc in packages} <= set(tools["mypy"]["files"])
    assert {uc.package for uc in packages} <= set(tools["ruff"]["lint"]["isort"]["known-first-party"])


def test_the_demo_driver_is_found_in_the_use_case_package() -> None:
    from scripts import demos

    for uc in USE_CASES:
        module = demos.driver_for(uc)
        assert Path(str(module.__file__)).parent == uc.package_dir
        assert all(callable(getattr(module, name, None)) for name in ("parameters", "seed", "drive"))
