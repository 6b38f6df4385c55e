"""How ``scripts.deploy`` reaches moto: the deploy target of the embedded local cloud and of a moto server.

``scripts.deploy`` is written for AWS and asks its :class:`~scripts.deploy.Target` wherever the
place it deploys to may differ. This module is the one place that knows how moto 5.2.5 differs:

* a stack made or changed by a change set reports no Outputs (its output map is only rebuilt by
  ``UpdateStack``); when the template declares unconditional outputs and none come back, the outputs
  are re-read through an ``UpdateStack`` of the same template and values, a no-op for the resources;
* a resource that fails to create makes ``ExecuteChangeSet`` itself fail (the stack stays in
  REVIEW_IN_PROGRESS) instead of producing ``CREATE_FAILED`` events and a rollback; deploy reports
  the error of the call as the failure, on any target;
* it writes no per-resource events, only the stack's own;
* it runs no transforms, so it is given the template with the loops already expanded;
* it applies a bucket policy's Deny without its Condition, so the artifact bucket gets no TLS-only
  policy here, and delete drops a stack bucket's policy if moto then denies access to it;
* in-process, some updates crash inside moto; the crash becomes one line that says to recreate.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from scripts.deploy import NO_CHANGES, AccessDeniedError, Out, Target, error_message
from scripts.packaging import PackagedUseCase
from shared.errors import aws_error_code

logger = logging.getLogger(__name__)

LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def moto_in_process() -> bool:
    """True while moto patches botocore in this process (``mock_aws``, the embedded local cloud)."""
    models = sys.modules.get("moto.core.models")
    return bool(models is not None and getattr(models.botocore_stubber, "enabled", False))


def is_moto(endpoint_url: str | None) -> bool:
    """A moto server on this machine (``AWS_ENDPOINT_URL`` on a loopback address), or moto in-process."""
    host = urlparse(endpoint_url).hostname if endpoint_url else None
    return host in LOOPBACK or moto_in_process()


class MotoTarget(Target):
    """moto 5.2.5 as a deploy target: each method works around one difference from AWS."""

    name = "moto"

    def artifact_bucket_policy(self, policy: dict[str, Any]) -> dict[str, Any] | None:
        # moto applies a Deny statement whatever its Condition says, so the TLS-only policy would
        # refuse every call; the local bucket goes without it.
        return None

    def template_body(self, packaged: PackagedUseCase) -> str:
        return packaged.expanded_body or packaged.template_body

    def crash_hint(self) -> str:
        return "; moto applies few updates: delete the stack and deploy again"

    def outputs(
        self,
        cfn: Any,
        stack: Mapping[str, Any],
        template: Mapping[str, Any],
        update: Mapping[str, Any],
        out: Out,
    ) -> dict[str, str]:
        """The stack's outputs; re-read through a same-template UpdateStack when moto dropped them."""
        outputs = super().outputs(cfn, stack, template, update, out)
        declared = [o for o in template.get("Outputs", {}).values() if "Condition" not in o]
        if outputs or not declared:
            return outputs
        out("  the stack reports no outputs although the template declares some; re-reading them")
        try:
            cfn.update_stack(StackName=stack["StackId"], **update)
        except ClientError as error:
            if not any(marker in error_message(error) for marker in NO_CHANGES):
                raise
        again = cfn.describe_stacks(StackName=stack["StackId"])["Stacks"][0]
        return super().outputs(cfn, again, template, update, out)

    def empty_bucket(self, s3: Any, bucket: str, empty: Callable[[Any, str], int], out: Out) -> int:
        """Empty ``bucket``; first drop a bucket policy that moto wrongly reads as deny-all."""
        try:
            return empty(s3, bucket)
        except AccessDeniedError:
            pass
        except ClientError as error:
            if aws_error_code(error) not in {"AccessDenied", "403"}:
                raise
        # The stack deletes the policy anyway, so removing it first changes nothing that remains.
        out(f"moto denied access to {bucket} through its bucket policy; removing the policy first")
        s3.delete_bucket_policy(Bucket=bucket)
        return empty(s3, bucket)


def target_for(endpoint_url: str | None) -> Target | None:
    """The moto target where the endpoint is moto; None where it is AWS."""
    return MotoTarget() if is_moto(endpoint_url) else None
