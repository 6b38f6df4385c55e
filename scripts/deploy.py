"""Deploy and delete a use case's stack with boto3: ``python -m scripts.deploy deploy|delete|package UC``.

Deploy checks the given parameter values against the template's rules, packages the use case, makes
sure the artifact bucket exists (encrypted, private, TLS only), validates the template, uploads only
the artifacts S3 does not hold yet (to the caller's own bucket, SHA-256 verified), then goes through
a change set so the user sees what will change before it changes (``--preview`` stops there), and
streams the stack events while CloudFormation works. An unchanged redeploy uploads nothing, creates
no change set, and says "no changes". Delete prints what it will remove and keep, and asks first.

boto3 rather than the AWS CLI, so the same code runs against AWS, against a moto server
(``AWS_ENDPOINT_URL``) and inside the embedded local cloud, and so progress can be shown.

This module is written for AWS. Where the place it deploys to may differ, it asks its
:class:`Target`; the base class is AWS. The local cloud plugs in its own
(``scripts.localcloud.target``, which holds every workaround for moto), chosen by the endpoint or
passed in by the caller.
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound
from botocore.exceptions import ConnectionError as EndpointUnreachableError
from botocore.parsers import ResponseParserError

from scripts import catalog, cfn_template, deploy_params, packaging
from scripts.catalog import UseCase
from scripts.packaging import PackagedUseCase, PackagingError
from shared.errors import aws_error_code

logger = logging.getLogger(__name__)

PREFIX = "fsxn-s3ap"
STACK_PREFIX = "fsxn"
# CloudFormation takes at most 51,200 bytes inline; larger templates go through S3.
MAX_TEMPLATE_BODY = 51_200
POLL_SECONDS = 3.0
TIMEOUT_SECONDS = 3600.0
# Uploads at least this large print how many bytes have gone, every tenth of the file.
PROGRESS_MIN_BYTES = 4 << 20
# KMS waits this long before deleting a key when the template sets no PendingWindowInDays.
KMS_DEFAULT_PENDING_DAYS = 30

_SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
_BUSY_SUFFIX = "_IN_PROGRESS"
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_NAMED_IAM = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}
_RETAINED = {"Retain", "RetainExceptOnCreate"}

Out = Callable[[str], None]


class Target:
    """Where a stack is deployed, and the points where that place may differ from AWS.

    This base class is AWS. The embedded local cloud supplies a subclass
    (``scripts.localcloud.target.MotoTarget``); :func:`target_for` picks it by endpoint.
    """

    name = "AWS"

    def artifact_bucket_policy(self, policy: dict[str, Any]) -> dict[str, Any] | None:
        """The bucket policy to put on the artifact bucket (TLS only), or None to put none."""
        return policy

    def template_body(self, packaged: PackagedUseCase) -> str:
        """The template CloudFormation receives: the packaged one, whose transforms AWS runs."""
        return packaged.template_body

    def crash_hint(self) -> str:
        """What to add when executing a change set crashes inside the client rather than failing."""
        return ""

    def outputs(
        self,
        cfn: Any,
        stack: Mapping[str, Any],
        template: Mapping[str, Any],
        update: Mapping[str, Any],
        out: Out,
    ) -> dict[str, str]:
        """The stack's outputs once it is complete. ``update`` holds the arguments that would redo
        the same deployment through UpdateStack, for a target that needs them to read outputs."""
        return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", []) or []}

    def empty_bucket(self, s3: Any, bucket: str, empty: Callable[[Any, str], int], out: Out) -> int:
        """Empty a stack bucket before the stack is deleted, with ``empty``."""
        return empty(s3, bucket)


def target_for(endpoint_url: str | None) -> Target:
    """AWS, unless the endpoint is moto (a server on this machine, or moto in this process)."""
    from scripts.localcloud.target import target_for as local_target

    return local_target(endpoint_url) or Target()


class DeployError(Exception):
    """A deploy or delete that cannot go on; the message is one line that says what to do."""


@dataclass
class DeployResult:
    """What a deploy did."""

    stack_name: str
    status: str
    uploaded: int
    changed: bool
    outputs: dict[str, str] = field(default_factory=dict)
    stack_id: str = ""
    artifact_bucket: str = ""


@dataclass
class DeleteResult:
    """What a delete removed."""

    stack_name: str
    status: str
    resources: dict[str, int] = field(default_factory=dict)  # resource type -> count
    emptied: dict[str, int] = field(default_factory=dict)  # bucket -> object versions removed
    kept: list[str] = field(default_factory=list)  # retained buckets, left as they were


# --------------------------------------------------------------------------------------------------
# Session, clients, names


@dataclass
class _Aws:
    session: boto3.Session
    region: str
    account: str
    partition: str
    endpoint_url: str | None
    target: Target = field(default_factory=Target)

    def client(self, service: str, *, max_attempts: int = 8) -> Any:
        config = Config(retries={"mode": "standard", "max_attempts": max_attempts})
        if self.endpoint_url and service == "s3":
            config = config.merge(Config(s3={"addressing_style": "path"}))
        return self.session.client(
            service, region_name=self.region, endpoint_url=self.endpoint_url, config=config
        )


def _connect(
    session: boto3.Session | None, region: str | None, endpoint_url: str | None, target: Target | None = None
) -> _Aws:
    """A session that honours AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL, with its account checked."""
    try:
        if session is None:
            session = boto3.Session(region_name=region or os.environ.get("AWS_REGION") or None)
    except ProfileNotFound as error:
        raise DeployError(f"{error}; check AWS_PROFILE or run 'aws configure --profile <name>'") from error
    chosen = region or session.region_name or os.environ.get("AWS_REGION")
    if not chosen:
        raise DeployError(
            "no AWS region: set AWS_REGION (or REGION=… for make) or a region in your AWS profile"
        )
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    if session.get_credentials() is None:
        raise DeployError(
            "no AWS credentials found: set AWS_PROFILE (after 'aws configure' or 'aws sso login') "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    partition = session.get_partition_for_region(chosen) or "aws"
    aws = _Aws(session, chosen, "", partition, endpoint, target or target_for(endpoint))
    try:
        # The first call of every command: an endpoint that does not answer fails here, quickly.
        aws.account = aws.client("sts", max_attempts=2).get_caller_identity()["Account"]
    except EndpointUnreachableError as error:
        raise DeployError(_could_not_connect(error, endpoint, chosen)) from error
    except NoCredentialsError as error:
        raise DeployError("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID") from error
    except ClientError as error:
        raise DeployError(f"the AWS credentials were rejected: {error_message(error)}") from error
    return aws


def _could_not_connect(error: EndpointUnreachableError, endpoint: str | None, region: str | None) -> str:
    """One line for a network failure: which endpoint and region did not answer, and why."""
    target = endpoint or str(error.kwargs.get("endpoint_url") or "AWS")
    return (
        f"could not connect to {target} (region {region or 'unknown'}): {error}; "
        "check the network, AWS_ENDPOINT_URL and REGION"
    )


def default_stack_name(uc: UseCase) -> str:
    return f"{STACK_PREFIX}-{uc.name}"


def artifact_bucket_name(account: str, region: str) -> str:
    return f"{PREFIX}-artifacts-{account}-{region}"


def error_message(error: BaseException) -> str:
    """The human part of an AWS error (moto's JSON errors come through as parser errors)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Message") or error)
    text = str(error)
    match = re.search(r"b'(\{.*\})'", text, re.DOTALL)
    if match:
        try:
            body = json.loads(ast.literal_eval(f"b'{match.group(1)}'"))
        except (ValueError, SyntaxError):
            return text
        return str(body.get("message") or body.get("Message") or text)
    return text


# --------------------------------------------------------------------------------------------------
# Artifact bucket and uploads


def ensure_artifact_bucket(aws: _Aws, out: Out) -> str:
    """Create ``<prefix>-artifacts-<account>-<region>`` once: SSE, public access blocked, TLS only."""
    s3 = aws.client("s3")
    bucket = artifact_bucket_name(aws.account, aws.region)
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=aws.account)
        return bucket
    except ClientError as error:
        if aws_error_code(error) not in {"404", "NoSuchBucket", "NotFound"}:
            raise DeployError(
                f"artifact bucket {bucket} exists but account {aws.account} cannot use it: "
                f"{error_message(error)}"
            ) from error
    create: dict[str, Any] = {"Bucket": bucket}
    if aws.region != "us-east-1":  # us-east-1 rejects its own name as a LocationConstraint
        create["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    s3.create_bucket(**create)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    arn = f"arn:{aws.partition}:s3:::{bucket}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    chosen = aws.target.artifact_bucket_policy(policy)
    if chosen is None:
        out(
            f"created artifact bucket {bucket} "
            f"(SSE-S3, public access blocked; no TLS policy on {aws.target.name})"
        )
        return bucket
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(chosen))
    out(f"created artifact bucket {bucket} (SSE-S3, public access blocked, TLS only)")
    return bucket


