"""Tests for typed handler configuration."""

from __future__ import annotations

import dataclasses

import pytest

from shared import config
from shared.config import CommonConfig, env, from_environ
from shared.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Sample:
    table: str = env("TABLE_NAME")
    batch: int = env("BATCH_SIZE", 10)
    threshold: float = env("THRESHOLD", 0.5)
    enabled: bool = env("ENABLED", False)
    suffixes: tuple[str, ...] = env("SUFFIXES", (".jpg",), parse=lambda raw: tuple(raw.split(",")))


def test_reads_and_parses_every_type() -> None:
    loaded = from_environ(
        Sample,
        {"TABLE_NAME": "t", "BATCH_SIZE": "25", "THRESHOLD": "0.9", "ENABLED": "yes", "SUFFIXES": ".a,.b"},
    )
    assert loaded == Sample("t", 25, 0.9, True, (".a", ".b"))


def test_defaults_apply_when_unset_or_empty() -> None:
    assert from_environ(Sample, {"TABLE_NAME": "t", "BATCH_SIZE": ""}) == Sample("t")


def test_missing_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="TABLE_NAME is required"):
        from_environ(Sample, {})


@pytest.mark.parametrize(("name", "raw"), [("BATCH_SIZE", "ten"), ("ENABLED", "maybe"), ("THRESHOLD", "x")])
def test_invalid_variable_is_named(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=f"{name}='{raw}' is invalid"):
        from_environ(Sample, {"TABLE_NAME": "t", name: raw})


def test_config_is_frozen_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USE_CASE", "retail-catalog")
    first = config.load(CommonConfig)
    monkeypatch.setenv("USE_CASE", "other")
    assert config.load(CommonConfig) is first
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.use_case = "x"  # type: ignore[misc]
    config.reset()
    assert config.load(CommonConfig).use_case == "other"
    assert first.environment == "prod" and first.enable_xray is True
