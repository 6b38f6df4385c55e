"""One DICOM instance of the run: header metadata, PHI findings, free-text PHI, and a de-identified copy.

1. The header is read through a seekable file object (the ranged reader in Lambda) with
   ``stop_before_pixels``: a few kilobytes of a file that may be hundreds of megabytes. A file the
   strict Part 10 checks refuse is a FAILED result naming what is wrong and where.
2. PHI findings: the attributes of the PS3.15 Basic Profile present with a value (tag, keyword,
   action; never the value), and private attributes.
3. Free text (descriptions, comments) goes to Comprehend Medical ``DetectPHI`` when the function's
   region offers it, or, with ``ALLOW_CROSS_REGION=true``, in ``COMPREHEND_MEDICAL_REGION``. The
   finding keeps the entity types, scores and offsets, never the text.
4. The de-identified copy: the whole file is read (within ``MAX_DICOM_MIB``), the profile applied
   with UIDs remapped by a keyed hash of (study, UID) under the stack's secret, and the copy written
   to the output bucket under ``deidentified/<new study>/<new series>/<new SOP>.dcm``, never to the
   source. An image that declares burned-in annotation is not copied (its pixels may show PHI).
5. The result document is keyed by the full key and ETag (the polling skeleton's key: ``IM0001.dcm``
   repeats in every series) and names the SOP Instance UID; a small index document under
   ``index/by-sop/<SOP Instance UID>.json`` points from the UID to it.

Nothing here logs a value of the dataset: log lines carry keys, UIDs are not logged either.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Callable
from typing import Any

from healthcare_dicom.files import SourceFile
from shared.config import CommonConfig, env
from shared.errors import FAILED, SKIPPED, SUCCEEDED
from shared.formats import dicom
from shared.observability import stats, xray_subsegment
from shared.polling.aws import call
from shared.polling.results import result_document, write_result
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

# Regions where Amazon Comprehend Medical is offered (AWS Regional Services list, 2026-12).
COMPREHEND_MEDICAL_REGIONS = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "ca-central-1",
        "eu-west-1",
        "eu-west-2",
        "ap-southeast-2",
        "ap-south-1",
    }
)
DETECT_PHI_MAX_CHARS = 20_000  # DetectPHI's text limit
DEIDENTIFIED_PREFIX = "deidentified/"
INDEX_PREFIX = "index/by-sop/"


def _flag(raw: str) -> bool:
    return raw.strip().lower() == "true"


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeidentifyConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    region: str = env("AWS_REGION", "us-east-1")
    lenient_preamble: bool = env("LENIENT_PREAMBLE", False, parse=_flag)
    detect_free_text_phi: bool = env("DETECT_FREE_TEXT_PHI", True, parse=_flag)
    allow_cross_region: bool = env("ALLOW_CROSS_REGION", False, parse=_flag)
    comprehend_medical_region: str = env("COMPREHEND_MEDICAL_REGION", "")
    write_deidentified_copy: bool = env("WRITE_DEIDENTIFIED_COPY", True, parse=_flag)
    max_dicom_mib: int = env("MAX_DICOM_MIB", 512)
    key_secret_id: str = env("DEID_KEY_SECRET_ID", "")
    read_block_bytes: int = env("READ_BLOCK_BYTES", 16384)


def phi_region(cfg: DeidentifyConfig) -> tuple[str, str]:
    """(region to call Comprehend Medical in, "") or ("", the reason free text is not checked)."""
    if not cfg.detect_free_text_phi:
        return "", "DETECT_FREE_TEXT_PHI is off"
    if cfg.region in COMPREHEND_MEDICAL_REGIONS:
        return cfg.region, ""
    if not cfg.allow_cross_region:
        return "", f"Comprehend Medical is not offered in {cfg.region} and ALLOW_CROSS_REGION is off"
    if cfg.comprehend_medical_region not in COMPREHEND_MEDICAL_REGIONS:
        return (
            "",
            f"COMPREHEND_MEDICAL_REGION {cfg.comprehend_medical_region!r} does not offer Comprehend Medical",
        )
    return cfg.comprehend_medical_region, ""


def _batches(texts: dict[str, str]) -> tuple[list[tuple[str, list[tuple[str, int]]]], list[str]]:
    """The attributes joined into as few DetectPHI texts as fit (one per instance, typically).

    Each batch is ``(text, [(keyword, start offset in text)])``; values are joined by newlines. A
    value longer than the limit is cut to it (listed in the second item).
    """
    batches: list[tuple[str, list[tuple[str, int]]]] = []
    truncated: list[str] = []
    text = ""
    spans: list[tuple[str, int]] = []
    for keyword, value in sorted(texts.items()):
        if len(value) > DETECT_PHI_MAX_CHARS:
            truncated.append(keyword)
            value = value[:DETECT_PHI_MAX_CHARS]
        if text and len(text) + 1 + len(value) > DETECT_PHI_MAX_CHARS:
            batches.append((text, spans))
            text, spans = "", []
        if text:
            text += "\n"
        spans.append((keyword, len(text)))
        text += value
    if text:
        batches.append((text, spans))
    return batches, truncated


def free_text_phi(
    texts: dict[str, str], detect: Callable[[str], dict[str, Any]] | None, reason: str
) -> dict[str, Any]:
    """DetectPHI over the free-text attributes, one call per 20,000 characters (one per instance,
    typically, since DetectPHI bills at least 100 characters a call): entity types, scores and
    offsets within each attribute's value, never the text."""
    if not texts:
        return {"status": SKIPPED, "reason": "no free-text attribute holds text"}
    if detect is None:
        return {"status": SKIPPED, "reason": reason, "attributes": sorted(texts)}
    found: dict[str, list[dict[str, Any]]] = {keyword: [] for keyword in texts}
    batches, truncated = _batches(texts)
    for text, spans in batches:
        for entity in detect(text).get("Entities", []):
            begin = int(entity.get("BeginOffset", 0))
            keyword, start = next((k, st) for k, st in reversed(spans) if st <= begin)
            found[keyword].append(
                {
                    "type": entity.get("Type"),
                    "score": round(float(entity.get("Score", 0.0)), 3),
                    "begin": begin - start,
                    "end": int(entity.get("EndOffset", begin)) - start,
                }
            )
    return {
        "status": SUCCEEDED,
        "calls": len(batches),
        "entities": found,
        "phi_attributes": sorted(k for k, v in found.items() if v),
        "truncated": truncated,
    }


