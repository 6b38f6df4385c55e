"""The Makefile is the front door: every target is phony and listed by ``make help``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAKEFILE = (ROOT / "Makefile").read_text()
TARGETS = re.findall(r"^([a-z][a-z-]*):", MAKEFILE, flags=re.MULTILINE)


def test_every_target_is_phony() -> None:
    phony = set(re.search(r"^\.PHONY:(.*)$", MAKEFILE, flags=re.MULTILINE).group(1).split())  # type: ignore[union-attr]
    assert set(TARGETS) <= phony


def test_help_lists_every_target_in_one_line() -> None:
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    listed = [line.split()[1] for line in out.splitlines() if line.strip().startswith("make ")]
    assert sorted(listed) == sorted(TARGETS)


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
