"""UC8's per-file step without AWS: each variant's outcome, the FAILED reasons, the result document."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from energy_seismic import compliance, demo
from energy_seismic.files import SourceFile, kind_of
from energy_seismic.inspect import InspectConfig, Opened, inspect_file, process_file
from shared.formats.samples import welllog as las_samples
from shared.polling.keys import output_key

CFG = InspectConfig(use_case="energy-seismic", access_point="ap", output_bucket="out", sampled_traces=8)


def opened(data: bytes) -> Opened:
    buffer = io.BytesIO(data)
    return Opened(buffer, lambda: {"bytes_fetched": 0, "requests": 0})


def inspect(key: str, data: bytes) -> tuple[str, dict[str, Any], str | None, str | None]:
    return inspect_file(opened(data), SourceFile(key, "etag1", len(data)), CFG)


class FakeOutput:
    """What ``write_result`` needs of the output bucket."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.target = "out"

    def put(self, key: str, body: bytes, *, content_type: str | None = None) -> str:
        self.objects[key] = body
        return key

    def get_bytes(self, key: str, **_: Any) -> bytes:
        from shared.errors import ObjectNotFoundError

        if key not in self.objects:
            raise ObjectNotFoundError(key)
        return self.objects[key]

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return self.objects[key][start : end + 1]


@pytest.mark.parametrize("sample", demo.PLAN, ids=[s.key.rsplit("/", 1)[-1] for s in demo.PLAN])
def test_every_variant_gets_its_outcome(sample: demo.Sample) -> None:
    status, sections, reason, error = inspect(sample.key, demo.body(sample, 0))
    if sample.expect == "FAILED":
        assert status == "FAILED"
        assert reason and error and error.endswith("Error")
    else:
        assert status == "SUCCEEDED", reason
        assert sections["compliance"]["verdict"] == sample.expect
    assert sections["kind"] == sample.kind


def test_trace_count_is_not_the_ensemble_field() -> None:
    sample = next(s for s in demo.PLAN if "large" in s.key)
    _, sections, _, _ = inspect(sample.key, demo.body(sample, 0))
    survey = sections["survey"]
    assert survey["binary"]["traces_per_ensemble"] == 48
    assert survey["trace_count"] == 40 * 40


def test_failed_reasons_name_what_and_where() -> None:
    by_name = {s.key.rsplit("/", 1)[-1]: s for s in demo.PLAN}
    _, sections, reason, error = inspect("x.sgy", demo.body(by_name["2d-line-08-truncated.sgy"], 0))
    assert error == "SegySizeMismatchError"
    assert "bytes over, at offset" in str(reason)
    assert sections["read_error"]["offset"] > 3600
    _, _, reason, error = inspect("x.sgy", demo.body(by_name["2d-line-09-format4.sgy"], 0))
    assert (error, "format code 4" in str(reason)) == ("SegyHeaderError", True)
    _, _, reason, error = inspect("x.las", demo.body(by_name["DEMO-4_truncated.las"], 0))
    assert error == "WellLogDataError" and "line" in str(reason)
    _, _, reason, error = inspect("x.las", demo.body(by_name["DEMO-5_notes.las"], 0))
    assert error == "WellLogHeaderError"


def test_unsupported_suffix_is_a_failed_result() -> None:
    status, _, _, error = inspect("notes.txt", b"hello")
    assert (status, error) == ("FAILED", "UnsupportedFile")
    assert kind_of("A.SEGY") == "segy" and kind_of("w.LAS") == "las" and kind_of("x.txt") == ""


def test_las_findings_name_the_missing_headers_and_crs() -> None:
    from shared.formats.welllog import read_las

    log = read_las(las_samples.write_las(crs=False, headers=False))
    rules = {f["rule"]: f for f in compliance.las_findings(log)}
    assert "COMP" in rules["las.required_headers"]["message"]
    assert "UWI or API" in rules["las.required_headers"]["message"]
    assert rules["las.coordinate_reference"]["severity"] == "error"
    assert compliance.verdict(list(rules.values())) == "non_compliant"
    assert compliance.las_findings(read_las(las_samples.write_las())) == []


def test_segy_crs_from_an_extended_stanza_only() -> None:
    sample = next(s for s in demo.PLAN if s.key.endswith("3d-demo-02.sgy"))
    _, sections, _, _ = inspect(sample.key, demo.body(sample, 0))
    assert sections["survey"]["extended_textual_headers"][0].startswith("((SEG: Location Data")
    assert sections["compliance"]["findings"] == []


def test_process_file_writes_one_result_keyed_by_key_and_etag(caplog: pytest.LogCaptureFixture) -> None:
    sample = next(s for s in demo.PLAN if "truncated.sgy" in s.key)
    data = demo.body(sample, 0)
    output = FakeOutput()
    file = SourceFile(sample.key, "etag-9", len(data))
    with caplog.at_level(logging.WARNING):
        summary = process_file(
            lambda f: opened(data),
            output,
            file,
            run_id="run-1",
            source="ap",
            cfg=CFG,  # type: ignore[arg-type]
        )
    assert summary["status"] == "FAILED"
    assert summary["output_key"] == output_key(sample.key, "etag-9")
    document = json.loads(output.objects[summary["output_key"]])
    assert document["error"] == "SegySizeMismatchError"
    assert document["run_id"] == "run-1"
    assert document["io"]["file_size"] == len(data)


def test_the_report_reads_only_the_runs_results() -> None:
    from energy_seismic.datasets import rows
    from energy_seismic.report import markdown
    from shared.polling.results import run_results

    output = FakeOutput()
    files = []
    for index, sample in enumerate(demo.PLAN[:4]):
        data = demo.body(sample, index)
        file = SourceFile(sample.key, f"e{index}", len(data))
        files.append({"key": file.key, "etag": file.etag, "size": file.size, "last_modified": ""})
        if index < 3:  # the fourth has no result yet: pending
            process_file(lambda f, d=data: opened(d), output, file, run_id="r", source="ap", cfg=CFG)  # type: ignore[arg-type, misc]
    manifest = "".join(json.dumps(f) + "\n" for f in files).encode()
    output.objects["polling/runs/r/manifest.jsonl"] = manifest
    chunk = {"manifest_key": "polling/runs/r/manifest.jsonl", "offset": 0, "count": 4, "first_byte": 0}
    output.objects["polling/runs/r/chunks.json"] = json.dumps(
        [{**chunk, "last_byte": len(manifest) - 1}]
    ).encode()
    documents, pending = run_results(output, "polling/runs/r/chunks.json")  # type: ignore[arg-type]
    assert len(documents) == 3 and pending == [demo.PLAN[3].key]
    tables = {schema.name for d in documents for schema, _ in rows("r", d)}
    assert tables == {"inspected_files", "seismic_surveys"}
    text = markdown(
        {
            "facts": {"run_id": "r", "files": 3, "succeeded": 3, "failed": 0, "pending": 1, "failures": []},
            "tables": {},
        }
    )
    assert "3 files: 3 read, 0 failed, 1 pending" in text