@dataclasses.dataclass
class Reading:
    """An open binary reader of the file and what reading it cost (bytes fetched, requests)."""

    file: Any
    cost: Callable[[], dict[str, int]]


Opener = Callable[[SourceFile], Reading]


Fetch = Callable[[SourceFile, int], bytes]


def _copy(
    fetch: Fetch, output: S3AccessPoint, file: SourceFile, key: bytes, cfg: DeidentifyConfig
) -> dict[str, Any]:
    """Read the whole instance (one GET), apply the profile, write the copy; return its key and counts."""
    import pydicom

    limit = cfg.max_dicom_mib * 1024 * 1024
    if file.size > limit:
        return {
            "status": SKIPPED,
            "reason": f"file is {file.size} bytes, above MAX_DICOM_MIB={cfg.max_dicom_mib}",
        }
    data = fetch(file, limit)
    with dicom.quiet():
        ds = pydicom.dcmread(io.BytesIO(data), force=cfg.lenient_preamble)
    counts = dicom.deidentify(ds, key)
    out = io.BytesIO()
    with dicom.quiet():
        ds.save_as(out, enforce_file_format=True)
    target = f"{DEIDENTIFIED_PREFIX}{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm"
    output.put(target, out.getvalue(), content_type="application/dicom")
    return {"status": SUCCEEDED, "key": target, "actions": counts, "bytes_fetched": len(data)}


