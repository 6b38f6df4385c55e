"""The packager: zip contents, byte-for-byte determinism, warm reuse, the layer, handler rewriting."""

from __future__ import annotations

import os
import random
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from scripts import catalog, cfn_template, packaging
from scripts.packaging import PackagingError, package
from tests.fixtures.fake_pip import FakePip, wheel_hash

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "fixtures" / "mini-uc"


@pytest.fixture
def pip() -> FakePip:
    return FakePip()


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    """A private copy of the fixture use case that a test may edit."""
    target = tmp_path / "src" / "mini-uc"
    shutil.copytree(MINI, target)
    return target


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def _function_resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Lambda::Function" and "ZipFile" not in resource["Properties"]["Code"]
    }


# ------------------------------------------------------------------------------------------------
# zip contents


def test_function_zip_holds_handler_siblings_and_only_the_shared_modules_it_imports(
    tmp_path: Path, pip: FakePip
) -> None:
    packaged = package(MINI, tmp_path / "build", pip=pip)
    ingest = next(a for a in packaged.artifacts if a.name == "ingest")
    names = _names(ingest.path)

    assert names == sorted(names)
    local = {name for name in names if not name.startswith("shared/")}
    assert local == {"handler.py", "parsing.py"}
    # handler -> shared.observability -> shared.errors; nothing else of shared/.
    assert {n for n in names if n.startswith("shared/")} == {
        "shared/__init__.py",
        "shared/errors.py",
        "shared/observability.py",
    }
    report = next(a for a in packaged.artifacts if a.name == "report_daily")
    assert "parsing.py" not in _names(report.path)


def test_no_point_cloud_code_in_the_retail_zips_and_no_retail_code_in_uc9(
    tmp_path: Path, pip: FakePip
) -> None:
    retail = package("retail-catalog", tmp_path / "build", pip=pip)
    driving = package("autonomous-driving", tmp_path / "build", pip=pip)
    # Each use case's package sits at the zip root, as the function imports it.
    for artifact in (a for a in retail.artifacts if a.kind == "function"):
        names = _names(artifact.path)
        assert not [n for n in names if n.startswith(("shared/formats/", "autonomous_driving/"))], (
            artifact.name
        )
        assert not [n for n in names if n.startswith(("retail-catalog/", "shared/formats/samples/"))]
    for artifact in (a for a in driving.artifacts if a.kind == "function"):
        names = _names(artifact.path)
        assert not [n for n in names if n.startswith("retail_catalog/")], artifact.name
        assert "autonomous_driving/demo.py" not in names, artifact.name
    producer = next(a for a in retail.artifacts if a.name == "stream_producer")
    assert "retail_catalog/__init__.py" not in _names(producer.path)
    tagging = next(a for a in retail.artifacts if a.name == "image_tagging")
    assert {"retail_catalog/__init__.py", "retail_catalog/tagging.py"} <= set(_names(tagging.path))
    assert "retail_catalog/demo.py" not in _names(tagging.path)
    qc = next(a for a in driving.artifacts if a.name == "pointcloud_qc")
    assert {"shared/formats/pointcloud/readers.py", "autonomous_driving/quality.py"} <= set(_names(qc.path))
    video = next(a for a in driving.artifacts if a.name == "video_metadata")
    assert "shared/formats/pointcloud/readers.py" not in _names(video.path)


