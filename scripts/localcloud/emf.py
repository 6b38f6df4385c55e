"""Embedded Metric Format: turn EMF lines in function logs into CloudWatch metrics.

On AWS, CloudWatch Logs extracts metrics from any log event that is an EMF JSON document. moto
stores the lines but extracts nothing, so a dashboard query has nothing to show. This adapter
listens to the Lambda runtime's log lines and, for every EMF document, calls PutMetricData once per
metric value and per dimension set, with the namespace, unit and timestamp of the document, so
``GetMetricData``/``GetMetricStatistics`` with the dashboard's dimensions answer locally.

It follows the EMF specification: ``_aws.CloudWatchMetrics[]`` directives name the namespace, the
dimension sets (lists of root keys) and the metrics (root keys holding a number or a list of up to
100 numbers). A line that is not an EMF document is ignored, like on AWS; a document that breaks
the specification is counted as rejected and logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from typing import Any

from scripts.render_dashboard import Point

logger = logging.getLogger(__name__)

MAX_DATA_PER_CALL = 1000


class EmfExtractor:
    """Receives log lines (``listener(function_name, lines)``) and puts the metrics they carry."""

    def __init__(self, session: Any, region: str) -> None:
        self.cloudwatch = session.client("cloudwatch", region_name=region)
        self.emitted: Counter[tuple[str, str]] = Counter()
        # Every value put, as the dashboard renderer reads them (moto computes no percentiles).
        self.points: list[Point] = []
        self.rejected = 0
        self.documents = 0

    def __call__(self, function_name: str, lines: list[str]) -> None:
        data: dict[str, list[dict[str, Any]]] = {}
        for line in lines:
            text = line.strip()
            if not text.startswith("{") or '"_aws"' not in text:
                continue
            try:
                document = json.loads(text)
                for namespace, datum in self.parse(document):
                    data.setdefault(namespace, []).append(datum)
                self.documents += 1
            except (ValueError, KeyError, TypeError) as error:
                self.rejected += 1
                logger.warning("%s: invalid EMF document dropped: %s", function_name, error)
        for namespace, items in data.items():
            for start in range(0, len(items), MAX_DATA_PER_CALL):
                self.cloudwatch.put_metric_data(
                    Namespace=namespace, MetricData=items[start : start + MAX_DATA_PER_CALL]
                )
            for item in items:
                self.emitted[(namespace, item["MetricName"])] += 1
                self.points.append(_point(namespace, item))

    @staticmethod
    def parse(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The PutMetricData items one EMF document stands for, with their namespaces."""
        meta = document["_aws"]
        stamp = dt.datetime.fromtimestamp(int(meta["Timestamp"]) / 1000, dt.UTC)
        out = []
        for directive in meta["CloudWatchMetrics"]:
            namespace = str(directive["Namespace"])
            dimension_sets = directive.get("Dimensions") or [[]]
            for metric in directive["Metrics"]:
                name = str(metric["Name"])
                raw = document[name]
                values = raw if isinstance(raw, list) else [raw]
                if len(values) > 100:
                    raise ValueError(f"metric {name} has {len(values)} values (at most 100)")
                for dimension_set in dimension_sets:
                    dimensions = [{"Name": key, "Value": str(document[key])} for key in dimension_set]
                    for value in values:
                        datum: dict[str, Any] = {
                            "MetricName": name,
                            "Dimensions": dimensions,
                            "Value": float(value),
                            "Timestamp": stamp,
                        }
                        if metric.get("Unit"):
                            datum["Unit"] = metric["Unit"]
                        out.append((namespace, datum))
        return out

    @property
    def total(self) -> int:
        return sum(self.emitted.values())


def _point(namespace: str, datum: dict[str, Any]) -> Point:
    dims = tuple(sorted((d["Name"], d["Value"]) for d in datum["Dimensions"]))
    stamp = float(datum["Timestamp"].timestamp())
    return Point(
        namespace, datum["MetricName"], dims, stamp, float(datum["Value"]), str(datum.get("Unit", "None"))
    )