def process_instance(
    opener: Opener,
    fetch: Fetch,
    output: S3AccessPoint,
    file: SourceFile,
    *,
    run_id: str,
    source: str,
    cfg: DeidentifyConfig,
    deid_key: Callable[[], bytes],
    detect: Callable[[str], dict[str, Any]] | None,
    detect_reason: str = "",
) -> dict[str, Any]:
    """Handle one instance end to end and return the step's summary (see the module docstring)."""
    sections: dict[str, Any] = {"run_id": run_id, "size": file.size, "last_modified": file.last_modified}
    reading = opener(file)
    try:
        with xray_subsegment("read_dicom_header", {"size": file.size}):
            ds, header = dicom.read_header(reading.file, lenient=cfg.lenient_preamble)
    except dicom.DicomError as error:
        sections["read_error"] = error.details
        sections["io"] = {**reading.cost(), "file_size": file.size}
        reading.file.close()
        document = result_document(
            key=file.key,
            etag=file.etag,
            status=FAILED,
            source=source,
            reason=f"unreadable DICOM file: {error.reason}",
            error=type(error).__name__,
            sections=sections,
        )
        write_result(output, document)
        stats().failed()
        logger.warning("file %s FAILED: %s", file.key, type(error).__name__)
        return {
            "key": file.key,
            "status": FAILED,
            "output_key": document["output_key"],
            "reason": document["reason"],
        }
    header_cost = reading.cost()
    reading.file.close()
    sections["dicom"] = header.to_dict()
    sections["sop_instance_uid"] = header.sop_instance_uid
    sections["phi"] = {"findings": dicom.phi_findings(ds), "profile": "PS3.15 E.1 Basic"}
    sections["free_text_phi"] = free_text_phi(dicom.free_text(ds), detect, detect_reason)
    if not cfg.write_deidentified_copy:
        sections["deidentified"] = {"status": SKIPPED, "reason": "WRITE_DEIDENTIFIED_COPY is off"}
    elif header.burned_in_annotation.upper() == "YES":
        sections["deidentified"] = {
            "status": SKIPPED,
            "reason": "BurnedInAnnotation is YES: the pixels may show PHI, which this profile does not clean",
        }
    else:
        with xray_subsegment("deidentify", {"size": file.size}):
            sections["deidentified"] = _copy(fetch, output, file, deid_key(), cfg)
    sections["io"] = {**header_cost, "file_size": file.size}
    document = result_document(
        key=file.key, etag=file.etag, status=SUCCEEDED, source=source, sections=sections
    )
    result_key = write_result(output, document)
    index = {
        "sop_instance_uid": header.sop_instance_uid,
        "key": file.key,
        "etag": file.etag,
        "result": result_key,
    }
    output.put(
        f"{INDEX_PREFIX}{header.sop_instance_uid}.json",
        json.dumps(index).encode(),
        content_type="application/json",
    )
    metrics = stats()
    metrics.processed(files=1, bytes_=file.size)
    metrics.put_metric("BytesRead", float(header_cost.get("bytes_fetched", 0)), "Bytes")
    metrics.put_metric("PhiAttributesFound", float(len(sections["phi"]["findings"])), "Count")
    return {"key": file.key, "status": SUCCEEDED, "output_key": result_key}


def comprehend_medical_detector(region: str) -> Callable[[str], dict[str, Any]]:
    """DetectPHI in ``region``, with throttling retried by the state and a refused text a FAILED file."""
    from shared.clients import aws_client

    client = aws_client("comprehendmedical", region)

    def detect(text: str) -> dict[str, Any]:
        result: dict[str, Any] = call(
            "comprehendmedical",
            "DetectPHI",
            client.detect_phi,
            per_item_codes=frozenset({"InvalidRequestException", "TextSizeLimitExceededException"}),
            Text=text,
        )
        return result

    return detect


def secret_key(secret_id: str) -> bytes:
    """The de-identification key from Secrets Manager (read once per cold start by the caller)."""
    from shared.clients import aws_client

    value = aws_client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    return str(value).encode()
