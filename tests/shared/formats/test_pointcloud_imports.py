"""The point-cloud package loads numpy, laspy and lazrs only when a name that needs them is used.

Each check runs in a fresh interpreter, because this test session has long since imported
everything. What each handler loads at cold start is part of the contract suite
(``tests/contract/test_imports.py``); speed itself is measured by ``make bench``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import shared.formats.pointcloud as pointcloud

ROOT = Path(__file__).resolve().parents[3]
WATCHED = (
    "numpy",
    "laspy",
    "lazrs",
    "shared.formats.mp4",
    "shared.tasktokens",
    "shared.formats.pointcloud.readers",
    "shared.formats.pointcloud.las",
    "shared.formats.pointcloud.lzf",
    "shared.formats.pointcloud.transform",
)


def _loaded_after(statement: str, cwd: Path) -> set[str]:
    code = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(cwd)!r}, {str(ROOT)!r}]\n"
        f"{statement}\n"
        f"watched = {WATCHED!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m in watched)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_point_cloud_names_load_without_numpy_until_a_numpy_name_is_used() -> None:
    light = "from shared.formats.pointcloud import FORMATS, LABELS, PASSED, PointCloudError, detect_format"
    assert _loaded_after(light, ROOT) == set()
    assert _loaded_after(light + "\nfrom shared.formats.pointcloud import read", ROOT) == {
        "numpy",
        "shared.formats.pointcloud.readers",
    }


def test_reading_las_loads_laspy_and_other_formats_do_not() -> None:
    for fmt in ("pcd", "ply", "bin"):
        statement = (
            "from shared.formats.samples import pointclouds as s\n"
            "from shared.formats.pointcloud import read\n"
            f"read(s.write(s.synthetic_scene(200, 1), {fmt!r}), {fmt!r})"
        )
        assert not _loaded_after(statement, ROOT) & {"laspy", "lazrs", "shared.formats.pointcloud.las"}, fmt
    statement = (
        "from shared.formats.samples import pointclouds as s\n"
        "from shared.formats.pointcloud import read\n"
        "read(s.write(s.synthetic_scene(200, 1), 'laz'), 'laz')"
    )
    assert {"laspy", "lazrs", "shared.formats.pointcloud.las"} <= _loaded_after(statement, ROOT)


def test_every_exported_name_resolves() -> None:
    for name in pointcloud.__all__:
        assert getattr(pointcloud, name) is not None, name
    assert set(pointcloud.__all__) <= set(dir(pointcloud))
    assert pointcloud.read.__name__ == "read"  # the function, not its submodule
    with pytest.raises(AttributeError):
        _ = pointcloud.not_a_name  # type: ignore[attr-defined]
