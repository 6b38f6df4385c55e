"""Draw the dashboard's widget grid as a PNG, from the template's own JSON body.

A screenshot of the CloudWatch console needs an account; this picture needs only the template. It
evaluates ``shared/cfn/observability-dashboard.yaml`` with every use case that has a section turned
on (stack ``<use-case>-stack``, every feature switch "true"), lays the widgets out the way
CloudWatch places widgets that have no x/y (left to right on a 24-column grid, wrapping), and draws
each widget with its title and the series it plots.

    python -m scripts.render_dashboard [--out shared/cfn/dashboard.png]
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from scripts import catalog, cfn_template, observability_check

logger = logging.getLogger(__name__)

DEFAULT_TEMPLATE = catalog.ROOT / "shared" / "cfn" / "observability-dashboard.yaml"
DEFAULT_OUT = catalog.ROOT / "shared" / "cfn" / "dashboard.png"
COLUMNS = 24
CELL_W = 44
CELL_H = 26
MARGIN = 16
GAP = 4
CAPTION_H = 18

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@dataclass(frozen=True)
class Placed:
    """A widget with the grid position CloudWatch would give it."""

    widget: dict[str, Any]
    x: int
    y: int
    width: int
    height: int


def showcase_parameters(template: dict[str, Any]) -> dict[str, str]:
    """Every section on: ``<UseCase>StackName`` set, every true/false switch true."""
    stacks = {
        name: f"{name.removesuffix('StackName').lower()}-stack"
        for name in template.get("Parameters") or {}
        if name.endswith("StackName")
    }
    return observability_check.maximal_parameters(template) | stacks


def dashboard_body(template_path: Path, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The dashboard JSON the template creates for these parameters (showcase values by default)."""
    template = cfn_template.load(template_path)
    params = showcase_parameters(template) if parameters is None else parameters
    evaluation = cfn_template.evaluate(template, "dashboard", params)
    body = evaluation.properties("Dashboard")["DashboardBody"]
    document: dict[str, Any] = json.loads(body)
    return document


def layout(widgets: list[dict[str, Any]]) -> list[Placed]:
    """Place widgets without x/y: fill rows left to right; a widget that does not fit starts a row."""
    placed: list[Placed] = []
    x = y = row_height = 0
    for widget in widgets:
        width = int(widget.get("width", 6))
        height = int(widget.get("height", 6))
        if "x" in widget and "y" in widget:
            placed.append(Placed(widget, int(widget["x"]), int(widget["y"]), width, height))
            continue
        if x + width > COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        placed.append(Placed(widget, x, y, width, height))
        x += width
        row_height = max(row_height, height)
    return placed


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # a Pillow built without FreeType has only the bitmap font
        return ImageFont.load_default()


def _series_labels(widget: dict[str, Any]) -> list[str]:
    labels = []
    for line in widget.get("properties", {}).get("metrics", []):
        if isinstance(line, dict):
            if line.get("visible", True):
                labels.append(str(line.get("label") or line.get("expression", "")))
        else:
            options = line[-1] if line and isinstance(line[-1], dict) else {}
            stat = options.get("stat", "")
            labels.append(f"{options.get('label') or line[1]} ({line[1]} {stat})".strip())
    return labels


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def render(body: dict[str, Any], out: Path) -> Path:
    """Draw the widget grid of ``body`` into ``out`` (PNG)."""
    placed = layout(list(body.get("widgets", [])))
    rows = max((p.y + p.height for p in placed), default=1)
    size = (MARGIN * 2 + COLUMNS * CELL_W, MARGIN * 2 + rows * CELL_H + CAPTION_H)
    image = Image.new("RGB", size, "#f2f3f3")
    draw = ImageDraw.Draw(image)
    title_font, small_font, heading_font = _font(13), _font(10), _font(16)
    for item in placed:
        left = MARGIN + item.x * CELL_W + GAP
        top = MARGIN + item.y * CELL_H + GAP
        right = MARGIN + (item.x + item.width) * CELL_W - GAP
        bottom = MARGIN + (item.y + item.height) * CELL_H - GAP
        inner = right - left - 16
        if item.widget.get("type") == "text":
            draw.rectangle((left, top, right, bottom), fill="#e9ebed")
            lines = str(item.widget.get("properties", {}).get("markdown", "")).splitlines()
            heading = lines[0].lstrip("#* ").strip() if lines else ""
            draw.text((left + 8, top + 6), _fit(draw, heading, heading_font, inner), fill="#16191f",
                      font=heading_font)  # fmt: skip
            if len(lines) > 1 and bottom - top > 40:
                rest = " ".join(lines[1:]).replace("*", "")
                draw.text((left + 8, top + 28), _fit(draw, rest, small_font, inner), fill="#545b64",
                          font=small_font)  # fmt: skip
            continue
        draw.rectangle((left, top, right, bottom), fill="white", outline="#d5dbdb")
        title = str(item.widget.get("properties", {}).get("title", ""))
        draw.text((left + 8, top + 6), _fit(draw, title, title_font, inner), fill="#16191f", font=title_font)
        labels = _series_labels(item.widget)
        chart_top, chart_bottom = top + 26, bottom - 8 - 12 * min(len(labels), 4)
        if chart_bottom - chart_top > 12:
            for index in range(min(len(labels), 4)):
                colour = PALETTE[index % len(PALETTE)]
                step = (right - left - 24) / 8
                points = [
                    (
                        left + 12 + i * step,
                        chart_bottom - (chart_bottom - chart_top) * (((i + index) * 37) % 10) / 12,
                    )
                    for i in range(9)
                ]
                draw.line(points, fill=colour, width=2)
        for index, label in enumerate(labels[:4]):
            y = bottom - 8 - 12 * (min(len(labels), 4) - index)
            colour = PALETTE[index % len(PALETTE)]
            draw.rectangle((left + 8, y + 3, left + 14, y + 9), fill=colour)
            draw.text(
                (left + 18, y), _fit(draw, label, small_font, inner - 12), fill="#545b64", font=small_font
            )
        if len(labels) > 4:
            more = f"+{len(labels) - 4} more"
            draw.text((right - 8 - draw.textlength(more, font=small_font), top + 8), more, fill="#879596",
                      font=small_font)  # fmt: skip
    caption = (
        "Widget layout rendered from the template's dashboard body; the lines are placeholders, not data."
    )
    draw.text((MARGIN + GAP, size[1] - CAPTION_H), caption, fill="#545b64", font=small_font)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, format="PNG", optimize=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    path = render(dashboard_body(args.template), args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
