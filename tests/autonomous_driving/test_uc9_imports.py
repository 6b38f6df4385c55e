"""What each UC9 handler imports at cold start: no module it does not need on every path.

Each check runs in a fresh interpreter, because this test session has long since imported
everything. Speed itself is measured by ``make bench`` (packaging suite), not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import shared.formats.pointcloud as pointcloud

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "autonomous-driving" / "functions"
WATCHED = (
    "numpy",
    "laspy",
    "lazrs",
    "shared.formats.mp4",
    "shared.tasktokens",
    "shared.formats.pointcloud.readers",
    "shared.formats.pointcloud.las",
    "shared.formats.pointcloud.lzf",
    "autonomous_driving.quality",
    "autonomous_driving.segmentation",
    "shared.formats.pointcloud.transform",
)
# Handler folder -> the watched modules its import may load (everything else must stay unloaded).
EXPECTED = {
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
}


def _loaded_after(statement: str, cwd: Path) -> set[str]:
    code = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(cwd)!r}, {str(ROOT)!r}, {str(ROOT / 'autonomous-driving')!r}]\n"
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


@pytest.mark.parametrize("folder", sorted(EXPECTED))
def test_a_handler_imports_only_what_every_invocation_needs(folder: str) -> None:
    assert _loaded_after("import handler", FUNCTIONS / folder) == EXPECTED[folder]


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
