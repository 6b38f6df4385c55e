"""UC4 on the embedded local cloud with the template's defaults: re-render and Rekognition off.

``MaxFilesPerRun=10`` over the 25 sample frames and one PIZ frame written by the OpenEXR library:
three runs check every frame exactly once, each reports the sequences it touched and ends at
``Done`` without entering the re-render states, the PIZ frame's pixels are "not checked", and a
fourth run finds nothing to do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from media_vfx import samples
from scripts.localcloud import LocalCloud
from tests.fixtures.fake_pip import FakePip
from tests.shared.formats.test_exr import PIZ_HALF_SCANLINE

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PIZ_KEY = "shots/sh040/comp/v001/sh040_comp.0001.exr"


@pytest.fixture
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    build = tmp_path_factory.getbasetemp() / "uc4-build"
    with LocalCloud(build_root=Path(build)) as opened:
        yield opened


def _json(cloud: LocalCloud, bucket: str, key: str) -> Any:
    return json.loads(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_defaults_check_every_frame_once_over_budgeted_runs_and_never_render(cloud: LocalCloud) -> None:
    access_point = cloud.create_access_point(bucket="vfx-volume", name="vfx-ap")
    stack = cloud.deploy(
        "media-vfx",
        {
            "AccessPointName": access_point.name,
            "AccessPointAlias": access_point.arn,
            "EnableXRayTracing": "false",
            "MaxFilesPerRun": "10",
        },
        stack_name="vfx",
        pip=FakePip(),
    )
    s3 = cloud.client("s3")
    plan = samples.plan()
    for sample in plan:
        s3.put_object(Bucket=access_point.arn, Key=sample.key, Body=sample.body)
    s3.put_object(Bucket=access_point.arn, Key=PIZ_KEY, Body=PIZ_HALF_SCANLINE)
    bucket = stack.outputs["OutputBucketName"]
    for _ in range(3):
        run = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        assert run.succeeded, run.error
        states = run.states_entered()
        assert states.get("Done") == 1 and "SubmitRender" not in states
        index = _json(cloud, bucket, f"runs/{run.name}/sequences.json")
        assert index and all(entry["report_key"].startswith("sequences/") for entry in index)
    idle = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
    assert idle.states_entered().get("NothingToDo") == 1
    results = [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket, Prefix="results/by-key/")["Contents"]]
    assert len(results) == len(plan) + 1
    piz = next(k for k in results if k.startswith(f"results/by-key/{PIZ_KEY}/"))
    assert _json(cloud, bucket, piz)["pixels"] == {
        "status": "NOT_CHECKED",
        "reason": "PIZ compression is not decoded",
    }
    # The volume holds exactly what was seeded.
    volume = {obj["Key"] for obj in s3.list_objects_v2(Bucket="vfx-volume")["Contents"]}
    assert volume == {s.key for s in plan} | {PIZ_KEY}
