"""Write every effective template the project can deploy, then lint them all in one run per tool.

A use case's template file is not what CloudFormation runs: the ``AWS::LanguageExtensions``
transform expands its loops, the state machine definition comes from a file, and a feature switch
decides which resources exist. checkov reads parameter defaults only, so a switch left at its
default hides the resources behind it. This writes one expanded template per combination of the
feature switches (:data:`SWITCHES`), with that combination as the defaults, under ``build/lint/``,
checks each state machine definition against the Amazon States Language, then runs cfn-lint (with
the serverless rules) and checkov once over all of them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts import catalog, cfn_template
from scripts.catalog import ROOT

logger = logging.getLogger(__name__)

LINT_ROOT = ROOT / "build" / "lint"
CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"
# A well-formed private ECR image, so real-mode resources lint as a user would deploy them.
SAMPLE_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/segmentation:1"

# The feature switches: a name for each setting and the parameter values it stands for. A template
# is linted with every combination of the switches whose parameters it declares.
SWITCHES: dict[str, dict[str, dict[str, str]]] = {
    "streaming": {
        "on": {"EnableStreamingMode": "true"},
        "off": {"EnableStreamingMode": "false"},
    },
    "sagemaker": {
        "off": {"EnableSageMakerTransform": "false"},
        "mock": {"EnableSageMakerTransform": "true", "MockMode": "true"},
        "real": {"EnableSageMakerTransform": "true", "MockMode": "false", "ModelImageUri": SAMPLE_IMAGE},
    },
    "xray": {"on": {"EnableXRayTracing": "true"}, "off": {"EnableXRayTracing": "false"}},
    "alarms": {"on": {"EnableCloudWatchAlarms": "true"}, "off": {"EnableCloudWatchAlarms": "false"}},
    "render": {
        "off": {"EnableRenderResubmit": "false"},
        "on": {
            "EnableRenderResubmit": "true",
            "DeadlineFarmId": "farm-0123456789abcdef0123456789abcdef",
            "DeadlineQueueId": "queue-0123456789abcdef0123456789abcdef",
        },
    },
}


@dataclass(frozen=True)
class Combination:
    """One setting of the switches a template has: ``label`` like ``streaming-on_xray-off``."""

    label: str
    parameters: Mapping[str, str]


def combinations(template: Mapping[str, Any]) -> list[Combination]:
    """Every combination of the switches ``template`` declares (one, empty, when it has none)."""
    declared = set(template.get("Parameters") or {})
    present = [
        (name, settings)
        for name, settings in SWITCHES.items()
        if all(set(values) - {"ModelImageUri", "MockMode"} <= declared for values in settings.values())
    ]
    found: list[Combination] = []
    for choice in itertools.product(*(list(settings.items()) for _, settings in present)):
        label = "_".join(f"{name}-{setting}" for (name, _), (setting, _) in zip(present, choice, strict=True))
        parameters: dict[str, str] = {}
        for _, values in choice:
            parameters.update({k: v for k, v in values.items() if k in declared})
        found.append(Combination(label or "default", parameters))
    return found


def effective(path: Path, combination: Combination) -> dict[str, Any]:
    """The template as deployed with ``combination``, which also becomes its parameter defaults."""
    raw = cfn_template.inline_includes(cfn_template.load(path, raw=True), path.parent)
    template = cfn_template.inline_definitions(cfn_template.expand(raw, combination.parameters), path.parent)
    for name, value in combination.parameters.items():
        template["Parameters"][name]["Default"] = value
    cfn_template.drop_unused_mappings(template)
    return template


def write_effective(path: Path, target: Path) -> Path:
    """Write ``path``'s effective template at its parameter defaults to ``target``; return ``target``.

    The linters read files, and a template that includes snippets cannot be linted as written
    (they would need the snippets from S3); this is what CloudFormation runs.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    template = cfn_template.drop_unused_mappings(cfn_template.load(path))
    target.write_text(cfn_template.dump(template), encoding="utf-8")
    return target


