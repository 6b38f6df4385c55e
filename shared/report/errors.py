"""Typed errors of the report step.

Every error is a :class:`shared.errors.PatternError`, so Step Functions sees it by name and a
handler can log ``error.to_dict()``. A model error is never turned into a report: the step fails
and nothing is written under the report keys.

* :class:`PromptBudgetError`: the prompt cannot be brought under the byte budget (the fixed part
  alone is too long, or the facts cannot be trimmed further); a configuration problem.
* :class:`ReportModelError` and its subclasses: Bedrock refused the request
  (:class:`ModelInvocationError`, with the service's error ``code``), answered nothing
  (:class:`ModelEmptyAnswerError`), answered something that is not the requested JSON
  (:class:`ModelMalformedAnswerError`, ``problem`` names what is wrong), stopped at the token limit
  (:class:`ModelTruncatedAnswerError`) or refused by guardrail or content filter
  (:class:`ModelRefusedError`). Throttling and 5xx are not among them: they raise
  :class:`shared.polling.errors.TransientServiceError`, which the state retries.
* :class:`ReportNotificationError`: the report was written but SNS refused the notification; the
  details carry the report's S3 URI.
"""

from __future__ import annotations

import logging

from shared.errors import PatternError

logger = logging.getLogger(__name__)


class ReportError(PatternError):
    """Base class of the report step's errors."""


class PromptBudgetError(ReportError):
    """The prompt cannot fit in the byte budget."""


class ReportModelError(ReportError):
    """The model gave no usable report; nothing is saved."""


class ModelInvocationError(ReportModelError):
    """Bedrock Converse refused the request (access denied, unknown model, validation, ...)."""


class ModelEmptyAnswerError(ReportModelError):
    """The answer had no text."""


class ModelMalformedAnswerError(ReportModelError):
    """The answer is not the JSON object the prompt asked for."""


class ModelTruncatedAnswerError(ModelMalformedAnswerError):
    """The answer stopped at the token limit (stopReason ``max_tokens``)."""


class ModelRefusedError(ReportModelError):
    """A guardrail or content filter stopped the answer."""


class ReportNotificationError(ReportError):
    """The report was saved, but its SNS notification could not be published."""
