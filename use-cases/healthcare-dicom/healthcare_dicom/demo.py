"""UC5 healthcare-dicom on the embedded local cloud: headers, PHI and de-identified copies of two studies.

The seeded volume holds a CT study (two series of three instances) and an MR study (two series of
two), each series numbering its files ``IM0001.dcm`` onwards, with fictitious PHI in the patient,
study and free-text attributes and a private block; one instance declares burned-in annotation.
Broken files come with them: a file without the 128-byte preamble (refused: the stack runs
strict), a truncated instance and one with bad magic.

Runs: the first reads every header through ranged GETs, lists the PHI, sends the free text to the
local Comprehend Medical stand-in and writes the de-identified copies; the demo then opens the
copies and checks that no PHI value is left and that UIDs were remapped consistently within each
study; a second run finds nothing new.
"""

from __future__ import annotations

import io
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from shared.formats.samples import dicom as samples

logger = logging.getLogger(__name__)

ROWS = COLUMNS = 512
PATIENTS = (("Doe^Jane", "MRN-000123", "CT", 2, 3), ("Roe^Richard", "MRN-000456", "MR", 2, 2))
PHI_VALUES = (
    "Doe^Jane",
    "MRN-000123",
    "Roe^Richard",
    "MRN-000456",
    "General Hospital",
    "Smith^John",
    "555-123-4567",
)


@dataclass(frozen=True)
class Sample:
    key: str
    instance: samples.Instance
    expect: str  # "SUCCEEDED" or the error type
    defect: str = ""


def parameters(access_point: Any) -> dict[str, str]:
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "MaxFilesPerRun": "100",
    }


def plan(files: int) -> list[Sample]:
    """Two studies (ten instances), then the broken files; ``files`` is not used beyond that."""
    out: list[Sample] = []
    for p, (name, mrn, modality, series, per_series) in enumerate(PATIENTS, start=1):
        for inst in samples.study(name, mrn, series=series, per_series=per_series, modality=modality):
            inst = samples.Instance(
                **{
                    **inst.__dict__,
                    "comments": f"Follow-up 2026-11-30, {mrn.replace('-', ' ')}, call 555-123-4567"
                    if inst.instance_number == 1
                    else "",
                }
            )
            folder = f"studies/PAT-{p:04d}/{modality}-20261130/series-{inst.series_number}"
            key = f"{folder}/IM{inst.instance_number:04d}.dcm"
            defect = "burned_in" if (p, inst.series_number, inst.instance_number) == (2, 2, 2) else ""
            out.append(Sample(key, inst, "SUCCEEDED", defect))
    broken = samples.study("Poe^Edgar", "MRN-000789", series=1, per_series=3, modality="CT")
    out.append(
        Sample("studies/PAT-0003/legacy-export/IM0001.dcm", broken[0], "DicomNoPreambleError", "no_preamble")
    )
    out.append(
        Sample(
            "studies/PAT-0003/CT-20261130/series-1/IM0002.dcm", broken[1], "DicomTruncatedError", "truncated"
        )
    )
    out.append(
        Sample("studies/PAT-0003/CT-20261130/series-1/IM0003.dcm", broken[2], "DicomMagicError", "bad_magic")
    )
    return out


