"""Draw the shared dashboard as a PNG, with the data its queries return from emitted metrics.

A screenshot of the CloudWatch console needs an account; this picture needs only the template and
metrics. It evaluates ``shared/cfn/observability-dashboard.yaml``, lays the widgets out the way
CloudWatch places widgets that have no x/y (left to right on a 24-column grid, wrapping), runs every
widget's queries against a :class:`MetricSource` and draws one line per returned time series, with
title, axes and unit.

CloudWatch evaluates ``SEARCH`` itself; moto does not, so :func:`widget_series` does it here: it lists
the metrics of the searched name, keeps those with exactly the searched dimension set and values,
and reads each with the searched statistic. Two sources answer:

* :class:`CloudWatchSource`: ``ListMetrics`` and ``GetMetricData`` of a CloudWatch endpoint (the
  embedded cloud's moto, after a demo run). moto computes no percentiles, so ``pNN`` statistics are
  computed from the values the EMF adapter put (the same values ``PutMetricData`` received).
* :class:`SnapshotSource`: a recorded list of those values (``shared/cfn/dashboard-metrics.json``,
  from demo runs), so the committed picture is redrawn deterministically and fast.

    python -m scripts.render_dashboard [--snapshot shared/cfn/dashboard-metrics.json] [--out PNG]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image, ImageDraw, ImageFont

from scripts import catalog, cfn_template, observability_check

logger = logging.getLogger(__name__)

DEFAULT_TEMPLATE = catalog.ROOT / "shared" / "cfn" / "observability-dashboard.yaml"
DEFAULT_OUT = catalog.ROOT / "shared" / "cfn" / "dashboard.png"
DEFAULT_SNAPSHOT = catalog.ROOT / "shared" / "cfn" / "dashboard-metrics.json"
ENVIRONMENT = "prod"
COLUMNS = 24
CELL_W = 44
CELL_H = 40
MARGIN = 16
GAP = 4
CAPTION_H = 18
MAX_LEGEND = 12
# Periods a local run is drawn with: the smallest that keeps a graph at or under MAX_BUCKETS points.
PERIODS = (1, 5, 10, 30, 60, 300)
MAX_BUCKETS = 40

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#ad494a",
)  # fmt: skip
_REDUCE = re.compile(r"^\s*(?P<fn>SUM|MAX|MIN|AVG)\(\s*(?P<id>[a-z][A-Za-z0-9_]*)\s*\)\s*$")
_PERCENTILE = re.compile(r"^p(?P<n>\d{1,2}(?:\.\d+)?)$")


class RenderError(ValueError):
    """A widget query this renderer cannot evaluate, or a snapshot it cannot read."""


# -- the values metrics were put with --------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One value put on a metric: what PutMetricData received, and what the snapshot records."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    timestamp: float
    value: float
    unit: str

    def to_json(self) -> list[Any]:
        return [self.namespace, self.name, dict(self.dimensions), self.timestamp, self.value, self.unit]

    @classmethod
    def from_json(cls, item: Sequence[Any]) -> Point:
        namespace, name, dims, timestamp, value, unit = item
        return cls(
            str(namespace), str(name), tuple(sorted(dims.items())), float(timestamp), float(value), str(unit)
        )


def statistic(values: Sequence[float], stat: str) -> float:
    """A CloudWatch statistic of the values in one period (percentiles by nearest rank)."""
    if not values:
        raise RenderError("a statistic of no values")
    if stat == "Sum":
        return float(sum(values))
    if stat == "Average":
        return float(sum(values)) / len(values)
    if stat == "Minimum":
        return float(min(values))
    if stat == "Maximum":
        return float(max(values))
    if stat == "SampleCount":
        return float(len(values))
    match = _PERCENTILE.match(stat)
    if match is None:
        raise RenderError(f"statistic {stat!r} is not one CloudWatch computes")
    ordered = sorted(values)
    rank = max(1, math.ceil(float(match.group("n")) / 100 * len(ordered)))
    return float(ordered[rank - 1])


Series = list[tuple[float, float]]


def bucket(points: Iterable[Point], stat: str, period: int, start: float, end: float) -> Series:
    """The statistic per period over [start, end), one (period start, value) per period with data."""
    periods: dict[int, list[float]] = {}
    for point in points:
        if start <= point.timestamp < end:
            periods.setdefault(int((point.timestamp - start) // period), []).append(point.value)
    return [(start + index * period, statistic(values, stat)) for index, values in sorted(periods.items())]


class MetricSource(Protocol):
    """Where a widget's queries are answered."""

    def dimension_sets(self, namespace: str, name: str) -> list[dict[str, str]]: ...

    def series(
        self, namespace: str, name: str, dimensions: Mapping[str, str], stat: str, window: Window
    ) -> Series: ...


