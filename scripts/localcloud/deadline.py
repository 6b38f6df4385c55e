"""AWS Deadline Cloud stand-in: CreateJob accepts only a valid Open Job Description template.

moto has no Deadline Cloud. This stand-in answers ``deadline.CreateJob``, ``GetJob`` and
``UpdateJob`` in botocore ``before-call`` hooks (:mod:`scripts.localcloud.hooks`):

* **CreateJob** validates the template against the Open Job Description 2023-09 job template
  rules that matter for a submission (``specificationVersion: jobtemplate-2023-09``; known
  top-level keys; a name; parameter definitions with identifier names, known types and defaults
  of their type; at least one uniquely named step with ``script.actions.onRun.command``; task
  parameter definitions with a known type and a non-empty list or, for INT, a range expression;
  every ``{{Param.X}}`` naming a job parameter and every ``{{Task.Param.X}}`` a task parameter of
  its step) and the ``parameters`` map against it (every name defined, the value under its type's
  key, required ones present, INT ranges and string lengths). Anything else is a
  ``ValidationException``. The same ``clientToken`` returns the same job.
* **GetJob** reports the job's states, one step per call: ``READY``, ``RUNNING``, then
  ``SUCCEEDED`` (or ``FAILED`` when the registered renderer raised). On its way to the end the job
  "renders": the renderer registered with :meth:`DeadlineStandIn.register_renderer` is called
  once per frame of the task parameter range (``(pattern, frame, padding)``), as a worker would.
* **UpdateJob** with ``targetTaskRunStatus: CANCELED`` cancels a job.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import yaml
from botocore.awsrequest import AWSResponse

from scripts.localcloud import hooks

logger = logging.getLogger(__name__)

SPEC = "jobtemplate-2023-09"
Renderer = Callable[[str, int, int], None]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_REF = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")
_RANGE_ITEM = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*(?::\s*(-?\d+)\s*)?)?$")
_TOP_KEYS = {
    "specificationVersion",
    "$schema",
    "name",
    "description",
    "parameterDefinitions",
    "jobEnvironments",
    "steps",
    "extensions",
}
_STEP_KEYS = {
    "name",
    "description",
    "parameterSpace",
    "script",
    "stepEnvironments",
    "dependencies",
    "hostRequirements",
}
_PARAM_TYPES = {"STRING": "string", "INT": "int", "FLOAT": "float", "PATH": "path"}
_TASK_TYPES = {"INT", "FLOAT", "STRING", "PATH", "CHUNK[INT]"}
_PROGRESS = ("READY", "RUNNING")


class TemplateError(ValueError):
    """The job template or its parameters are not valid Open Job Description."""


def parse_range(expression: str) -> list[int]:
    """An OpenJD integer range expression (``1-5,9,20-30:5``) as its list of numbers."""
    out: list[int] = []
    for item in expression.split(","):
        match = _RANGE_ITEM.match(item)
        if not match:
            raise TemplateError(f"{expression!r} is not a range expression (at {item!r})")
        start = int(match[1])
        end = int(match[2]) if match[2] is not None else start
        step = int(match[3]) if match[3] is not None else (1 if end >= start else -1)
        if step == 0 or (end - start) * step < 0:
            raise TemplateError(f"range {item.strip()!r} has a step that never reaches its end")
        out.extend(range(start, end + (1 if step > 0 else -1), step))
    if len(out) != len(set(out)):
        raise TemplateError(f"range expression {expression!r} repeats a value")
    return out


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _check_refs(node: Any, job_params: set[str], task_params: set[str] | None, where: str) -> None:
    for text in _strings(node):
        for ref in _REF.findall(text):
            parts = ref.split(".")
            if parts[0] in {"Param", "RawParam"} and len(parts) == 2:
                if parts[1] not in job_params:
                    raise TemplateError(f"{where}: {{{{{ref}}}}} names no job parameter")
            elif parts[:2] in (["Task", "Param"], ["Task", "RawParam"]) and len(parts) == 3:
                if task_params is None or parts[2] not in task_params:
                    raise TemplateError(f"{where}: {{{{{ref}}}}} names no task parameter of this step")
            elif parts[0] in {"Session", "Job"} or parts[:2] in (["Task", "File"], ["Env", "File"]):
                continue
            else:
                raise TemplateError(f"{where}: {{{{{ref}}}}} is not a value reference OpenJD defines")


def validate(
    template: dict[str, Any], parameters: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The job parameters' values and the (step, task range) list; raises :class:`TemplateError`."""
    if not isinstance(template, dict):
        raise TemplateError("the template is not an object")
    if template.get("specificationVersion") != SPEC:
        raise TemplateError(
            f"specificationVersion must be {SPEC!r}, not {template.get('specificationVersion')!r}"
        )
    unknown = set(template) - _TOP_KEYS
    if unknown:
        raise TemplateError(f"unknown top-level key(s) {sorted(unknown)}")
    name = template.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 128:
        raise TemplateError("name must be a string of 1 to 128 characters")
    definitions = template.get("parameterDefinitions", [])
    if not isinstance(definitions, list) or len(definitions) > 50:
        raise TemplateError("parameterDefinitions must be a list of at most 50 definitions")
    defined: dict[str, dict[str, Any]] = {}
    for definition in definitions:
        pname, ptype = definition.get("name"), definition.get("type")
        if not isinstance(pname, str) or not _IDENT.match(pname):
            raise TemplateError(f"parameter name {pname!r} is not an identifier")
        if pname in defined:
            raise TemplateError(f"parameter {pname!r} is defined twice")
        if ptype not in _PARAM_TYPES:
            raise TemplateError(f"parameter {pname!r} has type {ptype!r}, not one of {sorted(_PARAM_TYPES)}")
        if "default" in definition:
            _typed(pname, ptype, definition["default"], definition)
        defined[pname] = definition
    values: dict[str, Any] = {}
    for pname, given in (parameters or {}).items():
        if pname not in defined:
            raise TemplateError(f"parameter {pname!r} is not defined by the template")
        ptype = defined[pname]["type"]
        key = _PARAM_TYPES[ptype]
        if not isinstance(given, dict) or list(given) != [key]:
            raise TemplateError(f"parameter {pname!r} is {ptype}: give it as {{{key!r}: ...}}")
        values[pname] = _typed(pname, ptype, given[key], defined[pname])
    for pname, definition in defined.items():
        if pname not in values:
            if "default" not in definition:
                raise TemplateError(f"parameter {pname!r} has no default and no value")
            values[pname] = _typed(pname, definition["type"], definition["default"], definition)
    steps = template.get("steps")
    if not isinstance(steps, list) or not steps:
        raise TemplateError("steps must be a non-empty list")
    seen: set[str] = set()
    ranges: list[tuple[str, str]] = []
    for step in steps:
        sname = step.get("name") if isinstance(step, dict) else None
        if not isinstance(sname, str) or not 1 <= len(sname) <= 64 or sname in seen:
            raise TemplateError(f"step name {sname!r} is missing, too long or repeated")
        seen.add(sname)
        unknown = set(step) - _STEP_KEYS
        if unknown:
            raise TemplateError(f"step {sname!r} has unknown key(s) {sorted(unknown)}")
        command = ((step.get("script") or {}).get("actions") or {}).get("onRun", {}).get("command")
        if not isinstance(command, str) or not command:
            raise TemplateError(f"step {sname!r} needs script.actions.onRun.command")
        task_params: set[str] = set()
        space = step.get("parameterSpace")
        if space is not None:
            tdefs = space.get("taskParameterDefinitions")
            if not isinstance(tdefs, list) or not 1 <= len(tdefs) <= 16:
                raise TemplateError(f"step {sname!r}: taskParameterDefinitions must list 1 to 16 parameters")
            for tdef in tdefs:
                tname, ttype, trange = tdef.get("name"), tdef.get("type"), tdef.get("range")
                if not isinstance(tname, str) or not _IDENT.match(tname) or tname in task_params:
                    raise TemplateError(
                        f"step {sname!r}: task parameter name {tname!r} is invalid or repeated"
                    )
                if ttype not in _TASK_TYPES:
                    raise TemplateError(f"step {sname!r}: task parameter {tname!r} has type {ttype!r}")
                if isinstance(trange, str):
                    if ttype not in {"INT", "CHUNK[INT]"}:
                        raise TemplateError(
                            f"step {sname!r}: only INT task parameters take a range expression"
                        )
                    _check_refs(trange, set(defined), None, f"step {sname!r} range")
                    resolved = _REF.sub(lambda m: str(values.get(m[1].split(".")[-1], "")), trange)
                    parse_range(resolved)
                    ranges.append((sname, resolved))
                elif not isinstance(trange, list) or not trange:
                    raise TemplateError(f"step {sname!r}: task parameter {tname!r} needs a non-empty range")
                task_params.add(tname)
        _check_refs(step.get("script"), set(defined), task_params, f"step {sname!r} script")
    return values, ranges


