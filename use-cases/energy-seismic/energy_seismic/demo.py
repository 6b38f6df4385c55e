"""UC8 energy-seismic on the embedded local cloud: SEG-Y surveys and LAS well logs of one delivery.

The seeded delivery has every variant the readers claim and the broken files a real delivery
brings: SEG-Y in EBCDIC and ASCII, IBM float, IEEE float and 16-bit integers, rev 1 and rev 2 with
an extended Location Data stanza, one survey whose traces-per-ensemble field (48) is not its trace
count, one larger survey for the bytes-read figure, and a survey that declares no coordinate
reference; LAS logs plain and wrapped, one with no CRS and empty headers; and broken files: a
truncated survey, a survey with an obsolete sample format, a file that is not SEG-Y at all, a
truncated log and a text file that is not a LAS log.

Three runs: the first inspects every file (one result document per version), writes the dataset
tables, runs the Athena summaries and the Bedrock report; the second finds every version done;
the third is started while another is still at its files and exits at once.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

from shared.formats.samples import segy as segy_samples
from shared.formats.samples import welllog as las_samples

logger = logging.getLogger(__name__)

NO_CRS_TEXT = (
    "C 1 CLIENT DEMO ENERGY   2D LINE 07 REPROCESSED",
    "C 2 LINE 2D-07  AREA SOUTH",
    "C 3 SAMPLE INTERVAL 2 MS",
    "C40 END TEXTUAL HEADER",
)


@dataclass(frozen=True)
class Sample:
    """One file written to the volume, and what the pipeline should make of it."""

    key: str
    kind: str  # "segy" or "las"
    expect: str  # "compliant", "non_compliant" or "FAILED"
    note: str


PLAN = (
    Sample("surveys/north-block/3d-demo-01.sgy", "segy", "compliant", "EBCDIC, IBM float, rev 1"),
    Sample(
        "surveys/north-block/3d-demo-02.sgy", "segy", "compliant", "ASCII, IEEE float, rev 2 + Location Data"
    ),
    Sample(
        "surveys/north-block/3d-demo-03-large.sgy", "segy", "compliant", "larger survey, 48 traces/ensemble"
    ),
    Sample(
        "surveys/south/2d-line-07.segy", "segy", "non_compliant", "int16 samples, no coordinate reference"
    ),
    Sample("surveys/south/2d-line-08-truncated.sgy", "segy", "FAILED", "cut mid-trace"),
    Sample("surveys/south/2d-line-09-format4.sgy", "segy", "FAILED", "obsolete sample format code 4"),
    Sample("surveys/south/not-a-survey.sgy", "segy", "FAILED", "binary noise, not SEG-Y"),
    Sample("wells/DEMO-1/DEMO-1_main.las", "las", "compliant", "LAS 2.0, nulls and two spikes"),
    Sample("wells/DEMO-2/DEMO-2_wrapped.las", "las", "compliant", "wrapped LAS 2.0"),
    Sample("wells/DEMO-3/DEMO-3_legacy.las", "las", "non_compliant", "no CRS, empty company/field/UWI"),
    Sample("wells/DEMO-4/DEMO-4_truncated.las", "las", "FAILED", "cut in the ~A section"),
    Sample("wells/DEMO-5/DEMO-5_notes.las", "las", "FAILED", "a text file, not a LAS log"),
)


def parameters(access_point: Any) -> dict[str, str]:
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "MaxFilesPerRun": "100",
        "SegySampledTraces": "16",
    }


def plan(files: int) -> list[Sample]:
    """The fixed delivery (every variant once), plus extra plain surveys and logs up to ``files``."""
    samples = list(PLAN)
    for index in range(max(0, files - len(PLAN))):
        if index % 2:
            samples.append(
                Sample(f"wells/EXTRA-{index:03d}/EXTRA-{index:03d}.las", "las", "compliant", "extra")
            )
        else:
            samples.append(Sample(f"surveys/extra/3d-extra-{index:03d}.sgy", "segy", "compliant", "extra"))
    return samples


def _segy(**kwargs: Any) -> bytes:
    out = io.BytesIO()
    segy_samples.write_segy(out, **kwargs)
    return out.getvalue()


def body(sample: Sample, index: int) -> bytes:
    """The bytes of one planned file."""
    name = sample.key.rsplit("/", 1)[-1]
    if name == "3d-demo-01.sgy" or (sample.note == "extra" and sample.kind == "segy"):
        return _segy(format_code=1, encoding="ebcdic", seed=index)
    if name == "3d-demo-02.sgy":
        stanza = "((SEG: Location Data ver 1.0)) Datum: WGS 84; Projection: UTM zone 31N; EPSG:32631"
        return _segy(format_code=5, encoding="ascii", revision=(2, 0), extended=(stanza,), seed=index)
    if name == "3d-demo-03-large.sgy":
        return _segy(
            inlines=range(1000, 1040), crosslines=range(2000, 2040), samples=500, format_code=5,
            traces_per_ensemble=48, seed=index,
        )  # fmt: skip
    if name == "2d-line-07.segy":
        return _segy(
            inlines=range(7, 8), crosslines=range(1, 61), format_code=3, text=NO_CRS_TEXT, seed=index
        )
    if name == "2d-line-08-truncated.sgy":
        data = _segy(inlines=range(8, 9), crosslines=range(1, 41), format_code=1, seed=index)
        return data[: len(data) - 700]
    if name == "2d-line-09-format4.sgy":
        raw = bytearray(_segy(inlines=range(9, 10), crosslines=range(1, 11), format_code=2, seed=index))
        raw[3224:3226] = (4).to_bytes(2, "big")
        return bytes(raw)
    if name == "not-a-survey.sgy":
        import numpy as np

        return np.random.default_rng(index).integers(0, 256, 8000, dtype=np.uint8).tobytes()
    if name == "DEMO-2_wrapped.las":
        return las_samples.write_las(well="DEMO-2", wrap=True, seed=index).encode()
    if name == "DEMO-3_legacy.las":
        return las_samples.write_las(well="DEMO-3", crs=False, headers=False, seed=index).encode()
    if name == "DEMO-4_truncated.las":
        text = las_samples.write_las(well="DEMO-4", seed=index)
        return text[: len(text) - 37].encode()
    if name == "DEMO-5_notes.las":
        return b"Field notes, well DEMO-5\nLogging postponed to next week; no data yet.\n"
    well = name.split("_")[0].removesuffix(".las")
    return las_samples.write_las(well=well, seed=index).encode()


def seed(cloud: Any, access_point: Any, files: int) -> int:
    s3 = cloud.client("s3")
    samples = plan(files)
    for index, sample in enumerate(samples):
        s3.put_object(Bucket=access_point.arn, Key=sample.key, Body=body(sample, index))
    return len(samples)


def results(cloud: Any, bucket: str) -> list[dict[str, Any]]:
    """Every result document in the output bucket."""
    documents: list[dict[str, Any]] = []
    for page in (
        cloud.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="results/")
    ):
        documents.extend(cloud.read_json(bucket, obj["Key"]) for obj in page.get("Contents", []))
    return documents


def _survey_line(document: dict[str, Any]) -> str:
    survey = document["survey"]
    binary = survey["binary"]
    io_ = document["io"]
    share = io_["bytes_fetched"] / max(1, survey["file_size"])
    return (
        f"{document['source']['key']}: {survey['trace_count']} traces x {binary['samples_per_trace']} "
        f"samples @ {binary['sample_interval_us'] / 1000:g} ms, {binary['format_name']}, "
        f"{survey['textual_encoding']}, IL {survey['inline_range']} XL {survey['crossline_range']}, "
        f"RMS {survey['amplitudes']['rms']:.3g}; read {io_['bytes_fetched']} of {survey['file_size']} "
        f"bytes ({share:.1%}); {document['compliance']['verdict']}"
    )


def _log_line(document: dict[str, Any]) -> str:
    log = document["well_log"]
    anomalies = {c["mnemonic"]: c["anomalies"] for c in log["curves"] if c["anomalies"]}
    nulls = sum(c["nulls"] for c in log["curves"])
    return (
        f"{document['source']['key']}: well {log['well'].get('WELL', '?')}, {log['rows']} depths "
        f"{log['first_depth']}-{log['last_depth']} {log['index_unit']}, {len(log['curves'])} curves, "
        f"{'wrapped, ' if log['wrapped'] else ''}{nulls} null samples, anomalies {anomalies}; "
        f"{document['compliance']['verdict']}"
    )


def _overlapping_runs(cloud: Any, stack: Any, access_point: Any) -> bool:
    """Hold a run at its first per-file step, start another, and check that the second did nothing."""
    import threading

    cloud.client("s3").put_object(
        Bucket=access_point.arn,
        Key="wells/LATE-1/LATE-1.las",
        Body=las_samples.write_las(well="LATE-1").encode(),
    )
    entered, release = threading.Event(), threading.Event()
    target, run = stack.physical_ids["InspectFunction"], cloud.runtime.run

    def held(function: Any, event: Any = None) -> Any:
        if function.function_name == target and not release.is_set():
            entered.set()
            release.wait(120)
        return run(function, event)

    cloud.runtime.run = held
    try:
        first = cloud.start_execution("StateMachine", {})
        if not entered.wait(60):
            return False
        second = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
    finally:
        release.set()
        cloud.runtime.run = run
    return bool(
        cloud.stepfunctions.wait(first).succeeded
        and second.succeeded
        and second.states_entered().get("AnotherRunInFlight") == 1
    )


def _lines(items: list[str]) -> str:
    """A list shown one item per line under its label in the demo's summary."""
    return "".join(f"\n      {item}" for item in items) if items else "none"


