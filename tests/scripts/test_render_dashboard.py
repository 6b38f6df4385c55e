"""The dashboard picture: widgets laid out as CloudWatch does, lines from the metrics really emitted.

The searches are evaluated here (moto does not): exact dimension set, exact filter values, one line
per matching function; the committed picture is what the recorded snapshot draws.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import boto3
import pytest
from PIL import Image, ImageChops

from scripts import catalog, observability_stacks, render_dashboard
from scripts.render_dashboard import (
    CloudWatchSource,
    Point,
    SnapshotSource,
    Window,
    layout,
    statistic,
    widget_series,
)
from shared.observability import NAMESPACE

T0 = 1_700_000_000.0


def _point(function: str, name: str, value: float, at: float, env: str = "prod") -> Point:
    dims = {"UseCase": "retail-catalog", "FunctionName": function, "Environment": env}
    return Point(NAMESPACE, name, tuple(sorted(dims.items())), T0 + at, value, "Count")


POINTS = [
    _point("rc-discovery", "FilesProcessed", 3, 0.5),
    _point("rc-discovery", "FilesProcessed", 4, 1.5),
    _point("rc-tagging", "FilesProcessed", 2, 1.2),
    _point("rc-tagging", "FilesProcessed", 9, 2.5, env="staging"),
    # The seed's mistake: a metric without the Environment dimension is not what the dashboard reads.
    Point(
        NAMESPACE,
        "FilesProcessed",
        (("FunctionName", "rc-other"), ("UseCase", "retail-catalog")),
        T0,
        7,
        "Count",
    ),
]
WINDOW = Window(T0, T0 + 3, 1)


def test_widgets_without_position_fill_rows_left_to_right() -> None:
    widgets = [
        {"width": 24, "height": 2},
        {"width": 8},
        {"width": 8},
        {"width": 12},
        {"width": 12, "height": 3},
    ]
    placed = [(p.x, p.y, p.width, p.height) for p in layout(widgets)]
    assert placed == [(0, 0, 24, 2), (0, 2, 8, 6), (8, 2, 8, 6), (0, 8, 12, 6), (12, 8, 12, 3)]


@pytest.mark.parametrize(
    ("stat", "expected"),
    [("Sum", 10.0), ("Average", 2.5), ("Minimum", 1.0), ("Maximum", 4.0), ("SampleCount", 4.0),
     ("p50", 2.0), ("p99", 4.0), ("p25", 1.0)],
)  # fmt: skip
def test_statistics_are_computed_as_cloudwatch_defines_them(stat: str, expected: float) -> None:
    assert statistic([4.0, 1.0, 3.0, 2.0], stat) == expected


def test_an_unknown_statistic_raises() -> None:
    with pytest.raises(render_dashboard.RenderError, match="not one CloudWatch computes"):
        statistic([1.0], "Median")


def _per_function_widget() -> dict[str, object]:
    widget = observability_stacks.per_function_widget("FilesProcessed", "Sum", "Count")
    expression = widget["properties"]["metrics"][0]["expression"]  # type: ignore[index]
    widget["properties"]["metrics"][0]["expression"] = expression.replace("${Environment}", "prod")  # type: ignore[index]
    return widget


def test_a_search_draws_one_line_per_function_with_exactly_its_dimensions() -> None:
    lines = widget_series(_per_function_widget(), SnapshotSource(POINTS), WINDOW)
    assert [(line.label, line.points) for line in lines] == [
        ("rc-discovery", [(T0, 3.0), (T0 + 1, 4.0)]),
        ("rc-tagging", [(T0 + 1, 2.0)]),
    ]
    narrowed = widget_series(_per_function_widget(), SnapshotSource(POINTS), WINDOW, {"UseCase": "other"})
    assert narrowed == []


def test_a_total_reduces_the_hidden_search() -> None:
    total = observability_stacks.totals_widgets()[0]
    for line in total["properties"]["metrics"]:
        if "expression" in line:
            line["expression"] = line["expression"].replace("${Environment}", "prod")
    (line,) = widget_series(total, SnapshotSource(POINTS), WINDOW)
    assert line.label == "Files processed" and line.points == [(T0, 3.0), (T0 + 1, 6.0)]


def test_cloudwatch_and_the_snapshot_answer_alike(aws: None) -> None:
    """The moto route (ListMetrics + GetMetricData) and the snapshot route draw the same lines."""
    client = boto3.client("cloudwatch", region_name="us-east-1")
    for point in POINTS:
        client.put_metric_data(
            Namespace=point.namespace,
            MetricData=[
                {
                    "MetricName": point.name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in point.dimensions],
                    "Value": point.value,
                    "Unit": point.unit,
                    "Timestamp": dt.datetime.fromtimestamp(point.timestamp, dt.UTC),
                }
            ],
        )
    widget = _per_function_widget()
    from_cloudwatch = widget_series(widget, CloudWatchSource(client, POINTS), WINDOW)
    assert from_cloudwatch == widget_series(widget, SnapshotSource(POINTS), WINDOW)
    assert [line.label for line in from_cloudwatch] == ["rc-discovery", "rc-tagging"]


def test_snapshot_round_trip_is_relative_to_the_first_point(tmp_path: Path) -> None:
    path = render_dashboard.write_snapshot(POINTS, tmp_path / "metrics.json", "test")
    read = render_dashboard.read_snapshot(path)
    assert min(p.timestamp for p in read) == 0.0
    expected = sorted((p.value, round(p.timestamp - T0, 3)) for p in POINTS)
    assert sorted((p.value, p.timestamp) for p in read) == expected
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(render_dashboard.RenderError, match="not a metrics snapshot"):
        render_dashboard.read_snapshot(tmp_path / "bad.json")


def test_the_committed_picture_is_what_the_recorded_metrics_draw(tmp_path: Path) -> None:
    """Regenerate with ``python -m scripts.observability_stacks`` when the dashboard changes."""
    points = render_dashboard.read_snapshot(render_dashboard.DEFAULT_SNAPSHOT)
    out = render_dashboard.render_points(points, tmp_path / "dashboard.png")
    with Image.open(out) as fresh, Image.open(render_dashboard.DEFAULT_OUT) as committed:
        assert fresh.size == committed.size
        assert ImageChops.difference(fresh.convert("RGB"), committed.convert("RGB")).getbbox() is None


def test_the_recorded_metrics_cover_every_handler_metric_of_both_use_cases() -> None:
    points = render_dashboard.read_snapshot(render_dashboard.DEFAULT_SNAPSHOT)
    body = render_dashboard.dashboard_body()
    data = render_dashboard.dashboard_data(body, SnapshotSource(points), render_dashboard.window_for(points))
    use_cases = {dict(p.dimensions)["UseCase"] for p in points}
    # UC9 and UC11 recorded the snapshot; a use case built since joins it when the snapshot is refreshed.
    assert {"autonomous-driving", "retail-catalog"} <= use_cases
    assert use_cases <= {uc.name for uc in catalog.USE_CASES if uc.number and uc.exists}
    empty = [body["widgets"][i]["properties"]["title"] for i, lines in data.items() if not lines]
    assert empty == []
