"""The catalog of use cases: the one place the tooling looks up ``UC=<name>``.

A use case is found by its name, its number (``UC11``), or its folder, wherever the folder lives.
The shared stacks in ``shared/cfn`` are listed too, so they deploy and lint like any use case.

A use case lives in one folder: its template, ``functions/``, ``events/``, and its own Python
package, named after the use case with underscores (``retail-catalog/retail_catalog``), which
holds its domain code and its demo driver (``<package>.demo``). :func:`make_importable` puts
those folders on ``sys.path`` so every tool (tests, the local cloud, the bench, ``make demo``)
imports ``retail_catalog`` the way a function's zip does, where the package sits at the root.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


class UnknownUseCaseError(LookupError):
    """No use case or shared stack has that name."""


@dataclass(frozen=True)
class UseCase:
    """One deployable unit: a use case, or a shared stack when ``number`` is 0."""

    number: int
    name: str
    industry: str
    folder: str
    summary: str

    @property
    def code(self) -> str:
        return f"UC{self.number}" if self.number else "shared"

    @property
    def path(self) -> Path:
        return ROOT / self.folder

    @property
    def template(self) -> Path:
        return self.path / "template.yaml" if self.number else self.path

    @property
    def functions_dir(self) -> Path:
        return self.path / "functions"

    @property
    def exists(self) -> bool:
        return self.template.is_file()

    @property
    def package(self) -> str:
        """The import name of the use case's own package: its name with underscores."""
        return self.name.replace("-", "_")

    @property
    def package_dir(self) -> Path:
        return self.path / self.package

    @property
    def has_package(self) -> bool:
        return self.number > 0 and (self.package_dir / "__init__.py").is_file()

    @property
    def demo_module(self) -> str:
        """Where ``make demo`` finds the use case's driver."""
        return f"{self.package}.demo"


USE_CASES: tuple[UseCase, ...] = (
    UseCase(1, "legal-compliance", "Legal", "use-cases/legal-compliance",
            "Audit file-server permissions and retention against policy."),
    UseCase(2, "financial-idp", "Financial services", "use-cases/financial-idp",
            "Intelligent document processing for invoices and statements."),
    UseCase(3, "manufacturing-analytics", "Manufacturing", "use-cases/manufacturing-analytics",
            "Sensor logs and inspection images into quality analytics."),
    UseCase(4, "media-vfx", "Media and entertainment", "use-cases/media-vfx",
            "Render-farm output checks and asset metadata."),
    UseCase(5, "healthcare-dicom", "Healthcare", "use-cases/healthcare-dicom",
            "DICOM metadata extraction and de-identification checks."),
    UseCase(6, "semiconductor-eda", "Semiconductor", "use-cases/semiconductor-eda",
            "EDA design-file validation and run summaries."),
    UseCase(7, "genomics-pipeline", "Life sciences", "use-cases/genomics-pipeline",
            "FASTQ/BAM/VCF quality control and run summaries."),
    UseCase(8, "energy-seismic", "Energy", "use-cases/energy-seismic",
            "SEG-Y survey metadata and well-log checks."),
    UseCase(9, "autonomous-driving", "Automotive", "autonomous-driving",
            "Video and LiDAR QC, point-cloud segmentation through SageMaker Batch Transform."),
    UseCase(10, "construction-bim", "Construction", "use-cases/construction-bim",
            "BIM model (IFC) metadata and drawing OCR."),
    UseCase(11, "retail-catalog", "Retail", "retail-catalog",
            "Product-image tagging, catalog metadata and quality checks, streaming or polling."),
    UseCase(12, "logistics-ocr", "Logistics", "use-cases/logistics-ocr",
            "Shipping documents and labels into structured records."),
    UseCase(13, "education-research", "Education and research", "use-cases/education-research",
            "Research papers and datasets into a searchable index."),
    UseCase(14, "insurance-claims", "Insurance", "use-cases/insurance-claims",
            "Claim photos and documents into an assessed claim file."),
)  # fmt: skip