def drive(cloud: Any, stack: Any, access_point: Any, summary: Any, step: Any) -> None:
    bucket = stack.outputs.get("OutputBucketName") or stack.physical_ids.get("OutputBucket", "")
    with step("tick the pipeline schedule and wait for the execution"):
        firings = cloud.tick("PipelineSchedule")
        executions = cloud.wait_for_executions(timeout_seconds=300)
        result = executions[0] if executions else None
        ok = bool(firings) and all(f.ok for f in firings) and result is not None and result.succeeded
        detail = f"{result.status} {result.error or ''}".strip() if result else "no execution started"
        summary.flow("pipeline state machine", ok, detail)
    if result is None or not isinstance(result.output, dict):
        return
    summary.items_per_state = dict(result.states_entered())
    output = result.output
    summary.files_detected = int(output.get("files", 0))
    documents = results(cloud, bucket)
    by_key = {d["source"]["key"]: d for d in documents}
    with step("read the result documents: surveys, well logs, failures"):
        summary.extra["surveys"] = _lines([_survey_line(d) for d in documents if d.get("survey")])
        summary.extra["well logs"] = _lines([_log_line(d) for d in documents if d.get("well_log")])
        summary.extra["failed files"] = _lines(
            [
                f"{d['source']['key']}: {d.get('error')}: {d.get('reason')}"
                for d in documents
                if d["status"] == "FAILED"
            ]
        )
        outcome = {}
        for sample in plan(summary.files_seeded):
            document = by_key.get(sample.key, {})
            got = (
                "FAILED"
                if document.get("status") == "FAILED"
                else (document.get("compliance") or {}).get("verdict")
            )
            outcome[sample.key] = got
        wrong = {
            k: v
            for k, v in outcome.items()
            if v != next(s.expect for s in plan(summary.files_seeded) if s.key == k)
        }
        summary.flow(
            "every file got the outcome its variant calls for", not wrong, str(wrong) if wrong else ""
        )
    with step("check the bytes read from the largest survey"):
        large = by_key.get("surveys/north-block/3d-demo-03-large.sgy", {})
        fetched = (large.get("io") or {}).get("bytes_fetched", 0)
        size = (large.get("survey") or {}).get("file_size", 0)
        share = fetched / size if size else 1.0
        summary.extra["bytes read, largest survey"] = f"{fetched} of {size} ({share:.1%})"
        traces = (large.get("survey") or {}).get("trace_count")
        summary.flow(
            "SEG-Y read through ranged GETs, a small fraction of the file",
            share < 0.1 and traces == 1600,
            f"{share:.1%} of {size} bytes, {traces} traces (traces-per-ensemble field says 48)",
        )
    with step("read the run report (datasets, Athena summaries, Bedrock narrative)"):
        report = cloud.read_json(bucket, f"reports/{result.name}/report.json")
        tables = report.get("tables") or {}
        summary.extra["findings by rule"] = _lines(
            [
                f"{r['rule']} ({r['severity']}): {r['files']} file(s)"
                for r in tables.get("findings_by_rule", [])
            ]
        )
        summary.extra["athena bytes scanned"] = output.get("athena_bytes_scanned")
        summary.extra["dataset records"] = (output.get("datasets") or {}).get("records")
        summary.flow(
            "athena summaries over the dataset tables",
            bool(tables.get("files_by_kind_and_status")) and bool(tables.get("surveys")),
            f"{len(tables)} tables",
        )
        narrative = output.get("narrative") or {}
        summary.extra["report"] = output.get("report_uri")
        summary.flow(
            "bedrock run report", narrative.get("status") == "SUCCEEDED", str(narrative.get("title", ""))
        )
    with step("run again: every file version has its result, so nothing is inspected"):
        again = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        idle = again.succeeded and again.states_entered().get("NothingToDo") == 1
        summary.flow("a second run finds nothing new", idle, again.status)
    with step("start a run while another is still at its files: the second exits at once"):
        summary.flow("a run started during another exits", _overlapping_runs(cloud, stack, access_point))
    summary.extra["runs"] = 4
    keys: list[str] = []
    for prefix in ("results/", "reports/", "datasets/"):
        for page in (
            cloud.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        ):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
    summary.output_keys = sorted(keys)