@dataclass(frozen=True)
class Window:
    """The time range and period a picture is drawn with."""

    start: float
    end: float
    period: int


class SnapshotSource:
    """Answers from recorded points, computing each statistic itself."""

    def __init__(self, points: Iterable[Point]) -> None:
        self.points = list(points)

    def dimension_sets(self, namespace: str, name: str) -> list[dict[str, str]]:
        found = {p.dimensions for p in self.points if p.namespace == namespace and p.name == name}
        return [dict(d) for d in sorted(found)]

    def series(
        self, namespace: str, name: str, dimensions: Mapping[str, str], stat: str, window: Window
    ) -> Series:
        key = tuple(sorted(dimensions.items()))
        chosen = (
            p for p in self.points if p.namespace == namespace and p.name == name and p.dimensions == key
        )
        return bucket(chosen, stat, window.period, window.start, window.end)


class CloudWatchSource:
    """Answers with ListMetrics and GetMetricData; percentiles from the points put (moto has none)."""

    def __init__(self, client: Any, points: Iterable[Point]) -> None:
        self.client = client
        self.snapshot = SnapshotSource(points)

    def dimension_sets(self, namespace: str, name: str) -> list[dict[str, str]]:
        found: list[dict[str, str]] = []
        for page in self.client.get_paginator("list_metrics").paginate(Namespace=namespace, MetricName=name):
            for metric in page["Metrics"]:
                dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                if dims not in found:
                    found.append(dims)
        return found

    def series(
        self, namespace: str, name: str, dimensions: Mapping[str, str], stat: str, window: Window
    ) -> Series:
        if _PERCENTILE.match(stat):
            return self.snapshot.series(namespace, name, dimensions, stat, window)
        metric = {
            "Namespace": namespace,
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        }
        response = self.client.get_metric_data(
            MetricDataQueries=[
                {"Id": "m", "MetricStat": {"Metric": metric, "Period": window.period, "Stat": stat}}
            ],
            StartTime=dt.datetime.fromtimestamp(window.start, dt.UTC),
            EndTime=dt.datetime.fromtimestamp(window.end, dt.UTC),
            ScanBy="TimestampAscending",
        )
        result = response["MetricDataResults"][0]
        pairs = zip(result["Timestamps"], result["Values"], strict=True)
        return sorted((stamp.timestamp(), float(value)) for stamp, value in pairs if value is not None)