def body(sample: Sample) -> bytes:
    data = samples.write_instance(
        sample.instance,
        rows=ROWS,
        columns=COLUMNS,
        preamble=sample.defect != "no_preamble",
        burned_in=sample.defect == "burned_in",
        referenced_sop=sample.instance.sop_uid if sample.instance.instance_number == 2 else "",
    )
    if sample.defect == "truncated":
        return data[: len(data) // 2]
    if sample.defect == "bad_magic":
        return data[:128] + b"DICX" + data[132:]
    return data


def seed(cloud: Any, access_point: Any, files: int) -> int:
    s3 = cloud.client("s3")
    samples_ = plan(files)
    for sample in samples_:
        s3.put_object(Bucket=access_point.arn, Key=sample.key, Body=body(sample))
    return len(samples_)


def _objects(cloud: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in cloud.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return keys


def _get(cloud: Any, bucket: str, key: str) -> bytes:
    data: bytes = cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def _instance_line(d: dict[str, Any]) -> str:
    header = d["dicom"]
    return (
        f"{d['source']['key']}: {header['modality']} {header['rows']}x{header['columns']} "
        f"{header['bits_allocated']}-bit, {header['transfer_syntax']}, {len(d['phi']['findings'])} PHI "
        f"attributes, free text {d['free_text_phi'].get('phi_attributes', [])}, copy "
        f"{d['deidentified']['status']}; header read {d['io']['bytes_fetched']} of {d['size']} bytes"
    )


def _lines(items: list[str]) -> str:
    return "".join(f"\n      {item}" for item in items) if items else "none"


def check_copies(cloud: Any, bucket: str) -> tuple[bool, dict[str, Any]]:
    """Open every de-identified copy: no PHI value left, one new study UID per source study, refs kept."""
    import pydicom

    copies = [k for k in _objects(cloud, bucket, "deidentified/") if k.endswith(".dcm")]
    leaked = []
    studies: dict[str, set[str]] = defaultdict(set)
    sops: set[str] = set()
    references: list[str] = []
    patients: dict[str, set[str]] = defaultdict(set)
    for key in copies:
        data = _get(cloud, bucket, key)
        if any(value.encode() in data for value in PHI_VALUES):
            leaked.append(key)
        ds = pydicom.dcmread(io.BytesIO(data))
        studies[str(ds.StudyInstanceUID)].add(str(ds.SeriesInstanceUID))
        patients[str(ds.PatientID)].add(str(ds.StudyInstanceUID))
        sops.add(str(ds.SOPInstanceUID))
        if "ReferencedImageSequence" in ds:
            references.append(str(ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID))
    dangling = [r for r in references if r not in sops]
    facts = {
        "copies": len(copies),
        "studies": len(studies),
        "series per study": sorted(len(v) for v in studies.values()),
        "pseudonymous patients": len(patients),
        "references kept": f"{len(references) - len(dangling)} of {len(references)}",
        "copies with a PHI value": len(leaked),
    }
    ok = not leaked and len(studies) == len(PATIENTS) and not dangling and len(patients) == len(PATIENTS)
    return ok, facts


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
    summary.files_detected = int(result.output.get("files", 0))
    run = json.loads(_get(cloud, bucket, f"reports/{result.name}/summary.json"))
    with step("read the result documents (keyed by full key; IM0001.dcm repeats in every series)"):
        documents = [json.loads(_get(cloud, bucket, k)) for k in _objects(cloud, bucket, "results/")]
        by_key = {d["source"]["key"]: d for d in documents}
        wrong = {}
        for sample in plan(summary.files_seeded):
            got = by_key.get(sample.key, {})
            outcome = got.get("status") if got.get("status") == "SUCCEEDED" else got.get("error")
            if outcome != sample.expect:
                wrong[sample.key] = outcome
        summary.flow(
            "every file got the outcome its variant calls for", not wrong, str(wrong) if wrong else ""
        )
        indexed = len(_objects(cloud, bucket, "index/by-sop/"))
        summary.extra["instances"] = _lines(
            [_instance_line(d) for d in documents if d["status"] == "SUCCEEDED"]
        )
        summary.extra["failed files"] = _lines(
            [
                f"{d['source']['key']}: {d.get('error')}: {d.get('reason')}"
                for d in documents
                if d["status"] != "SUCCEEDED"
            ]
        )
        summary.extra["run summary"] = {
            k: run[k] for k in ("studies", "series", "instances_by_modality", "deidentified_copies")
        }
        summary.extra["PHI attributes found"] = run["phi_attributes"]
        summary.extra["free-text PHI entity types"] = run["free_text_phi_entity_types"]
        summary.flow(
            "results keyed by SOP Instance UID too",
            indexed == sum(1 for d in documents if d["status"] == "SUCCEEDED"),
            f"{indexed} index documents",
        )
        summary.flow(
            "free text checked with Comprehend Medical in the region",
            bool(run["free_text_phi_entity_types"]),
            str(run["free_text_phi_entity_types"]),
        )
    with step("check the bytes read for the headers"):
        read = run["header_bytes_read"]
        listed = run["bytes_listed"]
        share = read / listed if listed else 1.0
        summary.extra["header bytes read"] = f"{read} of {listed} ({share:.1%})"
        summary.flow(
            "headers read through ranged GETs, a small fraction of the files", share < 0.1, f"{share:.1%}"
        )
    with step("open the de-identified copies in the output bucket"):
        ok, facts = check_copies(cloud, bucket)
        summary.extra["de-identified copies"] = facts
        summary.flow("no PHI value in the copies, UIDs remapped consistently within each study", ok)
    with step("run again: every file version has its result, so nothing is processed"):
        again = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        idle = again.succeeded and again.states_entered().get("NothingToDo") == 1
        summary.flow("a second run finds nothing new", idle, again.status)
    summary.extra["runs"] = 2
    keys: list[str] = []
    for prefix in ("results/", "deidentified/", "index/", "reports/"):
        keys.extend(_objects(cloud, bucket, prefix))
    summary.output_keys = sorted(keys)
