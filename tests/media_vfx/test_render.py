"""The Open Job Description template, the Deadline Cloud job loop, and the local Deadline stand-in.

The stand-in validates templates, so the project's own template is checked against it, and the
kinds of template it must refuse (the earlier implementation's, wrong references, wrong parameter
types) are checked here too.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from media_vfx import render
from scripts.localcloud.deadline import DeadlineStandIn, TemplateError, parse_range, validate

CFG = render.RenderConfig(
    output_bucket="out",
    use_case="media-vfx",
    farm_id="farm-0123456789abcdef0123456789abcdef",
    queue_id="queue-0123456789abcdef0123456789abcdef",
    render_deadline_seconds=600,
)
ENTRY = {
    "sequence": "shots/a.####.exr",
    "version": "v1",
    "padding": 4,
    "frames": [3, 5, 6, 7],
    "range": "3,5-7",
}


class _Client:
    """The boto3 method names over the stand-in's operations."""

    def __init__(self, standin: DeadlineStandIn) -> None:
        self.standin = standin
        self.updates: list[dict[str, Any]] = []

    def create_job(self, **params: Any) -> dict[str, Any]:
        return self.standin.create_job(params)

    def get_job(self, **params: Any) -> dict[str, Any]:
        return self.standin.get_job(params)

    def update_job(self, **params: Any) -> dict[str, Any]:
        self.updates.append(params)
        return self.standin.update_job(params)


def test_the_template_is_valid_openjd_with_one_task_per_frame() -> None:
    template = render.job_template()
    assert template["specificationVersion"] == "jobtemplate-2023-09"
    values, ranges = validate(template, render.job_parameters(ENTRY, "render-frame"))
    assert values["Frames"] == "3,5-7" and values["Padding"] == 4
    assert ranges == [("RenderFrames", "3,5-7")]
    assert parse_range(ranges[0][1]) == [3, 5, 6, 7]
    # The frame list is a job parameter, never part of the template text.
    assert "5-7" not in json.dumps(template)


def test_submit_then_status_follows_the_job_to_its_end_and_renders_each_frame() -> None:
    standin, rendered = DeadlineStandIn(), []
    standin.register_renderer(lambda pattern, frame, padding: rendered.append((pattern, frame, padding)))
    client = _Client(standin)
    state = render.submit(client, {"run_id": "r1", "sequences": [ENTRY]}, CFG, now=1000)
    assert state["state"] == "RUNNING" and len(state["jobs"]) == 1
    seen = []
    while state["state"] == "RUNNING":
        state = render.status(client, state, CFG, now=1010)
        seen.append(state["jobs"][0]["task_run_status"])
    assert seen == ["READY", "RUNNING", "SUCCEEDED"]
    assert state["state"] == "SUCCEEDED" and state["polls"] == 3
    assert rendered == [("shots/a.####.exr", n, 4) for n in (3, 5, 6, 7)]


def test_the_same_run_and_sequence_submit_one_job() -> None:
    client = _Client(DeadlineStandIn())
    first = render.submit(client, {"run_id": "r1", "sequences": [ENTRY]}, CFG)
    again = render.submit(client, {"run_id": "r1", "sequences": [ENTRY]}, CFG)
    assert first["jobs"][0]["job_id"] == again["jobs"][0]["job_id"]


def test_a_failing_task_fails_the_run_state() -> None:
    standin = DeadlineStandIn()

    def broken(pattern: str, frame: int, padding: int) -> None:
        raise RuntimeError("renderer crashed")

    standin.register_renderer(broken)
    client = _Client(standin)
    state = render.submit(client, {"run_id": "r1", "sequences": [ENTRY]}, CFG, now=0)
    for _ in range(3):
        state = render.status(client, state, CFG, now=5)
    assert state["state"] == "FAILED"
    assert state["jobs"][0]["task_counts"] == {"SUCCEEDED": 0, "FAILED": 4}


def test_past_the_deadline_running_jobs_are_cancelled_and_the_loop_ends_timed_out() -> None:
    client = _Client(DeadlineStandIn())
    state = render.submit(client, {"run_id": "r1", "sequences": [ENTRY]}, CFG, now=0)
    state = render.status(client, state, CFG, now=CFG.render_deadline_seconds + 1)
    assert state["state"] == "TIMED_OUT"
    assert [u["targetTaskRunStatus"] for u in client.updates] == ["CANCELED"]
    assert client.standin.finished() == {state["jobs"][0]["job_id"]: "CANCELED"}