def _copy_sources(tmp_path: Path, uc: str) -> tuple[Path, Path]:
    """A private copy of a use case folder and of shared/ (tests edit modules in them)."""
    shared = tmp_path / "src" / "shared"
    shutil.copytree(ROOT / "shared", shared, ignore=shutil.ignore_patterns("__pycache__"))
    folder = tmp_path / "src" / uc
    shutil.copytree(ROOT / uc, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder, shared


@pytest.mark.parametrize(
    ("uc", "module", "expected"),
    [
        (
            "autonomous-driving",
            "shared/formats/pointcloud/readers.py",
            {"pointcloud_qc", "segmentation_invoke"},
        ),
        ("autonomous-driving", "shared/formats/mp4.py", {"video_metadata"}),
        ("autonomous-driving", "shared/tasktokens.py", {"segmentation_callback", "segmentation_invoke"}),
        ("autonomous-driving", "autonomous-driving/autonomous_driving/quality.py", {"pointcloud_qc"}),
        ("retail-catalog", "shared/streaming/kinesis.py", {"stream_producer"}),
        ("retail-catalog", "shared/streaming/consumer.py", {"stream_consumer"}),
        ("retail-catalog", "shared/formats/pointcloud/readers.py", set()),
    ],
)
def test_a_one_module_change_changes_only_the_zips_that_import_it(
    tmp_path: Path, pip: FakePip, uc: str, module: str, expected: set[str]
) -> None:
    folder, shared = _copy_sources(tmp_path, uc)

    def hashes() -> dict[str, str]:
        packaged = package(folder, tmp_path / "build", shared_dir=shared, pip=pip)
        return {a.name: a.sha256 for a in packaged.artifacts}

    before = hashes()
    with (shared.parent / module).open("a", encoding="utf-8") as handle:
        handle.write("\n# changed\n")
    after = hashes()
    assert {name for name in before if before[name] != after[name]} == expected


def test_a_use_case_package_beside_the_template_is_a_first_party_root(
    mini: Path, tmp_path: Path, pip: FakePip
) -> None:
    package_dir = mini / "minidomain"
    (package_dir / "formats").mkdir(parents=True)
    (package_dir / "__init__.py").write_text('"""Domain."""\n')
    (package_dir / "used.py").write_text("from .formats import csv\n")
    (package_dir / "unused.py").write_text("import numpy\n")
    (package_dir / "formats" / "__init__.py").write_text("")
    (package_dir / "formats" / "csv.py").write_text("from shared import config\n")
    (package_dir / "schemas").mkdir()
    (package_dir / "schemas" / "row.json").write_text("{}")
    handler = mini / "functions" / "ingest" / "handler.py"
    handler.write_text(handler.read_text() + "\nfrom minidomain import used\n")

    packaged = package(mini, tmp_path / "build", pip=pip)
    names = set(_names(next(a.path for a in packaged.artifacts if a.name == "ingest")))
    assert {
        "minidomain/__init__.py",
        "minidomain/used.py",
        "minidomain/formats/__init__.py",
        "minidomain/formats/csv.py",
        "minidomain/schemas/row.json",  # a data file of an included package
        "shared/config.py",
    } <= names
    assert "minidomain/unused.py" not in names
    report = set(_names(next(a.path for a in packaged.artifacts if a.name == "report_daily")))
    assert not {n for n in report if n.startswith("minidomain/")}


def test_an_import_of_a_missing_first_party_module_is_a_clear_error(
    mini: Path, tmp_path: Path, pip: FakePip
) -> None:
    handler = mini / "functions" / "ingest" / "handler.py"
    handler.write_text(handler.read_text() + "\nimport shared.no_such_module\n")
    with pytest.raises(PackagingError, match=r"handler\.py:\d+: imports 'shared\.no_such_module'"):
        package(mini, tmp_path / "build", pip=pip)


def test_tests_caches_bytecode_and_shared_cfn_are_left_out(mini: Path, tmp_path: Path, pip: FakePip) -> None:
    fn = mini / "functions" / "ingest"
    (fn / "__pycache__").mkdir()
    (fn / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0")
    (fn / "stale.pyc").write_bytes(b"\0")
    (fn / "tests").mkdir()
    (fn / "tests" / "test_ingest.py").write_text("def test(): pass\n")
    (fn / "test_local.py").write_text("def test(): pass\n")
    (fn / ".hidden").write_text("x")
    (fn / "labels.json").write_text("{}")
    shared = tmp_path / "shared"
    shutil.copytree(ROOT / "shared", shared, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(shared / "cfn")  # without its Python function, shared/cfn looks like package data
    (shared / "cfn").mkdir()
    (shared / "cfn" / "dashboard.yaml").write_text("Resources: {}\n")
    (shared / "schemas").mkdir()
    (shared / "schemas" / "labels.json").write_text("{}")  # data of the shared package: kept
    (shared / "__pycache__").mkdir()
    (shared / "__pycache__" / "config.cpython-311.pyc").write_bytes(b"\0")

    packaged = package(mini, tmp_path / "build", shared_dir=shared, pip=pip)
    names = _names(next(a.path for a in packaged.artifacts if a.name == "ingest"))

    assert "labels.json" in names  # data files beside the handler are part of the function
    assert "shared/schemas/labels.json" in names
    for name in names:
        assert not name.endswith(".pyc")
        assert "__pycache__" not in name and "/tests/" not in name and not name.startswith("tests/")
        assert not name.startswith(("shared/cfn/", "test_", ".")) and "/." not in name


def test_zip_entries_have_fixed_time_and_permissions(tmp_path: Path, pip: FakePip) -> None:
    packaged = package(MINI, tmp_path / "build", pip=pip)
    for artifact in packaged.artifacts:
        with zipfile.ZipFile(artifact.path) as archive:
            for info in archive.infolist():
                assert info.date_time == (1980, 1, 1, 0, 0, 0)
                assert info.external_attr >> 16 == 0o100644
                assert info.create_system == 3


def test_a_function_folder_may_not_bring_its_own_shared(mini: Path, tmp_path: Path, pip: FakePip) -> None:
    (mini / "functions" / "ingest" / "shared").mkdir()
    (mini / "functions" / "ingest" / "shared" / "x.py").write_text("")
    with pytest.raises(PackagingError, match="its own shared"):
        package(mini, tmp_path / "build", pip=pip)


# ------------------------------------------------------------------------------------------------
# determinism

_names_strategy = st.lists(
    st.from_regex(r"[a-z][a-z0-9_]{0,8}(/[a-z][a-z0-9_]{0,8}){0,2}\.(py|json|txt)", fullmatch=True),
    min_size=1,
    max_size=8,
    unique=True,
)


@settings(max_examples=40, deadline=None)
@given(names=_names_strategy, data=st.data())
def test_zip_bytes_depend_only_on_names_and_contents(names: list[str], data: st.DataObject) -> None:
    """The same files, written in another order with other times and modes, zip to the same bytes."""
    # Two names where one is a folder of the other cannot both exist on disk.
    names = [n for n in names if not any(other.startswith(n.rsplit(".", 1)[0] + "/") for other in names)]
    names = [n for n in names if n.split("/")[0] != "shared"]  # a function may not bring its own
    contents = {
        name: data.draw(st.from_regex(r"[A-Z]{1,5} = [1-9][0-9]{0,2}\n", fullmatch=True)).encode()
        if name.endswith(".py")
        else data.draw(st.binary(max_size=300))
        for name in names
    }
    with tempfile.TemporaryDirectory() as scratch:
        digests = []
        for attempt in range(2):
            root = Path(scratch) / f"tree{attempt}"
            fn = root / "fn"
            shared = root / "shared"
            order = list(contents.items())
            random.Random(attempt).shuffle(order)
            for name, body in [("handler.py", b"def handler(e, c): pass\n"), *order]:
                path = fn / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(body)
                os.utime(path, (1_000_000 + attempt * 7_777_777, 1_000_000 + attempt * 7_777_777))
                path.chmod(0o600 if attempt else 0o755)
            shared.mkdir()
            (shared / "__init__.py").write_text('"""shared"""\n')
            (shared / "util.py").write_text("VALUE = 1\n")
            (fn / "handler.py").write_bytes(b"import shared.util\ndef handler(e, c): pass\n")
            entries = packaging.function_entries(fn, shared)
            assert "shared/util.py" in dict(entries)
            digests.append(packaging.write_zip(root / "out.zip", ((n, p.read_bytes()) for n, p in entries)))
        assert digests[0] == digests[1]


def test_a_fresh_build_reproduces_the_same_keys(tmp_path: Path, pip: FakePip) -> None:
    first = package(MINI, tmp_path / "one", pip=pip)
    second = package(MINI, tmp_path / "two", pip=pip)
    assert [a.key for a in first.artifacts] == [a.key for a in second.artifacts]
    assert first.template_body == second.template_body
    for a, b in zip(first.artifacts, second.artifacts, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes()
        assert a.sha256 in a.key


# ------------------------------------------------------------------------------------------------
# warm runs


def test_warm_run_rebuilds_nothing_and_a_change_rebuilds_only_its_function(
    mini: Path, tmp_path: Path, pip: FakePip
) -> None:
    build = tmp_path / "build"
    cold = package(mini, build, pip=pip)
    assert all(a.rebuilt for a in cold.artifacts)
    warm = package(mini, build, pip=pip)
    assert not any(a.rebuilt for a in warm.artifacts)
    assert [a.key for a in warm.artifacts] == [a.key for a in cold.artifacts]

    (mini / "functions" / "ingest" / "parsing.py").write_text('"""changed"""\n')
    changed = {a.name: a for a in package(mini, build, pip=pip).artifacts}
    assert changed["ingest"].rebuilt and changed["ingest"].key != cold.artifacts[0].key
    assert not changed["report_daily"].rebuilt and not changed["dependencies"].rebuilt


def test_a_warm_run_reuses_each_closure_until_a_reachable_file_changes(
    mini: Path, tmp_path: Path, pip: FakePip, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = tmp_path / "build"
    package(mini, build, pip=pip)
    calls: list[Path] = []
    original = packaging.function_closure

    def counting(function_dir: Path, *args: Any) -> Any:
        calls.append(function_dir)
        return original(function_dir, *args)

    monkeypatch.setattr(packaging, "function_closure", counting)
    package(mini, build, pip=pip)
    assert calls == []
    (mini / "functions" / "report_daily" / "handler.py").write_text(
        (MINI / "functions" / "report_daily" / "handler.py").read_text() + "\nfrom shared import config\n"
    )
    changed = {a.name: a for a in package(mini, build, pip=pip).artifacts}
    assert [p.name for p in calls] == ["report_daily"]  # only its own folder changed
    assert "shared/config.py" in _names(changed["report_daily"].path)
    assert not changed["ingest"].rebuilt


def test_a_damaged_zip_is_rebuilt(tmp_path: Path, pip: FakePip) -> None:
    build = tmp_path / "build"
    cold = package(MINI, build, pip=pip)
    target = next(a.path for a in cold.artifacts if a.name == "ingest")
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    again = {a.name: a for a in package(MINI, build, pip=pip).artifacts}
    assert again["ingest"].rebuilt
    assert again["ingest"].sha256 == cold.artifacts[0].sha256


# ------------------------------------------------------------------------------------------------
# the layer


def test_layer_is_installed_from_the_hash_pinned_lock_for_the_lambda_platforms(
    tmp_path: Path, pip: FakePip
) -> None:
    packaged = package(MINI, tmp_path / "build", pip=pip)
    layer = next(a for a in packaged.artifacts if a.kind == "layer")

    [call] = pip.calls
    assert pip.platforms_of(0) == ["manylinux_2_28_aarch64", "manylinux2014_aarch64"]
    assert call[call.index("--python-version") + 1] == "3.12"
    assert {"--require-hashes", "--no-deps"} <= set(call)
    assert call[call.index("-r") + 1] == str(MINI / "requirements.lock")
    assert sorted(pip.installed) == ["aws-xray-sdk==2.15.0", "wrapt==2.5.2"]
    names = _names(layer.path)
    assert names and all(name.startswith("python/") for name in names)
    assert "python/aws_xray_sdk/__init__.py" in names
    assert not any(name.startswith("python/botocore") or "__pycache__" in name for name in names)
    assert layer.key == f"mini-uc/layers/dependencies/{layer.sha256}.zip"
    assert packaged.template["Resources"]["DependenciesLayer"]["Properties"]["Content"]["S3Key"] == layer.key


def test_layer_cache_means_pip_runs_once_per_lock_and_platform(
    mini: Path, tmp_path: Path, pip: FakePip
) -> None:
    package(mini, tmp_path / "build", pip=pip)
    shutil.rmtree(tmp_path / "build" / "mini-uc")
    package(mini, tmp_path / "build", pip=pip)
    assert len(pip.calls) == 1  # the install of the first run only

    template = mini / "template.yaml"
    template.write_text(template.read_text().replace("[arm64]", "[x86_64]"))
    with pytest.raises(PackagingError, match="generated for another platform"):
        package(mini, tmp_path / "build", pip=pip)
    packaging.lock_use_case(mini, pip=pip)
    package(mini, tmp_path / "build", pip=pip)
    assert pip.platforms_of(-1) == ["manylinux_2_28_x86_64", "manylinux2014_x86_64"]


def test_the_lock_pins_lambda_and_host_wheel_hashes_without_the_runtime_sdk(mini: Path, pip: FakePip) -> None:
    (mini / "requirements.lock").unlink()
    lock = packaging.lock_use_case(mini, pip=pip)
    assert lock == mini / "requirements.lock"
    text = lock.read_text()
    entries = packaging.lock_entries(text)
    assert sorted(pin for pin, _ in entries.values()) == ["aws-xray-sdk==2.15.0", "wrapt==2.5.2"]
    for pin, hashes in entries.values():
        assert sorted(hashes) == sorted({wheel_hash(pin, "lambda"), wheel_hash(pin, "host")})
    resolve, *downloads = pip.calls
    assert "--dry-run" in resolve and pip.platforms_of(0)[0] == "manylinux_2_28_aarch64"
    assert [("--platform" in call) for call in downloads] == [True, False]  # Lambda, then this host


def test_relocking_keeps_hashes_recorded_on_another_host(mini: Path, pip: FakePip) -> None:
    lock = mini / "requirements.lock"
    other_host = "a" * 64
    lock.write_text(
        lock.read_text().replace("wrapt==2.5.2 \\\n", f"wrapt==2.5.2 \\\n    --hash=sha256:{other_host} \\\n")
    )
    packaging.lock_use_case(mini, pip=pip)
    assert other_host in packaging.lock_entries(lock.read_text())["wrapt"][1]


def test_a_requirement_naming_an_sdk_package_keeps_it(mini: Path, tmp_path: Path) -> None:
    (mini / "requirements.txt").write_text("aws-xray-sdk==2.15.0\nbotocore==1.44.8\n")
    pip = FakePip((("aws-xray-sdk", "2.15.0", True), ("botocore", "1.44.8", True)))
    packaging.lock_use_case(mini, pip=pip)
    package(mini, tmp_path / "build", pip=pip)
    assert "botocore==1.44.8" in pip.installed


def test_a_missing_or_stale_lock_stops_the_build(mini: Path, tmp_path: Path, pip: FakePip) -> None:
    (mini / "requirements.txt").write_text("aws-xray-sdk==2.15.0\npillow==12.0.0\n")
    with pytest.raises(
        PackagingError, match=r"not generated from the current requirements\.txt.*make lock-layers"
    ):
        package(mini, tmp_path / "build", pip=pip)
    (mini / "requirements.lock").unlink()
    with pytest.raises(PackagingError, match=r"requirements\.lock is missing.*make lock-layers"):
        package(mini, tmp_path / "build", pip=pip)


@pytest.mark.parametrize("uc", ["retail-catalog", "autonomous-driving"])
def test_each_use_case_lock_matches_its_requirements_and_platform(uc: str) -> None:
    use_case = packaging.resolve(uc)
    requirements = packaging.requirements_file(use_case)
    target = packaging.layer_platform(use_case)
    assert requirements is not None and target is not None
    entries = packaging.lock_entries(packaging.read_lock(requirements, target))
    for name in packaging._requested_names(requirements.read_text()):
        assert name in entries, f"{name} of requirements.txt is not in the lock"
    for pin, hashes in entries.values():
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), pin


def test_requirements_without_a_layer_resource_is_an_error(mini: Path, tmp_path: Path, pip: FakePip) -> None:
    text = (mini / "template.yaml").read_text()
    start = text.index("  DependenciesLayer:")
    end = text.index("  OutputBucket:")
    text = text[:start] + text[end:]
    text = text.replace("      Layers: [!Ref DependenciesLayer]\n", "")
    (mini / "template.yaml").write_text(text)
    with pytest.raises(PackagingError, match="no AWS::Lambda::LayerVersion"):
        package(mini, tmp_path / "build", pip=pip)


def test_a_layer_resource_without_requirements_is_an_error(mini: Path, tmp_path: Path, pip: FakePip) -> None:
    (mini / "requirements.txt").unlink()
    with pytest.raises(PackagingError, match=r"requirements\.txt is missing"):
        package(mini, tmp_path / "build", pip=pip)


# ------------------------------------------------------------------------------------------------
# template rewriting


def test_handler_not_at_its_source_path_is_an_error(mini: Path, tmp_path: Path, pip: FakePip) -> None:
    template = mini / "template.yaml"
    template.write_text(
        template.read_text().replace("Handler: functions/ingest/handler.handler", "Handler: x.y")
    )
    with pytest.raises(
        PackagingError, match=re.escape("IngestFunction: Handler must be functions/<fn>/handler.handler")
    ):
        package(mini, tmp_path / "build", pip=pip)


def test_placeholder_key_must_match_the_handler_folder(mini: Path, tmp_path: Path, pip: FakePip) -> None:
    template = mini / "template.yaml"
    template.write_text(
        template.read_text().replace("S3Key: functions/ingest.zip", "S3Key: functions/other.zip")
    )
    with pytest.raises(PackagingError, match=re.escape("placeholder functions/ingest.zip")):
        package(mini, tmp_path / "build", pip=pip)


def test_unknown_use_case_is_a_lookup_error() -> None:
    with pytest.raises(catalog.UnknownUseCaseError):
        packaging.resolve("no-such-use-case")


def _packaged_use_cases() -> list[Any]:
    return [pytest.param(uc, id=uc.name) for uc in catalog.ALL if uc.exists] + [
        pytest.param(str(MINI), id="fixture-mini-uc")
    ]


@pytest.mark.parametrize("uc", _packaged_use_cases())
def test_every_function_handler_and_code_key_is_rewritten(uc: Any, tmp_path: Path, pip: FakePip) -> None:
    """For every template the catalog lists (and the fixture): Handler flattened, S3Key content-addressed."""
    use_case = packaging.resolve(uc)
    source = cfn_template.load(use_case.template)
    packaged = package(use_case, tmp_path / "build", pip=pip)
    packaged_raw = yaml.safe_load(packaged.template_path.read_text())  # plain YAML: no short-form tags left
    assert cfn_template.transforms(packaged_raw) == cfn_template.transforms(
        cfn_template.load(use_case.template, raw=True)
    )
    # What CloudFormation runs: the uploaded snippets included, then the loops expanded.
    for location in cfn_template.include_locations(packaged_raw):
        assert location.startswith(f"s3://{packaging.UNKNOWN_BUCKET}/{use_case.name}/include/"), location
    included = cfn_template.inline_includes(packaged_raw, packaged.build_dir, resolve=packaged.snippet)
    template = cfn_template.expand(included)
    assert cfn_template.loads(packaged.expanded_body)["Resources"].keys() == template["Resources"].keys()
    keys = {a.key: a for a in packaged.artifacts}

    for logical_id, props in _function_resources(source).items():
        fn = props["Handler"].split("/")[1]
        module, func = props["Handler"].rsplit("/", 1)[1].split(".")
        rewritten = template["Resources"][logical_id]["Properties"]
        assert rewritten["Handler"] == f"{module}.{func}"
        assert rewritten["Code"]["S3Bucket"] == {"Ref": "ArtifactBucket"}
        artifact = keys[rewritten["Code"]["S3Key"]]
        assert artifact.name == fn and artifact.sha256 in artifact.key
        assert f"{module}.py" in _names(artifact.path)
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Lambda::LayerVersion" and "Content" in resource.get("Properties", {}):
            assert resource["Properties"]["Content"]["S3Key"] in keys, logical_id
    assert packaged.template_path == tmp_path / "build" / use_case.name / "template.packaged.yaml"


def test_included_snippets_are_uploaded_by_hash_and_named_by_their_s3_location(
    tmp_path: Path, pip: FakePip
) -> None:
    use_case = packaging.resolve("retail-catalog")
    packaged = package(use_case, tmp_path / "build", pip=pip, artifact_bucket="my-artifacts")
    raw = packaged.template
    snippets = {a.key: a for a in packaged.artifacts if a.kind == "include"}
    sources = cfn_template.include_locations(cfn_template.load(use_case.template, raw=True))
    assert len(snippets) == len(sources) > 0
    for location in cfn_template.include_locations(raw):
        bucket, _, key = location.removeprefix("s3://").partition("/")
        assert bucket == "my-artifacts" and key in snippets, location
        artifact = snippets[key]
        (source,) = (ROOT / "shared" / "cfn" / "blocks").rglob(artifact.path.name)  # streaming/ too
        assert artifact.path.read_bytes() == source.read_bytes()
        assert artifact.sha256 in key and key.startswith(f"{use_case.name}/include/{source.stem}/")
    # The layer comes from a shared snippet: its key is rewritten in the Mappings row it reads.
    layer = next(a for a in packaged.artifacts if a.kind == "layer")
    assert raw["Mappings"]["UseCase"]["Settings"]["Layer"] == layer.key
    assert packaged.expanded_template["Resources"]["DependenciesLayer"]["Properties"]["Content"]["S3Key"] == (
        layer.key
    )
    again = package(use_case, tmp_path / "build", pip=pip, artifact_bucket="my-artifacts")
    assert not any(a.rebuilt for a in again.artifacts if a.kind == "include")
    assert again.template_body == packaged.template_body


def test_package_cli_names_the_given_artifact_bucket(
    tmp_path: Path, pip: FakePip, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = packaging.package
    monkeypatch.setattr(packaging, "package", lambda *args, **kwargs: real(*args, pip=pip, **kwargs))
    assert packaging.main(["retail-catalog", "--build-root", str(tmp_path), "--artifact-bucket", "b1"]) == 0
    packaged = (tmp_path / "retail-catalog" / "template.packaged.yaml").read_text()
    assert "s3://b1/retail-catalog/include/stack/" in packaged


def test_the_source_template_is_left_untouched(tmp_path: Path, pip: FakePip) -> None:
    before = (MINI / "template.yaml").read_bytes()
    package(MINI, tmp_path / "build", pip=pip)
    assert (MINI / "template.yaml").read_bytes() == before


def test_package_cli_reports_errors_in_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert packaging.main(["no-such-use-case", "--build-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown use case") and err.count("\n") == 1


def _wheel(folder: Path, name: str, version: str, body: str) -> Path:
    """A minimal pure-Python wheel, as a package index would serve it."""
    import base64
    import hashlib

    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": body,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.mark.slow
def test_real_pip_builds_from_the_lock_and_a_tampered_wheel_fails_the_build(
    mini: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    index.mkdir()
    _wheel(index, "fakedep", "1.0", "VALUE = 'genuine'\n")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    (mini / "requirements.txt").write_text("fakedep==1.0\n")

    packaging.lock_use_case(mini)
    packaged = package(mini, tmp_path / "build")
    layer = next(a for a in packaged.artifacts if a.kind == "layer")
    with zipfile.ZipFile(layer.path) as archive:
        assert archive.read("python/fakedep/__init__.py") == b"VALUE = 'genuine'\n"

    _wheel(index, "fakedep", "1.0", "VALUE = 'tampered'\n")  # the index now serves other bytes
    with pytest.raises(PackagingError, match=r"does not match the hash in the layer lock.*Expected sha256"):
        package(mini, tmp_path / "other-build")