def _sha256_b64(data: bytes | Path) -> str:
    """The base64 SHA-256 S3 uses for ``ChecksumSHA256``, of bytes or of a file read in blocks."""
    digest = hashlib.sha256()
    if isinstance(data, Path):
        with data.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    else:
        digest.update(data)
    return base64.b64encode(digest.digest()).decode("ascii")


_ABSENT = "absent"


def _stored_checksum(s3: Any, bucket: str, key: str, owner: str) -> str | None:
    """The object's stored SHA-256 (base64), None if it has none, or ``_ABSENT`` if there is no object."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED", ExpectedBucketOwner=owner)
    except ClientError as error:
        if aws_error_code(error) in {"404", "NoSuchKey", "NotFound"}:
            return _ABSENT
        raise
    checksum: str | None = head.get("ChecksumSHA256")
    return checksum


class _ProgressReader:
    """A file being uploaded that prints the bytes sent so far each time another tenth has gone.

    The HTTP client reads the body in blocks as it sends it, so what was read is what was sent. A
    retry seeks back to the start, and the count starts again.
    """

    def __init__(self, path: Path, label: str, out: Out) -> None:
        self._file = path.open("rb")
        self._size = path.stat().st_size
        self._label, self._out = label, out
        self._sent = 0
        self._shown = 0  # tenths already printed

    def read(self, amount: int = -1) -> bytes:
        data = self._file.read(amount)
        self._sent += len(data)
        tenths = self._sent * 10 // self._size if self._size else 10
        if tenths > self._shown:
            self._shown = tenths
            self._out(
                f"  {self._label}: {self._sent:,} of {self._size:,} bytes ({self._sent * 100 // self._size}%)"
            )
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._file.seek(offset, whence)
        self._sent = position
        if position == 0:
            self._shown = 0
        return position

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()


def _put_verified(s3: Any, bucket: str, key: str, body: Any, size: int, checksum: str, owner: str) -> None:
    """PutObject to a bucket that must belong to ``owner``, with the SHA-256 S3 must verify and echo."""
    response = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentLength=size,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=checksum,
        ExpectedBucketOwner=owner,
    )
    stored = response.get("ChecksumSHA256")
    if stored != checksum:
        raise DeployError(
            f"S3 reports SHA-256 {stored or '(none)'} for s3://{bucket}/{key}, the local file has "
            f"{checksum}; the upload is not trusted: deploy again"
        )


def _upload_if_changed(
    aws: _Aws, s3: Any, bucket: str, key: str, source: bytes | Path, label: str, out: Out
) -> bool:
    """Upload ``source`` unless ``key`` already holds these exact bytes (by SHA-256); True if uploaded."""
    checksum = _sha256_b64(source)
    stored = _stored_checksum(s3, bucket, key, aws.account)
    if stored == checksum:
        return False
    if stored is None:
        out(f"s3://{bucket}/{key} has no SHA-256 checksum to compare; uploading it again")
    elif stored != _ABSENT:
        out(f"s3://{bucket}/{key} does not hold the expected bytes (SHA-256 differs); uploading it again")
    if isinstance(source, bytes):
        _put_verified(s3, bucket, key, source, len(source), checksum, aws.account)
        return True
    size = source.stat().st_size
    body = _ProgressReader(source, label, out) if size >= PROGRESS_MIN_BYTES else source.open("rb")
    try:
        _put_verified(s3, bucket, key, body, size, checksum, aws.account)
    finally:
        body.close()
    return True


def upload_artifacts(aws: _Aws, bucket: str, packaged: PackagedUseCase, out: Out) -> int:
    """Upload the artifacts S3 does not hold yet, byte for byte (keys are content hashes); return how many."""
    s3 = aws.client("s3")
    uploaded = 0
    for artifact in packaged.artifacts:
        label = f"{artifact.kind} {artifact.name}"
        if not _upload_if_changed(aws, s3, bucket, artifact.key, artifact.path, label, out):
            continue
        uploaded += 1
        out(f"uploaded {label} ({artifact.size:,} bytes, SHA-256 verified) to s3://{bucket}/{artifact.key}")
    if not uploaded:
        out(f"artifacts: all {len(packaged.artifacts)} already in s3://{bucket}")
    return uploaded


def _template_source(
    aws: _Aws, bucket: str, packaged: PackagedUseCase, out: Out
) -> tuple[dict[str, str], int]:
    """TemplateBody, or TemplateURL (uploaded once, by hash) when the body is over the inline limit."""
    body = aws.target.template_body(packaged)
    if len(body.encode()) <= MAX_TEMPLATE_BODY:
        return {"TemplateBody": body}, 0
    sha = hashlib.sha256(body.encode()).hexdigest()
    key = f"{packaged.use_case.name}/templates/{sha}.yaml"
    s3 = aws.client("s3")
    uploaded = 0
    if _upload_if_changed(aws, s3, bucket, key, body.encode(), "template", out):
        uploaded = 1
        out(f"uploaded template ({len(body.encode()):,} bytes, SHA-256 verified) to s3://{bucket}/{key}")
    suffix = "amazonaws.com.cn" if aws.partition == "aws-cn" else "amazonaws.com"
    return {"TemplateURL": f"https://{bucket}.s3.{aws.region}.{suffix}/{key}"}, uploaded


# --------------------------------------------------------------------------------------------------
# Stack state, capabilities, change sets, events


def required_capabilities(
    template: Mapping[str, Any], expanded: Mapping[str, Any] | None = None
) -> list[str]:
    """CAPABILITY_IAM when the template has IAM resources; NAMED_IAM only when one is given a name.

    A template that declares a transform also needs CAPABILITY_AUTO_EXPAND; IAM resources a
    transform or an included snippet generates count, so they are read from ``expanded`` (the
    packager's effective template) when given, else from ``template`` with the transform applied.
    """
    capabilities: set[str] = {"CAPABILITY_AUTO_EXPAND"} if cfn_template.transforms(template) else set()
    template = expanded if expanded is not None else cfn_template.expand(template)
    for resource in template.get("Resources", {}).values():
        kind = resource.get("Type", "") if isinstance(resource, dict) else ""
        if kind.startswith("AWS::IAM::"):
            capabilities.add("CAPABILITY_IAM")
            if _NAMED_IAM.get(kind, "\0") in resource.get("Properties", {}):
                capabilities.add("CAPABILITY_NAMED_IAM")
    return sorted(capabilities)


def _describe_stack(cfn: Any, stack: str) -> dict[str, Any] | None:
    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        if "does not exist" in error_message(error):
            return None
        raise
    return stacks[0] if stacks else None


def _stack_parameters(stack: Mapping[str, Any]) -> dict[str, str]:
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def _iter_events(cfn: Any, stack_id: str) -> Iterator[dict[str, Any]]:
    """Stack events, newest first."""
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        yield from page.get("StackEvents", [])


class _EventPrinter:
    """Prints each new stack event once, oldest first, with the seconds since the deploy step began."""

    def __init__(self, cfn: Any, stack_id: str, out: Out) -> None:
        self.cfn, self.stack_id, self.out = cfn, stack_id, out
        self.seen: set[str] = set()
        self.new: list[dict[str, Any]] = []
        self.started = time.monotonic()
        self.seen.update(event["EventId"] for event in self._fetch(limit_seen=False))

    def _fetch(self, *, limit_seen: bool = True) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for event in _iter_events(self.cfn, self.stack_id):
            if limit_seen and event["EventId"] in self.seen:
                break
            events.append(event)
        return events

    def poll(self) -> None:
        fresh = [event for event in reversed(self._fetch()) if event["EventId"] not in self.seen]
        for event in fresh:
            self.seen.add(event["EventId"])
            self.new.append(event)
            reason = event.get("ResourceStatusReason") or ""
            self.out(
                f"  {time.monotonic() - self.started:7.1f}s  {event.get('ResourceStatus', ''):<28} "
                f"{event.get('ResourceType', ''):<36} {event.get('LogicalResourceId', '')}"
                + (f"  {reason}" if reason else "")
            )

    def failures(self) -> list[dict[str, Any]]:
        return [e for e in self.new if str(e.get("ResourceStatus", "")).endswith("_FAILED")]


def wait_for_stack(
    cfn: Any,
    stack_id: str,
    printer: _EventPrinter,
    *,
    poll_seconds: float,
    before: str = "",
    timeout: float = TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Poll until the stack leaves every ``*_IN_PROGRESS`` status, printing events; return it.

    ``before`` is the status the stack had when the operation started: ExecuteChangeSet and
    DeleteStack return before the status moves, so that status only counts as the end once an
    event shows the operation has run.
    """
    deadline = time.monotonic() + timeout
    while True:
        printer.poll()
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        status = str(stack["StackStatus"])
        if not status.endswith(_BUSY_SUFFIX) and (status != before or printer.new):
            printer.poll()
            return dict(stack)
        if time.monotonic() > deadline:
            raise DeployError(
                f"stack {stack['StackName']} still {status} after {timeout:.0f} s; check the console"
            )
        time.sleep(poll_seconds)


def _change_set_changes(cfn: Any, change_set_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    described = cfn.describe_change_set(ChangeSetName=change_set_id)
    changes = list(described.get("Changes", []))
    token = described.get("NextToken")
    while token:
        page = cfn.describe_change_set(ChangeSetName=change_set_id, NextToken=token)
        changes += page.get("Changes", [])
        token = page.get("NextToken")
    return described, changes


def _wait_for_change_set(cfn: Any, change_set_id: str, poll_seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        described = cfn.describe_change_set(ChangeSetName=change_set_id)
        if described["Status"] in {"CREATE_COMPLETE", "FAILED"}:
            return dict(described)
        if time.monotonic() > deadline:
            raise DeployError(f"change set {change_set_id} still {described['Status']}")
        time.sleep(poll_seconds)


def report_failures(events: list[dict[str, Any]], out: Out) -> list[dict[str, Any]]:
    """Print each failed resource with CloudFormation's reason, oldest first; return them."""
    if events:
        out("failed resources:")
    for event in events:
        out(
            f"  {event.get('LogicalResourceId', '')} ({event.get('ResourceType', '')}): "
            f"{event.get('ResourceStatusReason') or 'no reason given'}"
        )
    return events


def print_change_set(name: str, kind: str, changes: list[dict[str, Any]], out: Out) -> None:
    out(f"change set {name} ({kind}): {len(changes)} change(s)")
    for change in changes:
        rc = change.get("ResourceChange", {})
        replacement = rc.get("Replacement")
        extra = f"  replacement: {replacement}" if replacement and replacement != "False" else ""
        action, kind = rc.get("Action", ""), rc.get("ResourceType", "")
        out(f"  {action:<8} {kind:<36} {rc.get('LogicalResourceId', '')}{extra}")


def _no_changes(
    cfn: Any, stack: Mapping[str, Any], body: str, params: deploy_params.ResolvedParameters
) -> bool:
    """True when the stack already runs exactly this template with exactly these values."""
    if params.keep_previous:
        return False
    try:
        deployed = cfn.get_template(StackName=stack["StackId"], TemplateStage="Original").get("TemplateBody")
    except ClientError:
        return False
    return deployed == body and _stack_parameters(stack) == params.values


# Templates this process has already validated, by (endpoint, region, SHA-256 of the source). A
# deploy runs once per process on the command line; the embedded cloud and the tests deploy the same
# template many times, and moto validates by running cfn-lint, which takes a second or more.
_validated: set[tuple[str, str, str]] = set()


def _validate(cfn: Any, aws: _Aws, source: Mapping[str, str], name: str) -> None:
    """ValidateTemplate, so a broken template fails before any change set, in one line."""
    key = (
        aws.endpoint_url or "",
        aws.region,
        hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest(),
    )
    if key in _validated:
        return
    try:
        cfn.validate_template(**source)
    except ClientError as error:
        raise DeployError(f"template validation failed for {name}: {error_message(error)}") from error
    _validated.add(key)


# --------------------------------------------------------------------------------------------------
# deploy


def deploy(
    uc: UseCase | str | os.PathLike[str],
    *,
    stack_name: str | None = None,
    params: Mapping[str, str] | str | None = None,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    out: Out = print,
    build_root: os.PathLike[str] | None = None,
    poll_seconds: float = POLL_SECONDS,
    pip: packaging.PipRunner | None = None,
    validate: bool = True,
    preview: bool = False,
    target: Target | None = None,
) -> DeployResult:
    """Package ``uc`` and create or update its stack; raise :class:`DeployError` on any failure.

    ``params`` is a mapping or a PARAMS string (``"Key=Value Key2='a b'"``). ``validate=False``
    skips ValidateTemplate (moto runs cfn-lint for it, which ``make lint`` has already done).
    ``preview`` prints the change set and deletes it instead of executing it. ``target`` is where
    the stack goes (default: :func:`target_for` the endpoint).
    """
    try:
        use_case = packaging.resolve(uc)
    except catalog.UnknownUseCaseError as error:
        raise DeployError(str(error)) from error
    name = stack_name or default_stack_name(use_case)
    try:
        overrides = (
            deploy_params.parse_overrides(params)
            if isinstance(params, str) or params is None
            else dict(params)
        )
        # A misspelt parameter, a value the template forbids or a stack name too long for the names
        # derived from it fails here, before any credentials, network or packaging.
        effective = cfn_template.load(use_case.template)
        declared = effective.get("Parameters", {})
        deploy_params.check_names(declared, {"PARAMS": overrides})
        _check_given_values(use_case, declared, overrides)
        limit = cfn_template.stack_name_limit(effective)
        if limit is not None and len(name) > limit[0]:
            raise DeployError(
                f"stack name {name!r} is {len(name)} characters; {use_case.name} allows at most {limit[0]}, "
                f"since {limit[1]} is named after it"
            )
    except deploy_params.ParameterError as error:
        raise DeployError(str(error)) from error
    except cfn_template.TemplateError as error:
        raise DeployError(f"{use_case.template}: {error}") from error
    aws = _connect(session, region, endpoint_url, target)
    cfn = aws.client("cloudformation")
    try:
        root = Path(build_root) if build_root else packaging.DEFAULT_BUILD_ROOT
        # The bucket is named after the account and region, so the packaged template can name it
        # (included snippets are read from s3://<bucket>/...) before ensure_artifact_bucket runs.
        built = packaging.package(
            use_case, root, pip=pip, artifact_bucket=artifact_bucket_name(aws.account, aws.region)
        )
    except PackagingError as error:
        raise DeployError(str(error)) from error
    out(f"deploying {use_case.name} as stack {name} in {aws.account}/{aws.region}")

    existing = _describe_stack(cfn, name)
    status = str(existing["StackStatus"]) if existing else ""
    if status == "ROLLBACK_COMPLETE":
        raise DeployError(
            f"stack {name} is ROLLBACK_COMPLETE (its first create failed) and cannot be updated; "
            f"delete it with 'make delete UC={use_case.name} STACK={name}' and deploy again"
        )
    if status.endswith(_BUSY_SUFFIX) and status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"stack {name} is busy ({status}); wait for it to finish and deploy again")
    if status in {"UPDATE_ROLLBACK_FAILED", "ROLLBACK_FAILED", "DELETE_FAILED"}:
        raise DeployError(
            f"stack {name} is {status}; fix it in the CloudFormation console, then deploy again"
        )
    updating = existing is not None and status != "REVIEW_IN_PROGRESS"

    template = built.template
    try:
        resolved = deploy_params.resolve(
            template.get("Parameters", {}),
            artifact_bucket=artifact_bucket_name(aws.account, aws.region),
            defaults=deploy_params.load_defaults(_params_file(use_case)),
            defaults_source=str(_params_file(use_case).name),
            overrides=overrides,
            previous=_stack_parameters(existing) if updating and existing else None,
        )
    except deploy_params.ParameterError as error:
        raise DeployError(str(error)) from error

    bucket = ensure_artifact_bucket(aws, out)
    # The template first (it goes through S3 when over the inline limit) and ValidateTemplate, so a
    # broken template fails before any artifact is uploaded.
    source, uploaded = _template_source(aws, bucket, built, out)
    if validate:
        _validate(cfn, aws, source, use_case.name)
    uploaded += upload_artifacts(aws, bucket, built, out)
    capabilities = required_capabilities(template, built.expanded_template)
    redo = {"Parameters": resolved.api(), "Capabilities": capabilities, **source}

    if updating and existing and _no_changes(cfn, existing, aws.target.template_body(built), resolved):
        out(f"no changes: stack {name} already runs this template with these parameters")
        outputs = aws.target.outputs(cfn, existing, template, redo, out)
        return DeployResult(name, status, uploaded, False, outputs, existing["StackId"], bucket)

    change_set_name = f"deploy-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    kind = "UPDATE" if updating else "CREATE"
    created = cfn.create_change_set(
        StackName=name,
        ChangeSetName=change_set_name,
        ChangeSetType=kind,
        Parameters=resolved.api(),
        Capabilities=capabilities,
        Description=f"make deploy UC={use_case.name}",
        Tags=[{"Key": "project", "Value": "fsxn-s3ap-patterns"}, {"Key": "use-case", "Value": use_case.name}],
        **source,
    )
    change_set_id, stack_id = created["Id"], created["StackId"]
    described = _wait_for_change_set(cfn, change_set_id, poll_seconds)
    if described["Status"] == "FAILED":
        reason = str(described.get("StatusReason", ""))
        if any(marker in reason for marker in NO_CHANGES):
            cfn.delete_change_set(ChangeSetName=change_set_id)
            out(f"no changes: stack {name} is up to date")
            stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
            outputs = aws.target.outputs(cfn, stack, template, redo, out)
            return DeployResult(name, str(stack["StackStatus"]), uploaded, False, outputs, stack_id, bucket)
        raise DeployError(f"change set for {name} failed: {reason}")
    _, changes = _change_set_changes(cfn, change_set_id)
    print_change_set(change_set_name, kind, changes, out)
    if preview:
        _discard_preview(cfn, change_set_id, stack_id, kind, out)
        out(
            f"preview only: nothing was executed and the change set was deleted; to apply it, run "
            f"'make deploy UC={use_case.name} STACK={name}' with the same PARAMS and without PREVIEW"
        )
        return DeployResult(name, "PREVIEW", uploaded, False, {}, stack_id, bucket)

    printer = _EventPrinter(cfn, stack_id, out)
    before = str(cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"])
    try:
        cfn.execute_change_set(ChangeSetName=change_set_id)
    except (ClientError, BotoCoreError, ResponseParserError) as error:
        printer.poll()
        out("failed resources:")
        out(f"  {error_message(error)}")
        raise DeployError(f"stack {name}: executing the change set failed: {error_message(error)}") from error
    except Exception as error:
        # In-process moto raises its own bugs straight through botocore (for example on some
        # updates of functions with layers); they become one clear line here, not a traceback.
        hint = aws.target.crash_hint()
        raise DeployError(
            f"stack {name}: executing the change set crashed: {type(error).__name__}: {error}{hint}"
        ) from error
    stack = wait_for_stack(cfn, stack_id, printer, poll_seconds=poll_seconds, before=before)
    final = str(stack["StackStatus"])
    if final not in _SUCCESS:
        failures = report_failures(printer.failures(), out)
        hint = (
            f"; delete it with 'make delete UC={use_case.name} STACK={name}'"
            if final == "ROLLBACK_COMPLETE"
            else ""
        )
        raise DeployError(f"stack {name} ended {final}: {len(failures)} resource(s) failed{hint}")
    outputs = aws.target.outputs(cfn, stack, template, redo, out)
    out(f"{final}: stack {name}, {len(changes)} change(s), {uploaded} artifact(s) uploaded")
    for key, value in sorted(outputs.items()):
        out(f"  {key} = {value}")
    return DeployResult(name, final, uploaded, True, outputs, stack_id, bucket)


def _check_given_values(use_case: UseCase, declared: Mapping[str, Any], overrides: Mapping[str, str]) -> None:
    """The PARAMS and params.json values against the template's rules (values, pattern, lengths, range)."""
    deploy_params.check_values(declared, overrides, source="PARAMS")
    defaults_file = _params_file(use_case)
    deploy_params.check_values(
        declared, deploy_params.load_defaults(defaults_file), source=defaults_file.name
    )


def _discard_preview(cfn: Any, change_set_id: str, stack_id: str, kind: str, out: Out) -> None:
    """Delete a previewed change set, and the empty REVIEW_IN_PROGRESS stack a CREATE one made."""
    cfn.delete_change_set(ChangeSetName=change_set_id)
    if kind == "CREATE":
        cfn.delete_stack(StackName=stack_id)
        out("removed the empty stack the CREATE change set made (REVIEW_IN_PROGRESS)")


def _params_file(uc: UseCase) -> Path:
    folder = packaging.uc_folder(uc)
    return folder / "params.json" if uc.number else uc.template.with_suffix(".params.json")


# --------------------------------------------------------------------------------------------------
# delete


class AccessDeniedError(DeployError):
    """S3 refused to delete objects of a bucket being emptied."""


def _empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker; return how many were removed."""
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        batch = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(batch), 1000):
            chunk = batch[start : start + 1000]
            result = s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
            errors = result.get("Errors", [])
            if errors:
                first = errors[0]
                kind = AccessDeniedError if first.get("Code") == "AccessDenied" else DeployError
                raise kind(f"cannot empty {bucket}: {first.get('Key')}: {first.get('Message')}")
            removed += len(chunk)
    return removed


@dataclass
class DeletePlan:
    """What a delete will remove and what it will leave, worked out before anything is touched."""

    stack_name: str
    stack_id: str
    status: str
    resources: dict[str, int] = field(default_factory=dict)  # resource type -> count
    buckets: dict[str, int | None] = field(default_factory=dict)  # own bucket -> versions (None: unknown)
    kept: list[str] = field(default_factory=list)  # one line per retained resource
    kept_buckets: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # one line per KMS key left pending deletion


Confirm = Callable[[str], str]


def _count_versions(s3: Any, bucket: str) -> int | None:
    """Object versions plus delete markers in ``bucket``; None when listing is refused."""
    count = 0
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            count += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
    except ClientError as error:
        if aws_error_code(error) == "NoSuchBucket":
            return 0
        if aws_error_code(error) not in {"AccessDenied", "403"}:
            raise
        return None
    return count


def _pending_days(resource: Mapping[str, Any]) -> str:
    """How long KMS keeps a key the stack deletes: the template's PendingWindowInDays, else 30."""
    days = resource.get("Properties", {}).get("PendingWindowInDays", KMS_DEFAULT_PENDING_DAYS)
    return f"{days} days" if isinstance(days, int | str) else "PendingWindowInDays days (from a parameter)"


def plan_delete(aws: _Aws, cfn: Any, s3: Any, stack: Mapping[str, Any]) -> DeletePlan:
    """List the stack's resources, count the versions in its own buckets, find what is kept."""
    stack_id = str(stack["StackId"])
    plan = DeletePlan(str(stack["StackName"]), stack_id, str(stack["StackStatus"]))
    declared = _stack_template(cfn, stack_id).get("Resources", {})
    resources: list[dict[str, Any]] = []
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id):
        resources += [r for r in page.get("StackResourceSummaries", []) if r.get("LogicalResourceId")]
    for resource in resources:
        logical, kind = resource["LogicalResourceId"], resource.get("ResourceType", "")
        physical = resource.get("PhysicalResourceId") or ""
        plan.resources[kind] = plan.resources.get(kind, 0) + 1
        spec = declared.get(logical, {}) if isinstance(declared.get(logical), dict) else {}
        if spec.get("DeletionPolicy") in _RETAINED:
            if kind == "AWS::S3::Bucket" and physical:
                plan.kept_buckets.append(physical)
                plan.kept.append(
                    f"bucket {physical} ({logical}): DeletionPolicy Retain, its objects left in place"
                )
            else:
                plan.kept.append(
                    f"{logical} ({kind}): DeletionPolicy {spec['DeletionPolicy']}, left as it is"
                )
        elif kind == "AWS::S3::Bucket" and physical:
            plan.buckets[physical] = _count_versions(s3, physical)
        elif kind == "AWS::KMS::Key":
            plan.keys.append(
                f"{logical} ({kind}): scheduled for deletion, pending {_pending_days(spec)}; until then "
                f"'aws kms cancel-key-deletion --key-id {physical}' can keep it, after that what it "
                "encrypted cannot be decrypted"
            )
    return plan


def print_delete_plan(aws: _Aws, plan: DeletePlan, out: Out) -> None:
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(plan.resources.items()))
    out(
        f"will delete stack {plan.stack_name} in {aws.account}/{aws.region} ({plan.status}): "
        f"{summary or 'no resources'}"
    )
    for bucket, count in plan.buckets.items():
        counted = "an uncounted number of" if count is None else str(count)
        out(f"  bucket {bucket}: {counted} object version(s) and delete marker(s), all deleted")
    for line in plan.keys:
        out(f"  {line}")
    out("will keep:")
    for line in plan.kept:
        out(f"  {line}")
    out(f"  the artifact bucket {artifact_bucket_name(aws.account, aws.region)}, shared by every stack")
    out("  the data behind the access point is never touched: the volume is not part of the stack")


def _confirmed(plan: DeletePlan, yes: bool, confirm: Confirm | None) -> None:
    """Go on with YES=1, or with the stack name typed at the prompt; otherwise raise, having done nothing."""
    if yes:
        return
    if confirm is None:
        raise DeployError(
            "not deleted: confirm interactively or pass YES=1 (make delete … YES=1) when not on a terminal"
        )
    answer = confirm(f"type the stack name {plan.stack_name} to delete it (anything else cancels): ")
    if answer.strip() != plan.stack_name:
        raise DeployError(f"not deleted: cancelled (the answer was not {plan.stack_name})")


def delete(
    uc: UseCase | str | os.PathLike[str],
    *,
    stack_name: str | None = None,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    out: Out = print,
    poll_seconds: float = POLL_SECONDS,
    yes: bool = False,
    confirm: Confirm | None = None,
    target: Target | None = None,
) -> DeleteResult:
    """Say what goes and what stays, get a yes, then empty the stack's own buckets and delete it.

    ``yes`` skips the question; otherwise ``confirm(prompt)`` must answer the stack name. Without
    either nothing is deleted. Retained resources, the artifact bucket and the access point's data
    are never touched.
    """
    try:
        use_case = packaging.resolve(uc)
    except catalog.UnknownUseCaseError as error:
        raise DeployError(str(error)) from error
    name = stack_name or default_stack_name(use_case)
    aws = _connect(session, region, endpoint_url, target)
    cfn, s3 = aws.client("cloudformation"), aws.client("s3")
    stack = _describe_stack(cfn, name)
    if stack is None:
        out(f"stack {name} does not exist in {aws.account}/{aws.region}; nothing to delete")
        return DeleteResult(name, "DOES_NOT_EXIST")
    plan = plan_delete(aws, cfn, s3, stack)
    print_delete_plan(aws, plan, out)
    _confirmed(plan, yes, confirm)

    result = DeleteResult(name, "", dict(plan.resources), kept=list(plan.kept_buckets))
    for bucket in plan.buckets:
        try:
            result.emptied[bucket] = aws.target.empty_bucket(s3, bucket, _empty_bucket, out)
        except ClientError as error:
            if aws_error_code(error) != "NoSuchBucket":
                raise
            continue
        out(f"emptied bucket {bucket}: {result.emptied[bucket]} object version(s) removed")
    stack_id = plan.stack_id
    printer = _EventPrinter(cfn, stack_id, out)
    cfn.delete_stack(StackName=stack_id)
    final = wait_for_stack(cfn, stack_id, printer, poll_seconds=poll_seconds, before=plan.status)
    result.status = str(final["StackStatus"])
    if result.status != "DELETE_COMPLETE":
        failures = report_failures(printer.failures(), out)
        raise DeployError(
            f"stack {name} ended {result.status}: {len(failures)} resource(s) could not be deleted"
        )
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(result.resources.items()))
    out(f"DELETE_COMPLETE: stack {name} ({summary or 'no resources'})")
    for line in plan.keys:
        out(f"  KMS key {line}")
    kept = [*plan.kept_buckets, f"the artifact bucket {artifact_bucket_name(aws.account, aws.region)}"]
    out(f"kept: {', '.join(kept)} and the access point data")
    return result