def _typed(pname: str, ptype: str, value: Any, definition: dict[str, Any]) -> Any:
    if ptype == "INT":
        try:
            number = int(str(value))
        except ValueError as error:
            raise TemplateError(f"parameter {pname!r} is INT, not {value!r}") from error
        if "minValue" in definition and number < int(definition["minValue"]):
            raise TemplateError(f"parameter {pname!r} is below its minValue")
        if "maxValue" in definition and number > int(definition["maxValue"]):
            raise TemplateError(f"parameter {pname!r} is above its maxValue")
        return number
    if ptype == "FLOAT":
        return float(str(value))
    text = str(value)
    if len(text) < int(definition.get("minLength", 0)):
        raise TemplateError(f"parameter {pname!r} is shorter than its minLength")
    return text


class DeadlineStandIn:
    """Keeps the jobs created while installed; see the module docstring."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.renderer: Renderer | None = None
        self.rejected: list[str] = []
        self._tokens: dict[str, str] = {}
        self._handlers: list[hooks.Hook] = []

    def register_renderer(self, renderer: Renderer | None) -> None:
        self.renderer = renderer

    def finished(self) -> dict[str, str]:
        return {job_id: job["taskRunStatus"] for job_id, job in self.jobs.items()}

    # -- operations --

    def create_job(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("clientToken")
        if token and token in self._tokens:
            return {"jobId": self._tokens[token]}
        raw = params.get("template", "")
        try:
            template = json.loads(raw) if params.get("templateType") == "JSON" else yaml.safe_load(raw)
        except (ValueError, yaml.YAMLError) as error:
            raise TemplateError(
                f"the template does not parse as {params.get('templateType')}: {error}"
            ) from error
        values, ranges = validate(template, params.get("parameters") or {})
        job_id = "job-" + uuid.uuid4().hex
        now = dt.datetime.now(dt.UTC)
        self.jobs[job_id] = {
            "jobId": job_id,
            "name": _REF.sub(lambda m: str(values.get(m[1].split(".")[-1], "")), template["name"]),
            "lifecycleStatus": "CREATE_COMPLETE",
            "lifecycleStatusMessage": "",
            "priority": int(params.get("priority", 50)),
            "createdAt": now,
            "createdBy": "local-stand-in",
            "taskRunStatus": "PENDING",
            "taskRunStatusCounts": {},
            "parameters": params.get("parameters") or {},
            "values": values,
            "ranges": ranges,
            "farmId": params.get("farmId"),
            "queueId": params.get("queueId"),
        }
        if token:
            self._tokens[token] = job_id
        return {"jobId": job_id}

    def _run(self, job: dict[str, Any]) -> None:
        frames = [n for _, expr in job["ranges"] for n in parse_range(expr)]
        failed = 0
        values = job["values"]
        for frame in frames:
            try:
                if self.renderer is not None:
                    self.renderer(str(values.get("Sequence", "")), frame, int(values.get("Padding", 4)))
            except Exception:  # a failed task fails the job, as on a worker
                logger.exception("re-render of frame %s failed", frame)
                failed += 1
        job["taskRunStatus"] = "FAILED" if failed else "SUCCEEDED"
        job["taskRunStatusCounts"] = {"SUCCEEDED": len(frames) - failed, "FAILED": failed}
        job["endedAt"] = dt.datetime.now(dt.UTC)

    def get_job(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self.jobs.get(params.get("jobId", ""))
        if job is None:
            raise LookupError(f"job {params.get('jobId')!r} does not exist")
        status = job["taskRunStatus"]
        if status == "PENDING":
            job["taskRunStatus"] = _PROGRESS[0]
        elif status in _PROGRESS[:-1]:
            job["taskRunStatus"] = _PROGRESS[_PROGRESS.index(status) + 1]
            job["startedAt"] = dt.datetime.now(dt.UTC)
        elif status == _PROGRESS[-1]:
            self._run(job)
        return {k: v for k, v in job.items() if k not in {"values", "ranges", "farmId", "queueId"}}

    def update_job(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self.jobs.get(params.get("jobId", ""))
        if job is None:
            raise LookupError(f"job {params.get('jobId')!r} does not exist")
        if params.get("targetTaskRunStatus") == "CANCELED" and job["taskRunStatus"] not in {
            "SUCCEEDED",
            "FAILED",
        }:
            job["taskRunStatus"] = "CANCELED"
        return {}

    # -- wiring --

    OPERATIONS = ("CreateJob", "GetJob", "UpdateJob")

    def _make_handler(self, operation: str) -> Callable[..., Any]:
        method = {"CreateJob": self.create_job, "GetJob": self.get_job, "UpdateJob": self.update_job}[
            operation
        ]

        def before_call(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            meta = {"RequestId": str(uuid.uuid4()), "HTTPHeaders": {"x-local-stand-in": "deadline"}}
            try:
                parsed = method(context.get(_PARAMS_KEY, {}))
            except TemplateError as error:
                self.rejected.append(str(error))
                body = {
                    "Error": {"Code": "ValidationException", "Message": str(error)},
                    "ResponseMetadata": {**meta, "HTTPStatusCode": 400},
                }
                return AWSResponse("https://local.stand-in", 400, {}, None), body
            except LookupError as error:
                body = {
                    "Error": {"Code": "ResourceNotFoundException", "Message": str(error)},
                    "ResponseMetadata": {**meta, "HTTPStatusCode": 404},
                }
                return AWSResponse("https://local.stand-in", 404, {}, None), body
            parsed["ResponseMetadata"] = {**meta, "HTTPStatusCode": 200}
            return AWSResponse("https://local.stand-in", 200, {}, None), parsed

        return before_call

    def install(self) -> None:
        self._handlers.extend(hooks.hooks_for("deadline", self.OPERATIONS, _stash_params, self._make_handler))
        hooks.install(self._handlers)

    def uninstall(self) -> None:
        hooks.uninstall(self._handlers)


_PARAMS_KEY = "localcloud_deadline_params"


def _stash_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS_KEY] = params
