"""Module and handler conventions over every use case of the catalog, and over the shared core.

Every module has a docstring, postponed annotations and one module logger; every handler is
``handler(event, context)`` wrapped in ``trace_lambda_handler`` and builds no AWS client at import.
The breakage table proves that each of those checks fails on a module that breaks it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from scripts import catalog
from tests.contract import checks

logger = logging.getLogger(__name__)

USE_CASES = [uc for uc in catalog.USE_CASES if uc.exists]
# The cross-cutting code is held to the same module conventions as the use cases.
CORE = [catalog.ROOT / "shared", catalog.ROOT / "scripts"]

GOOD_MODULE = '''"""A module."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def work() -> int:
    return 1
'''
GOOD_HANDLER = '''"""A function."""

from __future__ import annotations

import logging

from shared.clients import aws_client
from shared.observability import trace_lambda_handler

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event, context):
    return {"client": aws_client("s3") is not None}
'''


def _relative(path: Path) -> str:
    return str(path.relative_to(catalog.ROOT))


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_every_module_of_the_use_case_keeps_the_conventions(uc: catalog.UseCase) -> None:
    files = checks.python_files(uc)
    assert any(path.name == "handler.py" for path in files), f"{uc.name} has no function"
    assert uc.has_package, f"{uc.name}: its domain code belongs in {uc.package_dir.relative_to(catalog.ROOT)}"
    problems = [p for path in files for p in checks.module_problems(_relative(path), path.read_text())]
    assert problems == []


@pytest.mark.parametrize("folder", CORE, ids=[f.name for f in CORE])
def test_every_module_of_the_core_keeps_the_conventions(folder: Path) -> None:
    files = sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    problems = [p for path in files for p in checks.module_problems(_relative(path), path.read_text())]
    assert problems == []


@pytest.mark.parametrize("uc", USE_CASES, ids=[uc.name for uc in USE_CASES])
def test_every_handler_has_the_lambda_shape(uc: catalog.UseCase) -> None:
    handlers = [folder / "handler.py" for folder in checks.function_folders(uc)]
    assert handlers, f"{uc.name} has no function"
    problems = [p for path in handlers for p in checks.handler_problems(_relative(path), path.read_text())]
    assert problems == []


def test_the_conforming_samples_pass() -> None:
    assert checks.module_problems("good.py", GOOD_MODULE) == []
    assert checks.module_problems("handler.py", GOOD_HANDLER) == []
    assert checks.handler_problems("handler.py", GOOD_HANDLER) == []
    assert checks.module_problems("__init__.py", '"""Only a docstring."""\n') == []


# Each deliberate breakage of a conforming module -> the words its problem must contain.
MODULE_BREAKAGES = {
    "no docstring": (GOOD_MODULE.replace('"""A module."""\n', ""), "docstring"),
    "no future import": (GOOD_MODULE.replace("from __future__ import annotations\n", ""), "__future__"),
    "no logger": (GOOD_MODULE.replace("logger = logging.getLogger(__name__)\n", ""), "getLogger"),
    "a named logger": (GOOD_MODULE.replace("getLogger(__name__)", 'getLogger("x")'), "getLogger"),
    "two loggers": (GOOD_MODULE + "\nlogger = logging.getLogger(__name__)\n", "2 `logger"),
}
HANDLER_BREAKAGES = {
    "no handler": (GOOD_HANDLER.replace("def handler(", "def main("), "no top-level"),
    "one argument": (GOOD_HANDLER.replace("handler(event, context)", "handler(event)"), "exactly"),
    "extra argument": (GOOD_HANDLER.replace("(event, context)", "(event, context, extra)"), "exactly"),
    "not traced": (GOOD_HANDLER.replace("@trace_lambda_handler\n", ""), "trace_lambda_handler"),
    "client at import": (GOOD_HANDLER + '\nS3 = aws_client("s3")\n', "at import time"),
    "boto3 at import": (GOOD_HANDLER + '\nimport boto3\nS3 = boto3.client("s3")\n', "at import time"),
}


@pytest.mark.parametrize("breakage", list(MODULE_BREAKAGES))
def test_each_module_check_catches_its_breakage(breakage: str) -> None:
    source, words = MODULE_BREAKAGES[breakage]
    problems = checks.module_problems("broken.py", source)
    assert problems and any(words in p for p in problems), problems


@pytest.mark.parametrize("breakage", list(HANDLER_BREAKAGES))
def test_each_handler_check_catches_its_breakage(breakage: str) -> None:
    source, words = HANDLER_BREAKAGES[breakage]
    problems = checks.handler_problems("handler.py", source)
    assert problems and any(words in p for p in problems), problems
