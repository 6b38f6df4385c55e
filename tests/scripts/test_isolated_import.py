"""Function imports: in-process loading keeps two handlers apart; the isolation check proves each
function imports with only its zip, its use case's layer, the runtime SDK and the standard library."""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scripts import packaging
from scripts.isolated_import import (
    IsolatedImportError,
    check_in_isolation,
    load_isolated,
    modules_to_import,
    use_case_paths,
)
from tests.fixtures.fake_pip import FakePip


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


# ------------------------------------------------------------------------------------------------
# The isolation check: each function imports with only its zip, its layer, the runtime SDK, stdlib
# (run over every function of the catalog by tests/contract/test_imports.py)

ROOT = Path(__file__).resolve().parents[2]
HOST_LAYERS = ROOT / "build" / ".host-layers"  # shared by every run: the wheels download once
USE_CASES = ("retail-catalog",)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    build = tmp_path_factory.mktemp("build")
    return {uc: packaging.package(uc, build, pip=FakePip()) for uc in USE_CASES}


def _unzip(artifact: Any, target: Path) -> Path:
    with zipfile.ZipFile(artifact.path) as archive:
        archive.extractall(target)
    return target


def test_the_probe_has_no_site_packages_of_this_environment(tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text("import json\n")
    report = check_in_isolation(tmp_path, [])
    assert report["failures"] == {}
    assert not [p for p in report["sys_path"] if "site-packages" in p or p.startswith(sys.prefix)]
    # pytest and yaml are installed here, so an in-process import would find them; the probe must not.
    import yaml  # noqa: F401

    with pytest.raises(IsolatedImportError, match=r"yaml: ModuleNotFoundError.*pytest: ModuleNotFoundError"):
        check_in_isolation(tmp_path, [], modules=["handler", "yaml", "pytest"])


def test_the_probe_imports_every_module_and_the_third_party_ones_used_inside_functions(
    tmp_path: Path,
) -> None:
    (tmp_path / "handler.py").write_text("def handler(e, c):\n    import tomllib, boto3\n")
    (tmp_path / "helper.py").write_text("raise RuntimeError('broken at import')\n")
    assert modules_to_import(tmp_path) == ["handler", "helper", "boto3"]
    with pytest.raises(IsolatedImportError, match=r"helper: RuntimeError: broken at import; boto3"):
        check_in_isolation(tmp_path, [])


@pytest.mark.slow
def test_a_library_missing_from_requirements_fails_the_check(
    packaged: dict[str, Any], tmp_path: Path
) -> None:
    """retail-catalog without pillow: its lock is still valid, but image_tagging cannot import PIL."""
    use_case = packaging.resolve("retail-catalog")
    target = packaging.layer_platform(use_case)
    assert target is not None
    complete = (use_case.path / "requirements.txt").read_text()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(line for line in complete.splitlines() if "pillow" not in line) + "\n")
    lock = (use_case.path / "requirements.lock").read_text()
    text = re.sub(r"pillow==[^\n]*(\n    --hash[^\n]*)*\n", "", lock)
    text = re.sub(r"requirements-sha256: \w+", f"requirements-sha256: {_sha(requirements)}", text)
    requirements.with_suffix(".lock").write_text(text)
    assert "pillow" not in text and "aws-xray-sdk" in text

    layer = packaging.host_layer(requirements, target, HOST_LAYERS)
    sdk = packaging.runtime_sdk(HOST_LAYERS)
    tagging = next(a for a in packaged["retail-catalog"].artifacts if a.name == "image_tagging")
    code = _unzip(tagging, tmp_path / "code")
    with pytest.raises(IsolatedImportError, match=r"PIL: ModuleNotFoundError: No module named 'PIL'"):
        check_in_isolation(code, [layer, sdk])
    check_in_isolation(code, use_case_paths("retail-catalog", HOST_LAYERS))  # the real layer has it


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_local_cloud_refuses_a_function_that_would_not_import_on_lambda(tmp_path: Path) -> None:
    from scripts.localcloud.cloud import local_cloud, local_layer_pip

    source = tmp_path / "localcloud-uc"
    shutil.copytree(ROOT / "tests" / "fixtures" / "localcloud-uc", source)
    worker = source / "functions" / "worker" / "handler.py"
    worker.write_text(worker.read_text() + "\nimport yaml  # installed here, in no layer\n")
    with local_cloud(build_root=tmp_path / "build") as cloud:
        with pytest.raises(IsolatedImportError, match=r"refusing to deploy 1 function.*worker.*yaml"):
            cloud.deploy(str(source), pip=local_layer_pip)
        assert cloud.client("cloudformation").describe_stacks()["Stacks"] == []


@pytest.mark.slow
def test_the_demo_still_falls_back_to_a_stand_in_layer_when_pip_is_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scripts import catalog, demos
    from scripts.localcloud.cloud import local_cloud

    use_case = catalog.find("retail-catalog")
    use_case_paths(use_case)  # built (or found) while online, as after any earlier run

    def offline(args: Any) -> None:
        raise packaging.PackagingError("pip failed (install --no-deps …): no index reachable")

    monkeypatch.setattr(packaging, "_run_pip", offline)
    lines: list[str] = []
    with local_cloud(build_root=tmp_path / "build") as cloud:
        params = demos.driver_for(use_case).parameters(cloud.create_access_point())
        stack = demos.deploy_with_fallback(cloud, use_case, params, None, lines.append)
    assert stack.name == demos.stack_name(use_case)
    assert any("using a local stand-in layer" in line for line in lines)
