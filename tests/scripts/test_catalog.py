"""Tests for the use-case catalog, the single source of ``UC=<name>``."""

from __future__ import annotations

import pytest

from scripts import catalog
from scripts.catalog import UnknownUseCaseError


def test_catalog_lists_fourteen_use_cases_with_unique_names_and_folders() -> None:
    assert [uc.number for uc in catalog.USE_CASES] == list(range(1, 15))
    assert len({uc.name for uc in catalog.ALL}) == len(catalog.ALL)
    assert len({uc.folder for uc in catalog.ALL}) == len(catalog.ALL)


def test_uc9_and_uc11_sit_at_the_top_level_and_the_rest_under_use_cases() -> None:
    for uc in catalog.USE_CASES:
        expected = uc.name if uc.number in {9, 11} else f"use-cases/{uc.name}"
        assert uc.folder == expected
        assert uc.path.is_dir() and (uc.path / "README.md").is_file() and uc.functions_dir.is_dir()


@pytest.mark.parametrize("query", ["retail-catalog", "UC11", "uc11", "retail-catalog/", "RETAIL-CATALOG"])
def test_find_by_name_number_or_folder(query: str) -> None:
    assert catalog.find(query).number == 11


def test_find_locates_nested_and_shared_stacks() -> None:
    assert catalog.find("use-cases/legal-compliance").number == 1
    assert catalog.find("alert-automation").template.name == "alert-automation.yaml"


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownUseCaseError, match="retail-catalog") as caught:
        catalog.find("retail")
    assert "autonomous-driving" in str(caught.value)


def test_templates_lists_only_existing_files() -> None:
    assert all(path.is_file() for path in catalog.templates())


def test_cli_path_and_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert catalog.main(["path", "UC9"]) == 0
    assert capsys.readouterr().out.strip() == "autonomous-driving"
    assert catalog.main(["path", "nope"]) == 2
    assert "unknown use case" in capsys.readouterr().err


def test_readme_catalog_matches(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (catalog.ROOT / "README.md").read_text()
    for uc in catalog.USE_CASES:
        assert f"| {uc.code} | {uc.name} | {uc.industry} | `{uc.folder}` |" in readme


def test_each_use_case_names_its_package_and_demo_driver() -> None:
    uc = catalog.find("use-cases/legal-compliance")
    assert (uc.package, uc.demo_module) == ("legal_compliance", "legal_compliance.demo")
    assert uc.package_dir == catalog.ROOT / "use-cases" / "legal-compliance" / "legal_compliance"
    assert not uc.has_package  # planned: no folder yet
    assert catalog.find("retail-catalog").has_package


def test_make_importable_adds_each_package_folder_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    folders = [str(f) for f in catalog.package_folders()]
    built = {str(uc.path) for uc in catalog.USE_CASES if uc.has_package}
    assert set(folders) == built and len(folders) == len(built)
    assert {str(catalog.ROOT / "autonomous-driving"), str(catalog.ROOT / "retail-catalog")} <= built
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in folders])
    catalog.make_importable()
    catalog.make_importable()
    assert [p for p in sys.path if p in folders] == folders
    assert catalog.main(["package-folders"]) == 0
    printed = capsys.readouterr().out.split()
    assert sorted(printed) == sorted(uc.folder for uc in catalog.USE_CASES if uc.has_package)
