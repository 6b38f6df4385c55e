"""``make search UC=<name> Q="…"``: hand the query to the use case's own ``<package>.search`` module.

Only use cases that build a search index have one (UC13 education-research); for any other the
command says so plainly.
"""

from __future__ import annotations

import importlib
import logging
import sys

from scripts import catalog
from scripts.packaging import resolve

logger = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    if not argv:
        print('usage: make search UC=<name> Q="…"', file=sys.stderr)
        return 2
    use_case = resolve(argv[0])
    catalog.make_importable()
    try:
        module = importlib.import_module(f"{use_case.package}.search")
    except ModuleNotFoundError as error:
        if error.name not in {use_case.package, f"{use_case.package}.search"}:
            raise
        print(f"{use_case.name} has no search index (no {use_case.package}.search module)", file=sys.stderr)
        return 2
    result: int = module.main(argv[1:])
    return result


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