def _stack_template(cfn: Any, stack_id: str) -> dict[str, Any]:
    """The stack's template as deployed, or {} when CloudFormation cannot return it."""
    try:
        # Processed: with the transforms and included snippets applied, every resource is declared.
        body = cfn.get_template(StackName=stack_id, TemplateStage="Processed").get("TemplateBody")
    except ClientError:
        return {}
    template = body if isinstance(body, dict) else cfn_template.loads(str(body))
    return dict(template)


# --------------------------------------------------------------------------------------------------
# CLI


def _stdin_is_terminal() -> bool:
    """True when someone can answer a question (make delete asks before it deletes)."""
    return sys.stdin is not None and sys.stdin.isatty()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["deploy", "delete", "package"])
    parser.add_argument("uc", help="use case name, UC<n> or folder ('all' for package)")
    parser.add_argument("--stack", default=None, help="stack name (default: fsxn-<uc>)")
    parser.add_argument("--region", default=None, help="AWS region (default: AWS_REGION or the profile's)")
    parser.add_argument("--params", default="", help="overrides, e.g. \"Environment=dev Name='a b'\"")
    parser.add_argument(
        "--preview", action="store_true", help="deploy: print the change set, execute nothing"
    )
    parser.add_argument("--yes", action="store_true", help="delete: do not ask (needed off a terminal)")
    parser.add_argument("--build-root", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "package":
            extra = ["--build-root", str(args.build_root)] if args.build_root else []
            return packaging.main([args.uc, *extra])
        if args.command == "deploy":
            deploy(
                args.uc,
                stack_name=args.stack,
                region=args.region,
                params=args.params or None,
                build_root=args.build_root,
                preview=args.preview,
            )
        else:
            confirm = input if _stdin_is_terminal() else None
            delete(args.uc, stack_name=args.stack, region=args.region, yes=args.yes, confirm=confirm)
    except (DeployError, PackagingError, deploy_params.ParameterError, catalog.UnknownUseCaseError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except NoCredentialsError:
        print("error: no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID", file=sys.stderr)
        return 1
    except EndpointUnreachableError as error:
        region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        print(f"error: {_could_not_connect(error, None, region)}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError, ResponseParserError) as error:
        print(f"error: AWS refused the request: {error_message(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; CloudFormation carries on with what it started", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
