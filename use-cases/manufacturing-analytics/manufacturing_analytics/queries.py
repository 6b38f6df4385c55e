"""UC3's Athena queries: defect rate per line and shift, anomaly counts per machine per day.

Each query reads only the ``dt`` partitions of the report window (partition projection prunes the
rest, so Athena bills the window, not the history). The SQL is plain Trino that DuckDB runs the
same way on the embedded cloud: no ``concat(``, integer counts cast to double before dividing.
``tests/manufacturing_analytics/test_queries_localcloud.py`` runs each one on known records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from manufacturing_analytics.datasets import INSPECTIONS, SENSOR_ANOMALIES, SENSOR_READINGS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """The report window: ``days`` UTC dates ending with ``last`` (both ends included)."""

    last: date
    days: int

    @property
    def first(self) -> date:
        return self.last - timedelta(days=self.days - 1)

    def where(self) -> str:
        return f"dt BETWEEN '{self.first.isoformat()}' AND '{self.last.isoformat()}'"

    def to_dict(self) -> dict[str, str | int]:
        return {"first": self.first.isoformat(), "last": self.last.isoformat(), "days": self.days}


def defect_rate_by_line_and_shift(window: Window) -> str:
    defects = "sum(CASE WHEN defect THEN 1 ELSE 0 END)"
    return (
        "SELECT coalesce(line, 'unknown') AS line, coalesce(shift, 'unknown') AS shift, "
        f"count(*) AS images, {defects} AS defects, "
        f"round(100 * CAST({defects} AS double) / count(*), 2) AS defect_rate_pct "
        f"FROM {INSPECTIONS.name} WHERE {window.where()} "
        "GROUP BY coalesce(line, 'unknown'), coalesce(shift, 'unknown') ORDER BY line, shift"
    )


def anomalies_by_machine_and_day(window: Window) -> str:
    return (
        "SELECT machine, dt AS day, count(*) AS anomalies, count(DISTINCT metric) AS metrics, "
        "round(max(abs(score)), 2) AS max_abs_score "
        f"FROM {SENSOR_ANOMALIES.name} WHERE {window.where()} "
        "GROUP BY machine, dt ORDER BY machine, day"
    )


def readings_by_machine(window: Window) -> str:
    return (
        "SELECT machine, count(*) AS readings, count(DISTINCT metric) AS metrics "
        f"FROM {SENSOR_READINGS.name} WHERE {window.where()} GROUP BY machine ORDER BY machine"
    )


QUERIES = {
    "defect_rate_by_line_and_shift": defect_rate_by_line_and_shift,
    "anomalies_by_machine_and_day": anomalies_by_machine_and_day,
    "readings_by_machine": readings_by_machine,
}
