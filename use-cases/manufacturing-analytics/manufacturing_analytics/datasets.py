"""UC3's record types, declared once: what the functions write and what the template's Glue tables say.

Three datasets under ``s3://<output bucket>/datasets/``, each its own prefix and Glue table, each
partitioned by the UTC date of its measurement (``dt``, projected, never registered):

* ``sensor_readings`` (``sensor/readings/``): one row per valid measurement of a sensor log row;
* ``sensor_anomalies`` (``sensor/anomalies/``): the readings the robust method flags, with its
  median, scale, score, threshold and method name;
* ``inspections`` (``inspection/results/``): one row per inspection image with its line, shift,
  defect decision and labels.

A file version's records go to objects named after the version (:func:`writer_id`), so processing
the same version again (a retry, or a run after one that died before the result was written)
replaces its records instead of counting them twice. ``tests/manufacturing_analytics`` assert that
the template's tables equal :func:`shared.analytics.glue_table_input` of these schemas.
"""

from __future__ import annotations

import hashlib
import logging

from shared.analytics import Column, RecordSchema

logger = logging.getLogger(__name__)

ROOT = "datasets"
FIRST_DATE = "2026-01-01"

SENSOR_READINGS = RecordSchema(
    "sensor_readings",
    (
        Column("machine", "string", nullable=False),
        Column("line", "string"),
        Column("ts", "timestamp", nullable=False, comment="UTC"),
        Column("metric", "string", nullable=False),
        Column("value", "double"),
        Column("source_key", "string", nullable=False),
        Column("source_line", "bigint"),
        Column("run_id", "string"),
    ),
    prefix="sensor/readings",
    description="UC3: one valid measurement of a sensor log row",
    first_date=FIRST_DATE,
)

SENSOR_ANOMALIES = RecordSchema(
    "sensor_anomalies",
    (
        Column("machine", "string", nullable=False),
        Column("line", "string"),
        Column("ts", "timestamp", nullable=False, comment="UTC"),
        Column("metric", "string", nullable=False),
        Column("value", "double"),
        Column("median", "double"),
        Column("scale", "double", comment="MAD / 0.6745, or the mean-AD fallback"),
        Column("score", "double"),
        Column("threshold", "double"),
        Column("method", "string"),
        Column("source_key", "string", nullable=False),
        Column("source_line", "bigint"),
        Column("run_id", "string"),
    ),
    prefix="sensor/anomalies",
    description="UC3: a reading flagged by the modified z-score (median/MAD)",
    first_date=FIRST_DATE,
)

INSPECTIONS = RecordSchema(
    "inspections",
    (
        Column("image_key", "string", nullable=False),
        Column("line", "string"),
        Column("shift", "string"),
        Column("inspected_at", "timestamp", nullable=False, comment="UTC capture time"),
        Column("defect", "boolean", nullable=False),
        Column("defect_label", "string"),
        Column("defect_confidence", "double"),
        Column("labels", "string", comment="every label returned, name:confidence, comma-separated"),
        Column("resized", "boolean"),
        Column("image_bytes", "bigint"),
        Column("run_id", "string"),
    ),
    prefix="inspection/results",
    description="UC3: one inspection image and its defect decision",
    first_date=FIRST_DATE,
)

SCHEMAS = (SENSOR_READINGS, SENSOR_ANOMALIES, INSPECTIONS)
TABLES = {
    "SensorReadingsTable": SENSOR_READINGS,
    "SensorAnomaliesTable": SENSOR_ANOMALIES,
    "InspectionsTable": INSPECTIONS,
}


def writer_id(key: str, etag: str) -> str:
    """The object-name stem of one file version's records: stable across retries and runs."""
    return hashlib.sha256(f"{key}\n{etag}".encode()).hexdigest()[:24]