def write_all(templates: Sequence[Path], root: Path = LINT_ROOT) -> list[Path]:
    """Write each effective template under ``root/<folder>/<label>.yaml``; return their paths."""
    written: list[Path] = []
    for path in templates:
        raw = cfn_template.load(path, raw=True)
        folder = root / path.relative_to(ROOT).with_suffix("").as_posix().replace("/", "__")
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.yaml"):
            stale.unlink()
        for combination in combinations(raw):
            target = folder / f"{combination.label}.yaml"
            target.write_text(cfn_template.dump(effective(path, combination)), encoding="utf-8")
            written.append(target)
    return written


# --------------------------------------------------------------------------------------------------
# Amazon States Language


def definitions(templates: Sequence[Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each state machine of each template, as Step Functions receives it (parameters at defaults)."""
    for path in templates:
        template = cfn_template.load(path)
        for logical, resource in template.get("Resources", {}).items():
            if resource.get("Type") == "AWS::StepFunctions::StateMachine":
                where = f"{path.relative_to(ROOT)}:{logical}"
                yield where, cfn_template.definition_document(template, logical)


def asl_problems(where: str, definition: Mapping[str, Any]) -> list[str]:
    """Errors of ``definition`` against the ASL schema cfn-lint ships (its rule E3601 uses it)."""
    from cfnlint.data.schemas.other import step_functions
    from cfnlint.helpers import load_resource
    from jsonschema import Draft7Validator  # type: ignore[import-untyped]

    schema = load_resource(step_functions, "statemachine.json")
    validator = Draft7Validator(schema)
    return [
        f"{where}: {'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(dict(definition))
    ]


# --------------------------------------------------------------------------------------------------
# Running the linters


def run(templates: Sequence[Path], *, checkov: Path = CHECKOV) -> int:
    """Write, validate and lint; return the number of tools (or checks) that failed."""
    written = write_all(templates)
    print(f"effective templates: {len(written)} under {LINT_ROOT.relative_to(ROOT)}")
    failures = 0
    problems = [p for where, document in definitions(templates) for p in asl_problems(where, document)]
    for problem in problems:
        print(f"ASL: {problem}")
    failures += bool(problems)
    # Relative paths: checkov's secret scan misreads a Lambda environment when given absolute ones.
    files = [str(p.relative_to(ROOT)) for p in written]
    cfn_lint = [str(Path(sys.executable).parent / "cfn-lint"), "--append-rules", "cfn_lint_serverless.rules"]
    scan = [str(checkov), "--quiet", "--compact", "--skip-download", "--framework", "cloudformation"]
    scan += ["--output", "json", *itertools.chain.from_iterable(("-f", f) for f in files)]
    # The two tools run side by side: each is single-threaded, and together they are most of the lint.
    pipes: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with subprocess.Popen(scan, cwd=ROOT, **pipes) as checking:
        failures += subprocess.run([*cfn_lint, "--", *files], cwd=ROOT, check=False).returncode != 0
        stdout, stderr = checking.communicate()
    result = subprocess.CompletedProcess(scan, checking.returncode, stdout, stderr)
    reports = json.loads(result.stdout or "[]")
    for report in reports if isinstance(reports, list) else [reports]:
        for check in report.get("results", {}).get("failed_checks", []):
            where = f"{check['file_path']} {check['resource']}"
            print(f"checkov: {check['check_id']} {where}: {check['check_name']}")
            failures += 1
    if result.returncode != 0 and not failures:
        print(result.stderr[-2000:], file=sys.stderr)
        failures += 1
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("templates", nargs="*", type=Path, help="templates (default: every catalog template)")
    args = parser.parse_args(argv)
    templates = [p.resolve() for p in args.templates] or catalog.templates()
    failures = run(templates)
    print("lint: clean" if not failures else f"lint: {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