def read_snapshot(path: Path) -> list[Point]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return [Point.from_json(item) for item in document["points"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RenderError(f"{path}: not a metrics snapshot ({error})") from error


def write_snapshot(points: Iterable[Point], path: Path, note: str) -> Path:
    """Record points with times relative to the first one, so a redraw does not depend on the clock."""
    ordered = sorted(points, key=lambda p: (p.timestamp, p.namespace, p.name, p.dimensions))
    origin = ordered[0].timestamp if ordered else 0.0
    items = [
        Point(p.namespace, p.name, p.dimensions, round(p.timestamp - origin, 3), p.value, p.unit).to_json()
        for p in ordered
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"note": note, "points": items}, separators=(",", ":"))
    path.write_text(text.replace("],[", "],\n["), encoding="utf-8")
    return path


def window_for(points: Sequence[Point]) -> Window:
    """A window over all points, with the smallest period that keeps graphs readable."""
    if not points:
        return Window(0.0, 300.0, 300)
    first = min(p.timestamp for p in points)
    last = max(p.timestamp for p in points)
    period = next((p for p in PERIODS if (last - first) / p < MAX_BUCKETS), PERIODS[-1])
    start = math.floor(first / period) * period
    return Window(float(start), float(start + (math.floor((last - start) / period) + 1) * period), period)


# -- evaluating a widget ---------------------------------------------------------------------------


@dataclass
class Line:
    """One drawn time series."""

    label: str
    points: Series


def _search_lines(
    expression: str, source: MetricSource, window: Window, extra: Mapping[str, str]
) -> list[Line]:
    queries, problems = observability_check.parse_search(expression, "widget")
    match = observability_check.SEARCH_PATTERN.search(expression)
    if problems or match is None:
        raise RenderError("; ".join(problems) or f"not a SEARCH: {expression}")
    lines: list[Line] = []
    for query in queries:
        wanted = {k: v for k, v in query.dimensions.items() if v is not None} | {
            k: v for k, v in extra.items() if k in query.dimensions
        }
        for dims in source.dimension_sets(query.namespace, query.name):
            if set(dims) != set(query.dimensions) or any(dims[k] != v for k, v in wanted.items()):
                continue
            series = source.series(query.namespace, query.name, dims, match.group("stat"), window)
            lines.append(Line(dims.get("FunctionName") or " ".join(dims.values()) or query.name, series))
    return sorted(lines, key=lambda line: line.label)


def _reduce(function: str, lines: list[Line], label: str) -> Line:
    by_time: dict[float, list[float]] = {}
    for line in lines:
        for stamp, value in line.points:
            by_time.setdefault(stamp, []).append(value)
    stat = {"SUM": "Sum", "MAX": "Maximum", "MIN": "Minimum", "AVG": "Average"}[function]
    return Line(label, [(stamp, statistic(values, stat)) for stamp, values in sorted(by_time.items())])


def widget_series(
    widget: Mapping[str, Any], source: MetricSource, window: Window, extra: Mapping[str, str] | None = None
) -> list[Line]:
    """The visible lines of one metric widget; ``extra`` narrows every search (e.g. one use case)."""
    extra = extra or {}
    by_id: dict[str, list[Line]] = {}
    visible: list[Line] = []
    pending: list[dict[str, Any]] = []
    for item in widget.get("properties", {}).get("metrics", []):
        if isinstance(item, dict) and "SEARCH(" in str(item.get("expression", "")):
            lines = _search_lines(str(item["expression"]), source, window, extra)
            by_id[str(item.get("id"))] = lines
            if item.get("visible", True):
                visible += lines
        elif isinstance(item, dict):
            pending.append(item)
        else:
            options = item[-1] if isinstance(item[-1], dict) else {}
            names = [str(x) for x in (item[:-1] if options else item)]
            dims = dict(zip(names[2::2], names[3::2], strict=True))
            series = source.series(names[0], names[1], dims, str(options.get("stat", "Average")), window)
            visible.append(Line(str(options.get("label") or names[1]), series))
    for item in pending:
        match = _REDUCE.match(str(item.get("expression", "")))
        if match is None or match.group("id") not in by_id:
            raise RenderError(f"expression not understood: {item.get('expression')}")
        reduced = _reduce(match.group("fn"), by_id[match.group("id")], str(item.get("label", "")))
        if item.get("visible", True) and reduced.points:
            visible.append(reduced)
    return visible


def dashboard_data(
    body: Mapping[str, Any], source: MetricSource, window: Window, extra: Mapping[str, str] | None = None
) -> dict[int, list[Line]]:
    """Lines per widget index, for every metric widget of the dashboard body."""
    return {
        index: widget_series(widget, source, window, extra)
        for index, widget in enumerate(body.get("widgets", []))
        if widget.get("type") == "metric"
    }


# -- the template ----------------------------------------------------------------------------------


def dashboard_body(template_path: Path = DEFAULT_TEMPLATE, environment: str = ENVIRONMENT) -> dict[str, Any]:
    """The dashboard JSON the template creates in ``environment``."""
    template = cfn_template.load(template_path)
    evaluation = cfn_template.evaluate(template, "dashboard", {"Environment": environment})
    document: dict[str, Any] = json.loads(evaluation.properties("Dashboard")["DashboardBody"])
    return document


def searched_metric(widget: Mapping[str, Any]) -> str | None:
    """The metric name a widget's searches read, when they all read one."""
    names = {
        q.name
        for item in widget.get("properties", {}).get("metrics", [])
        if isinstance(item, dict) and "SEARCH(" in str(item.get("expression", ""))
        for q in observability_check.parse_search(str(item["expression"]), "widget")[0]
    }
    return names.pop() if len(names) == 1 else None


# -- drawing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placed:
    """A widget with the grid position CloudWatch would give it."""

    widget: dict[str, Any]
    x: int
    y: int
    width: int
    height: int
    index: int


def layout(widgets: list[dict[str, Any]]) -> list[Placed]:
    """Place widgets without x/y: fill rows left to right; a widget that does not fit starts a row."""
    placed: list[Placed] = []
    x = y = row_height = 0
    for index, widget in enumerate(widgets):
        width = int(widget.get("width", 6))
        height = int(widget.get("height", 6))
        if "x" in widget and "y" in widget:
            placed.append(Placed(widget, int(widget["x"]), int(widget["y"]), width, height, index))
            continue
        if x + width > COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        placed.append(Placed(widget, x, y, width, height, index))
        x += width
        row_height = max(row_height, height)
    return placed


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # a Pillow built without FreeType has only the bitmap font
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: float) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _number(value: float) -> str:
    """A short axis label: 1.5k, 12, 0.25."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def _nice_top(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10.0 ** math.floor(math.log10(value))
    return float(next(step * exponent for step in (1, 2, 2.5, 5, 10) if step * exponent >= value))


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float


class Painter:
    """Draws widgets onto one image."""

    def __init__(self, image: Image.Image, window: Window) -> None:
        self.draw = ImageDraw.Draw(image)
        self.window = window
        self.title_font, self.small_font, self.heading_font = _font(13), _font(10), _font(16)

    def text_widget(self, box: Box, widget: Mapping[str, Any]) -> None:
        draw = self.draw
        draw.rectangle((box.left, box.top, box.right, box.bottom), fill="#e9ebed")
        lines = str(widget.get("properties", {}).get("markdown", "")).splitlines()
        heading = lines[0].lstrip("#* ").replace("`", "").strip() if lines else ""
        inner = box.right - box.left - 16
        draw.text((box.left + 8, box.top + 6), _fit(draw, heading, self.heading_font, inner), fill="#16191f",
                  font=self.heading_font)  # fmt: skip
        if len(lines) > 1:
            rest = " ".join(lines[1:]).replace("*", "").replace("`", "")
            draw.text((box.left + 8, box.top + 30), _fit(draw, rest, self.small_font, inner), fill="#545b64",
                      font=self.small_font)  # fmt: skip

    def metric_widget(self, box: Box, widget: Mapping[str, Any], lines: list[Line]) -> None:
        draw, small = self.draw, self.small_font
        props = widget.get("properties", {})
        draw.rectangle((box.left, box.top, box.right, box.bottom), fill="white", outline="#d5dbdb")
        inner = box.right - box.left - 16
        title = _fit(draw, str(props.get("title", "")), self.title_font, inner)
        draw.text((box.left + 8, box.top + 6), title, fill="#16191f", font=self.title_font)
        unit = str(props.get("yAxis", {}).get("left", {}).get("label", ""))
        legend = lines[:MAX_LEGEND]
        columns = 1 if len(legend) == 1 else 2
        legend_rows = math.ceil(len(legend) / columns) if legend else 0
        plot = Box(box.left + 44, box.top + 44, box.right - 12, box.bottom - 22 - 12 * legend_rows)
        labels = [line.label for line in lines]
        prefix = _common_prefix(labels) if len(labels) > 1 else ""
        note = unit + (f"   (names start with {prefix})" if prefix else "")
        draw.text((box.left + 8, box.top + 22), _fit(draw, note, small, inner), fill="#545b64", font=small)
        values = [v for line in lines for _, v in line.points]
        top = _nice_top(max(values, default=0.0))
        for fraction in (0.0, 0.5, 1.0):
            y = plot.bottom - (plot.bottom - plot.top) * fraction
            draw.line((plot.left, y, plot.right, y), fill="#eaeded" if fraction else "#879596")
            label = _number(top * fraction)
            draw.text(
                (plot.left - 4 - draw.textlength(label, font=small), y - 6), label, fill="#545b64", font=small
            )
        window = self.window
        span = window.end - window.start
        for fraction in (0.0, 0.5, 1.0):
            x = plot.left + (plot.right - plot.left) * fraction
            label = f"+{span * fraction:.0f} s"
            offset = draw.textlength(label, font=small) * fraction
            draw.text((x - offset, plot.bottom + 2), label, fill="#545b64", font=small)
        if not values:
            message = "No data"
            draw.text(((plot.left + plot.right - draw.textlength(message, font=small)) / 2,
                       (plot.top + plot.bottom) / 2 - 6), message, fill="#879596", font=small)  # fmt: skip
        for index, line in enumerate(lines):
            colour = PALETTE[index % len(PALETTE)]
            coords = [
                (
                    plot.left
                    + (plot.right - plot.left) * ((stamp - window.start + window.period / 2) / span),
                    plot.bottom - (plot.bottom - plot.top) * (value / top),
                )
                for stamp, value in line.points
            ]
            if len(coords) > 1:
                draw.line(coords, fill=colour, width=2)
            for cx, cy in coords:
                draw.ellipse((cx - 2, cy - 2, cx + 2, cy + 2), fill=colour)
        column = (box.right - box.left - 16) / columns
        for index, line in enumerate(legend):
            x = box.left + 8 + column * (index % columns)
            y = box.bottom - 8 - 12 * (legend_rows - index // columns)
            colour = PALETTE[index % len(PALETTE)]
            draw.rectangle((x, y + 3, x + 6, y + 9), fill=colour)
            label = line.label.removeprefix(prefix)
            draw.text((x + 10, y), _fit(draw, label, small, column - 14), fill="#545b64", font=small)
        if len(lines) > MAX_LEGEND:
            more = f"+{len(lines) - MAX_LEGEND} more"
            draw.text((box.right - 8 - draw.textlength(more, font=small), box.top + 22), more, fill="#879596",
                      font=small)  # fmt: skip


def _common_prefix(labels: Sequence[str]) -> str:
    """The longest shared prefix that ends at a hyphen (the stack name of one use case's functions)."""
    shared = labels[0]
    for label in labels[1:]:
        while not label.startswith(shared):
            shared = shared[:-1]
    cut = shared.rfind("-")
    return shared[: cut + 1] if cut > 0 else ""


def render(
    body: Mapping[str, Any], out: Path, data: Mapping[int, list[Line]], window: Window, caption: str
) -> Path:
    """Draw the widgets of ``body`` with the lines of ``data`` into ``out`` (PNG)."""
    placed = layout(list(body.get("widgets", [])))
    rows = max((p.y + p.height for p in placed), default=1)
    size = (MARGIN * 2 + COLUMNS * CELL_W, MARGIN * 2 + rows * CELL_H + CAPTION_H)
    image = Image.new("RGB", size, "#f2f3f3")
    painter = Painter(image, window)
    for item in placed:
        box = Box(
            MARGIN + item.x * CELL_W + GAP,
            MARGIN + item.y * CELL_H + GAP,
            MARGIN + (item.x + item.width) * CELL_W - GAP,
            MARGIN + (item.y + item.height) * CELL_H - GAP,
        )
        if item.widget.get("type") == "text":
            painter.text_widget(box, item.widget)
        else:
            painter.metric_widget(box, item.widget, list(data.get(item.index, [])))
    painter.draw.text((MARGIN + GAP, size[1] - CAPTION_H), caption, fill="#545b64", font=painter.small_font)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, format="PNG", optimize=True)
    return out


