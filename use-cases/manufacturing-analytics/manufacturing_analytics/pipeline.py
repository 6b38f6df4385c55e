"""UC3's per-file steps: one sensor log or one inspection image into its datasets and its result document.

Both steps read the file through the access point, write the file version's records with the
shared dataset writer (objects named after the version, so a second pass replaces instead of
doubling), and write the skeleton's result document. A file that cannot be used (no header, no
timestamp column, not an image) is a FAILED result with the typed error's reason; access and
service faults raise, so the state's Retry and then its Catch (``record_failure``) deal with them.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from manufacturing_analytics import datasets, inspection, sensors
from shared.analytics import DatasetWriter
from shared.config import CommonConfig, env
from shared.errors import FAILED, SUCCEEDED, PatternError
from shared.observability import stats, xray_subsegment
from shared.polling import aws
from shared.polling.errors import FileRejectedError
from shared.polling.keys import output_key
from shared.polling.results import result_document, write_result
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

SENSOR = "sensor"
IMAGE = "image"
SENSOR_SUFFIXES = (".csv",)
SUFFIXES = SENSOR_SUFFIXES + inspection.IMAGE_SUFFIXES
_IMAGE_ERRORS = frozenset(
    {"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException"}
)


def kind_of(key: str) -> str | None:
    lower = key.lower()
    if lower.endswith(SENSOR_SUFFIXES):
        return SENSOR
    if lower.endswith(inspection.IMAGE_SUFFIXES):
        return IMAGE
    return None


def _range_rows(raw: str) -> tuple[tuple[str, float, float], ...]:
    """``MEASUREMENT_RANGES`` as hashable rows (a dataclass default cannot be a dict)."""
    return tuple((name, low, high) for name, (low, high) in sensors.parse_ranges(raw).items())


@dataclasses.dataclass(frozen=True, kw_only=True)
class StepConfig(CommonConfig):
    """The per-file steps' settings (template parameters, one environment for every function)."""

    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    time_zone_name: str = env("SENSOR_TIME_ZONE", "UTC")
    ranges: tuple[tuple[str, float, float], ...] = env(
        "MEASUREMENT_RANGES", _range_rows(sensors.DEFAULT_RANGES), parse=_range_rows
    )
    anomaly_threshold: float = env("ANOMALY_THRESHOLD", sensors.DEFAULT_THRESHOLD)
    anomaly_min_samples: int = env("ANOMALY_MIN_SAMPLES", sensors.DEFAULT_MIN_SAMPLES)
    max_csv_mib: int = env("MAX_CSV_MIB", 256)
    defect_labels: str = env("DEFECT_LABELS", inspection.DEFAULT_RULES)
    label_min_confidence: float = env("LABEL_MIN_CONFIDENCE", 50.0)
    max_labels: int = env("MAX_LABELS", 25)
    shifts: tuple[tuple[int, str], ...] = env(
        "SHIFTS", inspection.parse_shifts(inspection.DEFAULT_SHIFTS), parse=inspection.parse_shifts
    )
    max_image_mib: int = env("MAX_IMAGE_MIB", 50)

    def __post_init__(self) -> None:
        # Parsed at load, so a bad zone or rule fails the cold start with a ConfigError naming it.
        _ = self.time_zone, self.defect_rules

    @functools.cached_property
    def time_zone(self) -> tzinfo:
        return sensors.parse_zone(self.time_zone_name)

    @functools.cached_property
    def defect_rules(self) -> inspection.DefectRules:
        return inspection.DefectRules.parse(self.defect_labels)

    @property
    def sensor_settings(self) -> sensors.SensorSettings:
        return sensors.SensorSettings(
            zone=self.time_zone,
            ranges={name: (low, high) for name, low, high in self.ranges},
            threshold=self.anomaly_threshold,
            min_samples=self.anomaly_min_samples,
        )


def _document(
    event: Mapping[str, Any], kind: str, status: str, source: str, **sections: Any
) -> dict[str, Any]:
    reason = sections.pop("reason", None)
    error = sections.pop("error", None)
    return result_document(
        key=str(event["key"]),
        etag=str(event.get("etag", "")),
        status=status,
        source=source,
        reason=reason,
        error=error,
        sections={"kind": kind, "run_id": str(event["run_id"]), "size": int(event["size"]), **sections},
    )


def _summary(body: Mapping[str, Any]) -> dict[str, Any]:
    out = {"key": body["source"]["key"], "status": body["status"], "output_key": body["output_key"]}
    for name in ("reason", "error"):
        if name in body:
            out[name] = body[name]
    return out


def _finish(output: S3AccessPoint, body: dict[str, Any], size: int) -> dict[str, Any]:
    if body["status"] == FAILED:
        stats().failed()
    else:
        stats().processed(files=1, bytes_=size)
    write_result(output, body)
    return _summary(body)


