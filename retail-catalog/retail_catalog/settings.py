"""Environment configuration of the retail-catalog functions (read once per cold start)."""

from __future__ import annotations

import dataclasses
import logging

from retail_catalog.contract import DEFAULT_SUFFIXES
from retail_catalog.images import QualityRules
from shared.config import CommonConfig, env, parse_suffixes
from shared.polling.settings import PollingConfig

logger = logging.getLogger(__name__)

# Defaults used by more than one function live here once; the template's parameter defaults must
# agree with them (tests/retail_catalog/test_config_defaults.py checks every pair).
DEFAULT_CONFIDENCE_THRESHOLD = 70.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class DiscoveryConfig(PollingConfig):
    """The skeleton's discovery configuration with the retail image suffixes as its default."""

    suffixes: tuple[str, ...] = env("SUFFIXES", DEFAULT_SUFFIXES, parse=parse_suffixes)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaggingConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    confidence_threshold: float = env("CONFIDENCE_THRESHOLD", DEFAULT_CONFIDENCE_THRESHOLD)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetadataConfig(CommonConfig):
    model_id: str = env("BEDROCK_MODEL_ID")


@dataclasses.dataclass(frozen=True, kw_only=True)
class QualityConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    min_width: int = env("MIN_WIDTH", 500)
    min_height: int = env("MIN_HEIGHT", 500)
    min_aspect_ratio: float = env("MIN_ASPECT_RATIO", 0.5)
    max_aspect_ratio: float = env("MAX_ASPECT_RATIO", 2.0)
    max_bytes: int = env("MAX_IMAGE_BYTES", 20 * 1024 * 1024)

    def rules(self) -> QualityRules:
        return QualityRules(
            min_width=self.min_width,
            min_height=self.min_height,
            min_aspect_ratio=self.min_aspect_ratio,
            max_aspect_ratio=self.max_aspect_ratio,
            max_bytes=self.max_bytes,
        )