SHARED_STACKS: tuple[UseCase, ...] = (
    UseCase(0, "observability-dashboard", "All", "shared/cfn/observability-dashboard.yaml",
            "One CloudWatch dashboard that finds every deployed use case by metric search."),
    UseCase(0, "alert-automation", "All", "shared/cfn/alert-automation.yaml",
            "Encrypted alert topic, subscriptions, cross-use-case and composite alarms."),
)  # fmt: skip

ALL: tuple[UseCase, ...] = USE_CASES + SHARED_STACKS


def names() -> list[str]:
    return [uc.name for uc in ALL]


def find(name: str) -> UseCase:
    """Look up a use case or shared stack by name, ``UC<n>``, or folder."""
    wanted = name.strip().strip("/").lower()
    for uc in ALL:
        if wanted in {uc.name, uc.folder.lower(), uc.code.lower()}:
            return uc
    raise UnknownUseCaseError(f"unknown use case {name!r}; choose one of: {', '.join(names())}")


def templates() -> list[Path]:
    """Every template that exists today, use cases first."""
    return [uc.template for uc in ALL if uc.exists]


def package_folders() -> list[Path]:
    """The folders that hold a use case's own package: the entries ``sys.path`` needs for them."""
    return [uc.path for uc in USE_CASES if uc.has_package]


def make_importable() -> None:
    """Put every use case's package folder on ``sys.path`` (once); see the module docstring."""
    for folder in package_folders():
        if str(folder) not in sys.path:
            sys.path.append(str(folder))


def offers_streaming(uc: UseCase) -> bool:
    """Whether the use case's template has the streaming switch (``EnableStreamingMode``)."""
    from scripts import cfn_template

    return uc.exists and "EnableStreamingMode" in cfn_template.load(uc.template, raw=True).get(
        "Parameters", {}
    )


def table_row(uc: UseCase, demo_seconds: float | None = None) -> str:
    """The use case's row of the README table; the demo time comes from a ``make demo UC=all`` run."""
    streaming = "yes" if offers_streaming(uc) else "no"
    built = f"[{uc.name}]({uc.folder})" if uc.exists else f"{uc.name} (planned)"
    demo = f"{demo_seconds:.0f} s" if demo_seconds is not None else "-"
    return f"| {uc.code} | {built} | {uc.industry} | {uc.summary} | {streaming} | {demo} |"


def table(timings: dict[str, float] | None = None) -> str:
    """The README's use-case table: ``python -m scripts.catalog table --timings <summary.json>``."""
    lines = [
        "| UC | Use case | Industry | What it does | Streaming | Demo |",
        "|----|----------|----------|--------------|-----------|------|",
    ]
    lines.extend(table_row(uc, (timings or {}).get(uc.name)) for uc in USE_CASES)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("templates", help="print the path of every template that exists")
    sub.add_parser("list", help="print the catalog as a table")
    sub.add_parser("package-folders", help="print the folder of every use case that has its own package")
    markdown = sub.add_parser("table", help="print the README's use-case table")
    markdown.add_argument("--timings", help="the JSON summary of a make demo UC=all run, for the demo times")
    show = sub.add_parser("path", help="print the folder of one use case")
    show.add_argument("name")
    args = parser.parse_args(argv)
    if args.command == "templates":
        for path in templates():
            print(path.relative_to(ROOT))
    elif args.command == "package-folders":
        for folder in package_folders():
            print(folder.relative_to(ROOT))
    elif args.command == "table":
        import json

        rows = json.loads(Path(args.timings).read_text(encoding="utf-8")) if args.timings else []
        print(table({row["use_case"]: float(row["seconds"]) for row in rows}))
    elif args.command == "list":
        for uc in ALL:
            state = "ready" if uc.exists else "planned"
            print(f"{uc.code:<6} {uc.name:<26} {uc.industry:<24} {uc.folder:<45} {state}")
    else:
        try:
            print(find(args.name).folder)
        except UnknownUseCaseError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
