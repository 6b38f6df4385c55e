"""The offline layer builder the local cloud uses when it must not download Linux wheels."""

from __future__ import annotations

import zipfile
from pathlib import Path

from scripts.localcloud.cloud import local_layer_pip
from scripts.packaging import LayerTarget, build_layer
from tests.fixtures.fake_pip import lock_text


def test_offline_layer_holds_one_marker_per_pinned_requirement(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("aws-xray-sdk==2.15.0  # tracing\nnumpy==2.4.6\n# a comment\n", encoding="utf-8")
    target = LayerTarget("arm64", "3.12")
    lock = lock_text(requirements, ["aws-xray-sdk==2.15.0", "numpy==2.4.6"], target.label)
    requirements.with_suffix(".lock").write_text(lock, encoding="utf-8")
    path, rebuilt = build_layer(requirements, target, tmp_path / "cache", pip=local_layer_pip)
    assert rebuilt
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [
            "python/aws-xray-sdk-2.15.0.local-layer",
            "python/numpy-2.4.6.local-layer",
        ]
    again, rebuilt_again = build_layer(requirements, target, tmp_path / "cache", pip=local_layer_pip)
    assert again == path
    assert not rebuilt_again