def render_points(
    points: Sequence[Point],
    out: Path,
    source: MetricSource | None = None,
    use_case: catalog.UseCase | None = None,
    template_path: Path = DEFAULT_TEMPLATE,
) -> Path:
    """Draw the dashboard from emitted points (or from ``source``, with the points' time window).

    With ``use_case``, searches are narrowed to it and widgets of metrics it never emits are left
    out, which is the dashboard an account with only that use case shows.
    """
    from scripts import metrics_registry

    body = dashboard_body(template_path)
    extra: dict[str, str] = {}
    if use_case is not None:
        emitted = {spec.name for spec in metrics_registry.emf_metrics([use_case])}
        body["widgets"] = [
            w for w in body["widgets"] if w.get("type") != "metric" or searched_metric(w) in emitted | {None}
        ]
        extra["UseCase"] = use_case.name
    window = window_for(points)
    data = dashboard_data(body, source or SnapshotSource(points), window, extra)
    caption = (
        f"Environment {ENVIRONMENT}; {len(points)} metric values emitted by the functions; drawn with a "
        f"{window.period} s period (the dashboard itself uses 300 s)."
    )
    return render(body, out, data, window, caption)


def render_committed() -> Path:
    """Redraw ``shared/cfn/dashboard.png`` from the recorded snapshot."""
    return render_points(read_snapshot(DEFAULT_SNAPSHOT), DEFAULT_OUT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--snapshot", type=Path, default=DEFAULT_SNAPSHOT)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--record",
        type=Path,
        nargs="+",
        metavar="METRICS_JSON",
        help="first merge these demo snapshots (build/<uc>/metrics.json) into --snapshot, each from time 0",
    )
    args = parser.parse_args(argv)
    if args.record:
        merged = [point for path in args.record for point in read_snapshot(path)]
        sources = ", ".join(path.parent.name for path in args.record)
        write_snapshot(merged, args.snapshot, f"make demo runs of {sources}, each from time 0")
    path = render_points(read_snapshot(args.snapshot), args.out, template_path=args.template)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
