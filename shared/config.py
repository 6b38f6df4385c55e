"""Typed, frozen handler configuration read from the environment once per cold start.

A handler declares a frozen dataclass whose fields carry :func:`env` metadata and calls
:func:`load` (cached), so a missing or invalid variable fails the first invocation with a message
that names the variable, instead of failing deep inside the business logic.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from shared.errors import ConfigError

logger = logging.getLogger(__name__)

C = TypeVar("C")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"expected one of {sorted(_TRUE | _FALSE)}")


def parse_suffixes(raw: str) -> tuple[str, ...]:
    """A listing filter: ``".jpg, .PNG"`` -> ``(".jpg", ".png")``; never empty, every suffix dotted."""
    values = tuple(s.strip().lower() for s in raw.split(",") if s.strip())
    if not values or any(not s.startswith(".") for s in values):
        raise ValueError("a comma-separated list of extensions such as .jpg,.png")
    return values


def env(name: str, default: Any = dataclasses.MISSING, *, parse: Callable[[str], Any] | None = None) -> Any:
    """A dataclass field read from environment variable ``name``."""
    metadata = {"env": name, "parse": parse}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _parser_for(annotation: Any) -> Callable[[str], Any]:
    if annotation is bool:
        return parse_bool
    if annotation is int:
        return int
    if annotation is float:
        return float
    if annotation is str:
        return str
    origin_args = typing.get_args(annotation)
    non_none = [a for a in origin_args if a is not type(None)]
    if len(non_none) == 1:
        return _parser_for(non_none[0])
    raise TypeError(f"no parser for {annotation!r}; pass parse=")


def field_parser(cls: type[Any], field: dataclasses.Field[Any]) -> Callable[[str], Any]:
    """How a field of ``cls`` turns its environment string into a value."""
    parse: Callable[[str], Any] | None = field.metadata.get("parse")
    return parse or _parser_for(typing.get_type_hints(cls)[field.name])


def from_environ(cls: type[C], environ: Mapping[str, str] | None = None) -> C:
    """Build ``cls`` from ``environ`` (default ``os.environ``), without caching."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    source = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        name = field.metadata.get("env")
        if name is None:
            continue
        raw = source.get(name)
        if raw is None or raw == "":
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(f"environment variable {name} is required but not set", variable=name)
            continue
        parse = field.metadata.get("parse") or _parser_for(hints[field.name])
        try:
            values[field.name] = parse(raw)
        except (TypeError, ValueError) as error:
            raise ConfigError(
                f"environment variable {name}={raw!r} is invalid: {error}", variable=name
            ) from error
    return cls(**values)


@functools.cache
def load(cls: type[C]) -> C:
    """``from_environ(cls)``, once per process: the environment of a Lambda is fixed per cold start."""
    return from_environ(cls)


def reset() -> None:
    """Forget cached configurations (for tests that change the environment)."""
    load.cache_clear()


@dataclasses.dataclass(frozen=True)
class CommonConfig:
    """Variables every function of every use case has."""

    use_case: str = env("USE_CASE")
    environment: str = env("ENVIRONMENT", "prod")
    enable_xray: bool = env("ENABLE_XRAY", True)
    function_name: str = env("AWS_LAMBDA_FUNCTION_NAME", "local")