def process_sensor_log(
    source: S3AccessPoint, output: S3AccessPoint, event: Mapping[str, Any], cfg: StepConfig, *, s3: Any
) -> dict[str, Any]:
    key, etag, run_id = str(event["key"]), str(event.get("etag", "")), str(event["run_id"])
    data = source.get_bytes(key, max_bytes=cfg.max_csv_mib * 1024 * 1024)
    settings = cfg.sensor_settings
    try:
        with xray_subsegment("read_sensor_log", {"key": key}):
            log = sensors.read_sensor_log(data, key, settings)
    except PatternError as error:
        body = _document(
            event,
            SENSOR,
            FAILED,
            source.target,
            reason=f"unusable sensor log: {error.reason}",
            error=type(error).__name__,
        )
        return _finish(output, body, len(data))
    writer = DatasetWriter(output.target, root=datasets.ROOT, run_id=datasets.writer_id(key, etag), client=s3)
    name = sensors.METHOD
    with writer:
        for r in log.readings:
            writer.write(
                datasets.SENSOR_READINGS,
                {
                    "machine": r.machine,
                    "line": r.line,
                    "ts": r.ts,
                    "metric": r.metric,
                    "value": r.value,
                    "source_key": key,
                    "source_line": r.source_line,
                    "run_id": run_id,
                },
                dt=r.ts,
            )
        for a in log.anomalies:
            r = a.reading
            writer.write(
                datasets.SENSOR_ANOMALIES,
                {
                    "machine": r.machine,
                    "line": r.line,
                    "ts": r.ts,
                    "metric": r.metric,
                    "value": r.value,
                    "median": a.median,
                    "scale": a.scale,
                    "score": a.score,
                    "threshold": settings.threshold,
                    "method": name,
                    "source_key": key,
                    "source_line": r.source_line,
                    "run_id": run_id,
                },
                dt=r.ts,
            )
    body = _document(
        event,
        SENSOR,
        SUCCEEDED,
        source.target,
        sensor=log.summary(settings),
        dataset=writer.summary.to_dict(),
    )
    return _finish(output, body, len(data))


def label_image(rekognition: Any, image: bytes, cfg: StepConfig) -> list[dict[str, Any]]:
    with xray_subsegment("detect_labels", {"bytes": len(image)}):
        # Bytes, never S3Object: Rekognition cannot read through the FSx for ONTAP access point.
        response = aws.call(
            "rekognition",
            "DetectLabels",
            rekognition.detect_labels,
            per_item_codes=_IMAGE_ERRORS,
            Image={"Bytes": image},
            MaxLabels=cfg.max_labels,
            MinConfidence=cfg.label_min_confidence,
        )
    return list(response.get("Labels", []))


def process_image(
    source: S3AccessPoint,
    output: S3AccessPoint,
    rekognition: Any,
    event: Mapping[str, Any],
    cfg: StepConfig,
    *,
    s3: Any,
) -> dict[str, Any]:
    key, etag, run_id = str(event["key"]), str(event.get("etag", "")), str(event["run_id"])
    data = source.get_bytes(key, max_bytes=cfg.max_image_mib * 1024 * 1024)
    try:
        with xray_subsegment("fit_image", {"key": key}):
            sent, image_info = inspection.fit_for_rekognition(data)
        labels = label_image(rekognition, sent, cfg)
    except (inspection.ImageError, FileRejectedError) as error:
        body = _document(
            event,
            IMAGE,
            FAILED,
            source.target,
            reason=f"image not inspected: {error.reason}",
            error=type(error).__name__,
        )
        return _finish(output, body, len(data))
    decision = cfg.defect_rules.decide(labels)
    moment, moment_source = inspection.capture_time(key, cfg.time_zone, str(event.get("last_modified", "")))
    line = sensors.line_from_key(key)
    shift = inspection.shift_of(moment, cfg.time_zone, cfg.shifts)
    named = ",".join(f"{label['Name']}:{float(label.get('Confidence', 0)):.1f}" for label in labels)
    writer = DatasetWriter(output.target, root=datasets.ROOT, run_id=datasets.writer_id(key, etag), client=s3)
    with writer:
        writer.write(
            datasets.INSPECTIONS,
            {
                "image_key": key,
                "line": line,
                "shift": shift,
                "inspected_at": moment,
                "defect": decision["defect"],
                "defect_label": decision["label"],
                "defect_confidence": decision["confidence"],
                "labels": named,
                "resized": image_info["resized"],
                "image_bytes": len(data),
                "run_id": run_id,
            },
            dt=moment,
        )
    body = _document(
        event,
        IMAGE,
        SUCCEEDED,
        source.target,
        inspection={
            "line": line,
            "shift": shift,
            "captured_at": moment.isoformat(),
            "captured_at_from": moment_source,
            "image": image_info,
            "decision": decision,
            "rules": cfg.defect_rules.thresholds,
            "labels": [
                {"name": lb["Name"], "confidence": round(float(lb.get("Confidence", 0)), 2)} for lb in labels
            ],
        },
        dataset=writer.summary.to_dict(),
    )
    return _finish(output, body, len(data))


def result_key(event: Mapping[str, Any]) -> str:
    return output_key(str(event["key"]), str(event.get("etag", "")))