def _broken(change: Any) -> dict[str, Any]:
    template = copy.deepcopy(render.job_template())
    change(template)
    return template


@pytest.mark.parametrize(
    ("template", "parameters", "message"),
    [
        # What the earlier implementation sent: a free-form job description, not OpenJD.
        ({"frames": [1, 2], "command": "render"}, {}, "specificationVersion must be"),
        (
            _broken(lambda t: t.update(specificationVersion="jobtemplate-2022-01")),
            None,
            "specificationVersion",
        ),
        (_broken(lambda t: t.pop("steps")), None, "steps must be a non-empty list"),
        (
            _broken(lambda t: t["steps"][0]["script"]["actions"]["onRun"].update(args=["{{Param.Scene}}"])),
            None,
            r"\{\{Param.Scene\}\} names no job parameter",
        ),
        (
            _broken(
                lambda t: t["steps"][0]["script"]["actions"]["onRun"].update(args=["{{Task.Param.Shot}}"])
            ),
            None,
            "names no task parameter of this step",
        ),
        (_broken(lambda t: t["steps"][0]["script"]["actions"].pop("onRun")), None, "onRun.command"),
        (_broken(lambda t: t["parameterDefinitions"][0].update(type="LIST")), None, "has type 'LIST'"),
        (render.job_template(), {"Frames": {"string": "1-3"}}, "'Sequence' has no default and no value"),
        (
            render.job_template(),
            {**render.job_parameters(ENTRY, "r"), "Padding": {"string": "4"}},
            "give it as",
        ),
        (
            render.job_template(),
            {**render.job_parameters(ENTRY, "r"), "Shot": {"string": "x"}},
            "not defined",
        ),
        (
            render.job_template(),
            {**render.job_parameters(ENTRY, "r"), "Frames": {"string": "1-3,x"}},
            "is not a range expression",
        ),
    ],
    ids=[
        "not-openjd",
        "old-version",
        "no-steps",
        "unknown-param",
        "unknown-task-param",
        "no-command",
        "bad-type",
        "missing-param",
        "wrong-value-type",
        "undefined-param",
        "bad-range",
    ],
)
def test_the_standin_rejects_what_is_not_a_valid_openjd_submission(
    template: dict[str, Any], parameters: dict[str, Any] | None, message: str
) -> None:
    given = render.job_parameters(ENTRY, "render-frame") if parameters is None else parameters
    with pytest.raises(TemplateError, match=message):
        validate(template, given)


def test_through_botocore_a_rejected_template_is_a_validation_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    standin = DeadlineStandIn()
    standin.install()
    try:
        client = boto3.client("deadline", region_name="us-east-1")
        ok = client.create_job(
            farmId=CFG.farm_id,
            queueId=CFG.queue_id,
            template=json.dumps(render.job_template()),
            templateType="JSON",
            priority=50,
            parameters=render.job_parameters(ENTRY, "render-frame"),
        )
        assert (
            client.get_job(farmId=CFG.farm_id, queueId=CFG.queue_id, jobId=ok["jobId"])["taskRunStatus"]
            == "READY"
        )
        with pytest.raises(ClientError) as caught:
            client.create_job(
                farmId=CFG.farm_id, queueId=CFG.queue_id, template="{}", templateType="JSON", priority=50
            )
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert standin.rejected
    finally:
        standin.uninstall()


def test_the_moderation_standin_takes_jpeg_bytes_only() -> None:
    import io

    from PIL import Image

    from scripts.localcloud.moderation import detect_moderation_labels

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 180, 160)).save(buffer, "JPEG")
    assert "ModerationLabels" in detect_moderation_labels(buffer.getvalue())
    with pytest.raises(ValueError, match="InvalidImageFormatException"):
        detect_moderation_labels(b"\x76\x2f\x31\x01" + bytes(100))  # EXR bytes


def test_every_schedule_leaves_the_run_time_after_the_render_deadline() -> None:
    from scripts import catalog, cfn_template

    template = cfn_template.load(catalog.find("media-vfx").template, raw=True)
    rows = template["Mappings"]["RunTimeouts"]
    for minutes, row in rows.items():
        # The execution ends 5 minutes before the next run; the recheck gets 15 after the deadline.
        assert row["Execution"] == int(minutes) * 60 - 300
        assert row["Render"] == row["Execution"] - 900
