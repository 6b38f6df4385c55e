"""Command line of the embedded local cloud (behind ``make demo`` and ``make invoke``).

``python -m scripts.localcloud demo [UC] [--files N]`` runs a use case end to end and prints a
summary; it exits 1 if a flow failed and 2 if the use case is not built yet. ``demo all`` runs
every built use case on one local cloud and prints one table; it exits 1 if any flow failed.
``python -m scripts.localcloud invoke UC FN [--event PATH]`` deploys the use case, seeds a few
sample files, runs one function with a sample event and prints its result and log lines.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from scripts import catalog, cfn_template

logger = logging.getLogger(__name__)

INVOKE_SEED_FILES = 3


def _demo(args: argparse.Namespace) -> int:
    from scripts.demos import NotBuiltError, run_demo, run_fleet
    from scripts.deploy import DeployError

    if args.uc == "all":
        fleet = run_fleet(args.files)
        print(fleet.render())
        if args.json:
            Path(args.json).write_text(json.dumps(fleet.to_rows(), indent=2, default=str), encoding="utf-8")
        return 0 if fleet.ok else 1
    try:
        summary = run_demo(args.uc, args.files, verbose=args.verbose)
    except (NotBuiltError, catalog.UnknownUseCaseError) as error:
        print(f"make demo: {error}", file=sys.stderr)
        return 2
    except DeployError as error:
        print(f"make demo: the deploy failed: {error}", file=sys.stderr)
        return 1
    print(summary.render())
    if args.json:
        Path(args.json).write_text(json.dumps(summary.to_dict(), indent=2, default=str), encoding="utf-8")
    return 0 if summary.ok else 1


def function_logical_id(template: dict[str, Any], fn: str) -> str:
    """The logical id of the function whose source folder (or logical id) is ``fn``."""
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        handler = str(resource.get("Properties", {}).get("Handler", ""))
        if logical_id == fn or handler.startswith(f"functions/{fn}/"):
            return str(logical_id)
    raise LookupError(f"no function {fn!r} in the template (use the folder name under functions/)")


def _invoke(args: argparse.Namespace) -> int:
    from scripts.demos import NotBuiltError, deploy_with_fallback, driver_for
    from scripts.deploy import DeployError
    from scripts.localcloud import LocalCloud
    from scripts.packaging import DEFAULT_BUILD_ROOT, resolve

    try:
        use_case = resolve(args.uc)
        driver = driver_for(use_case)
        logical_id = function_logical_id(cfn_template.load(use_case.template), args.fn)
    except (NotBuiltError, catalog.UnknownUseCaseError, LookupError) as error:
        print(f"make invoke: {error}", file=sys.stderr)
        return 2
    event_path = Path(args.event) if args.event else use_case.path / "events" / f"{args.fn}.json"
    if not event_path.is_file():
        print(f"make invoke: no sample event at {event_path}", file=sys.stderr)
        return 2
    event = json.loads(event_path.read_text(encoding="utf-8"))
    with LocalCloud(build_root=DEFAULT_BUILD_ROOT) as cloud:
        access_point = cloud.create_access_point()
        try:
            deploy_with_fallback(cloud, use_case, driver.parameters(access_point), None, print)
        except DeployError as error:
            print(f"make invoke: the deploy failed: {error}", file=sys.stderr)
            return 1
        driver.seed(cloud, access_point, INVOKE_SEED_FILES)
        result = cloud.invoke(logical_id, event)
    print(f"function   {result.function_name}")
    print(f"event      {event_path}")
    print(f"error      {result.function_error or '-'}")
    print("result")
    print(json.dumps(result.payload, indent=2, default=str))
    print("log lines")
    for line in result.log_lines:
        print(f"  {line}")
    return 1 if result.function_error else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.localcloud", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run a use case end to end and print a summary")
    demo.add_argument("uc", nargs="?", default="retail-catalog", help="a use case, or all")
    demo.add_argument("--files", type=int, default=50)
    demo.add_argument("--json", help="also write the summary to this JSON file")
    demo.add_argument("--verbose", action="store_true", help="show the deploy's own output")
    invoke = sub.add_parser("invoke", help="run one function with a sample event")
    invoke.add_argument("uc")
    invoke.add_argument("fn", help="folder name under functions/ (or the logical id)")
    invoke.add_argument("--event", help="event JSON file (default <uc>/events/<fn>.json)")
    args = parser.parse_args(argv)
    return _demo(args) if args.command == "demo" else _invoke(args)


if __name__ == "__main__":
    raise SystemExit(main())
