"""The dashboard picture is drawn from the template's own JSON body, laid out as CloudWatch does."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from scripts import render_dashboard
from scripts.render_dashboard import CAPTION_H, CELL_H, CELL_W, COLUMNS, MARGIN, layout


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


def test_the_committed_dashboard_renders_every_widget(tmp_path: Path) -> None:
    body = render_dashboard.dashboard_body(render_dashboard.DEFAULT_TEMPLATE)
    placed = layout(body["widgets"])
    assert all(p.x >= 0 and p.x + p.width <= COLUMNS for p in placed)
    out = render_dashboard.render(body, tmp_path / "dashboard.png")
    rows = max(p.y + p.height for p in placed)
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.size == (MARGIN * 2 + COLUMNS * CELL_W, MARGIN * 2 + rows * CELL_H + CAPTION_H)


def test_the_committed_picture_has_the_layout_of_the_committed_template() -> None:
    """Regenerate with ``python -m scripts.observability_stacks`` when the dashboard changes."""
    body = render_dashboard.dashboard_body(render_dashboard.DEFAULT_TEMPLATE)
    rows = max(p.y + p.height for p in layout(body["widgets"]))
    with Image.open(render_dashboard.DEFAULT_OUT) as image:
        assert image.size[1] == MARGIN * 2 + rows * CELL_H + CAPTION_H
