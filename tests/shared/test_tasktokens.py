"""The task-token store on moto: long tokens, id collisions, settle-once, lookups, job names and tags."""

from __future__ import annotations

import itertools
import logging
import re
import string
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from shared import tasktokens
from shared.tasktokens import (
    FAILED,
    SUCCEEDED,
    WAITING,
    CorrelationCollisionError,
    TaskTokenError,
    TaskTokenStore,
    job_name_for,
    new_correlation_id,
    table_definition,
    tags_from_event,
    validate_job_name,
    validate_tag_value,
)

TABLE = "uc9-task-tokens"
SAGEMAKER_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**table_definition(TABLE))
        yield client


@pytest.fixture
def store(dynamodb: Any) -> TaskTokenStore:
    return TaskTokenStore(TABLE, client=dynamodb, ttl_seconds=3600, clock=lambda: 1_000_000.0)


def _fixed_ids(*ids: str) -> Any:
    iterator = iter(ids)
    return lambda: next(iterator)


# -- put / get ------------------------------------------------------------------------------------

# Task tokens are opaque; cover every printable ASCII character and the full documented length.
TOKENS = st.text(alphabet=string.ascii_letters + string.digits + "+/=_-.:", min_size=1, max_size=2048)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=TOKENS, suffix=st.integers(min_value=0, max_value=10**9))
def test_any_token_of_1_to_2048_chars_round_trips(store: TaskTokenStore, token: str, suffix: int) -> None:
    job_name = f"uc9-abc-{suffix}"
    correlation_id = store.put(token, job_name, context={"manifest_key": "runs/r/segmentation/job.json"})
    record = store.get(correlation_id=correlation_id)
    assert record is not None
    assert record.token == token
    assert record.job_name == job_name
    assert record.state == WAITING
    assert record.context == {"manifest_key": "runs/r/segmentation/job.json"}
    assert len(correlation_id) <= 256
    validate_tag_value(correlation_id)


def test_the_longest_documented_token_and_beyond_are_stored(store: TaskTokenStore) -> None:
    for length in (1, 1024, 2048, 4096):
        token = "t" * length
        record = store.get(correlation_id=store.put(token, f"uc9-len-{length}"))
        assert record is not None
        assert record.token == token


@pytest.mark.parametrize("token", ["", "x" * (tasktokens.MAX_TOKEN_CHARS + 1)])
def test_an_empty_or_absurd_token_is_refused(store: TaskTokenStore, token: str) -> None:
    with pytest.raises(TaskTokenError):
        store.put(token, "uc9-job")


def test_an_invalid_job_name_is_refused_before_writing(store: TaskTokenStore, dynamodb: Any) -> None:
    with pytest.raises(TaskTokenError):
        store.put("token", "bad_name!")
    assert dynamodb.scan(TableName=TABLE)["Count"] == 0


def test_ttl_is_the_callback_timeout_plus_a_margin(store: TaskTokenStore) -> None:
    record = store.get(correlation_id=store.put("token", "uc9-ttl"))
    assert record is not None
    assert record.created_at == 1_000_000
    assert record.expires_at == 1_000_000 + 3600 + tasktokens.DEFAULT_TTL_MARGIN_SECONDS


def test_get_by_job_name_uses_the_index(store: TaskTokenStore) -> None:
    correlation_id = store.put("token-a", "uc9-job-a")
    store.put("token-b", "uc9-job-b")
    record = store.get(job_name="uc9-job-a")
    assert record is not None
    assert record.correlation_id == correlation_id
    assert record.token == "token-a"
    assert store.get(job_name="uc9-unknown") is None
    assert store.get(correlation_id="0" * 32) is None


def test_get_needs_exactly_one_key(store: TaskTokenStore) -> None:
    with pytest.raises(TaskTokenError):
        store.get()
    with pytest.raises(TaskTokenError):
        store.get(correlation_id="a", job_name="b")


# -- collisions -----------------------------------------------------------------------------------


def test_a_colliding_correlation_id_is_redrawn(dynamodb: Any, caplog: pytest.LogCaptureFixture) -> None:
    ids = _fixed_ids("a" * 32, "a" * 32, "b" * 32)
    store = TaskTokenStore(TABLE, client=dynamodb, id_factory=ids)
    first = store.put("token-1", "uc9-one")
    with caplog.at_level(logging.WARNING, logger="shared.tasktokens"):
        second = store.put("token-2", "uc9-two")
    assert (first, second) == ("a" * 32, "b" * 32)
    assert "collision" in caplog.text
    # The first token was not overwritten by the colliding put.
    record = store.get(correlation_id="a" * 32)
    assert record is not None
    assert record.token == "token-1"


def test_endless_collisions_raise_instead_of_overwriting(dynamodb: Any) -> None:
    store = TaskTokenStore(TABLE, client=dynamodb, id_factory=lambda: "c" * 32, max_attempts=3)
    store.put("token-1", "uc9-one")
    with pytest.raises(CorrelationCollisionError):
        store.put("token-2", "uc9-two")
    record = store.get(correlation_id="c" * 32)
    assert record is not None
    assert record.token == "token-1"


def test_ids_that_are_not_tag_safe_are_refused(dynamodb: Any) -> None:
    store = TaskTokenStore(TABLE, client=dynamodb, id_factory=lambda: "x" * 257)
    with pytest.raises(TaskTokenError):
        store.put("token", "uc9-job")


# -- settle once ----------------------------------------------------------------------------------


def test_complete_happens_once_and_the_second_is_a_logged_no_op(
    store: TaskTokenStore, caplog: pytest.LogCaptureFixture
) -> None:
    correlation_id = store.put("token", "uc9-once")
    assert store.complete(correlation_id, "ok") is True
    with caplog.at_level(logging.WARNING, logger="shared.tasktokens"):
        assert store.complete(correlation_id, "again") is False
        assert store.fail(correlation_id, "late failure") is False
    assert "already settled" in caplog.text
    record = store.get(correlation_id=correlation_id)
    assert record is not None
    assert (record.state, record.outcome) == (SUCCEEDED, "ok")


def test_fail_happens_once(store: TaskTokenStore) -> None:
    correlation_id = store.put("token", "uc9-fail")
    assert store.fail(correlation_id, "job failed") is True
    assert store.complete(correlation_id) is False
    record = store.get(correlation_id=correlation_id)
    assert record is not None
    assert (record.state, record.outcome) == (FAILED, "job failed")


def test_settling_an_unknown_id_is_a_no_op(store: TaskTokenStore) -> None:
    assert store.complete("f" * 32) is False


def test_release_puts_a_claimed_token_back(store: TaskTokenStore) -> None:
    correlation_id = store.put("token", "uc9-release")
    assert store.complete(correlation_id) is True
    store.release(correlation_id)
    assert [r.correlation_id for r in store.waiting()] == [correlation_id]
    assert store.complete(correlation_id) is True


def test_waiting_lists_only_unsettled_tokens(store: TaskTokenStore) -> None:
    done = store.put("t1", "uc9-done")
    pending = store.put("t2", "uc9-pending")
    store.complete(done)
    assert [r.correlation_id for r in store.waiting()] == [pending]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(["complete", "fail", "complete", "fail"]))
def test_any_sequence_of_callbacks_settles_exactly_once(store: TaskTokenStore, order: list[str]) -> None:
    correlation_id = store.put("token", "uc9-race")
    outcomes = [getattr(store, action)(correlation_id, action) for action in order]
    assert outcomes.count(True) == 1
    assert outcomes[0] is True
    record = store.get(correlation_id=correlation_id)
    assert record is not None
    assert record.state == (SUCCEEDED if order[0] == "complete" else FAILED)


# -- job names and tags ---------------------------------------------------------------------------

PREFIXES = st.from_regex(r"\A[a-z0-9](-?[a-z0-9]){0,14}\Z")
EXECUTION_IDS = st.text(min_size=1, max_size=300)


@settings(max_examples=200, deadline=None)
@given(prefix=PREFIXES, execution_id=EXECUTION_IDS, attempt=st.text(max_size=2048))
def test_job_names_are_valid_for_sagemaker_and_keep_the_prefix(
    prefix: str, execution_id: str, attempt: str
) -> None:
    name = job_name_for(prefix, execution_id, attempt)
    assert len(name) <= 63
    assert SAGEMAKER_JOB_NAME.match(name)
    assert name.startswith(prefix + "-")
    assert name == name.lower() or prefix != prefix.lower()
    assert name == job_name_for(prefix, execution_id, attempt)


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(EXECUTION_IDS, min_size=2, max_size=20, unique=True))
def test_job_names_differ_per_execution(ids: list[str]) -> None:
    names = {job_name_for("uc9-1a2b3c4d", execution_id) for execution_id in ids}
    assert len(names) == len(ids)


def test_job_names_differ_per_task_attempt_but_not_per_retry_of_the_same_token() -> None:
    execution = "arn:aws:states:us-east-1:123456789012:execution:pipeline:run-1"
    assert job_name_for("uc9-x", execution, "token-1") == job_name_for("uc9-x", execution, "token-1")
    assert job_name_for("uc9-x", execution, "token-1") != job_name_for("uc9-x", execution, "token-2")


@pytest.mark.parametrize("prefix", ["", "-uc9", "uc9-", "uc9_x", "x" * 31, "uc9--"])
def test_invalid_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(TaskTokenError):
        job_name_for(prefix, "execution")


@pytest.mark.parametrize("name", ["", "-a", "a-", "a_b", "a" * 64, "a b"])
def test_invalid_job_names_are_refused(name: str) -> None:
    with pytest.raises(TaskTokenError):
        validate_job_name(name)


def test_correlation_ids_are_short_unique_and_tag_safe() -> None:
    ids = [new_correlation_id() for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    for value in itertools.islice(ids, 50):
        assert validate_tag_value(value) == value


@settings(max_examples=200, deadline=None)
@given(value=st.text(alphabet=string.ascii_letters + string.digits + " _.:/=+-@", max_size=300))
def test_tag_values_are_accepted_exactly_up_to_256_safe_characters(value: str) -> None:
    if len(value) <= 256:
        assert validate_tag_value(value) == value
    else:
        with pytest.raises(TaskTokenError):
            validate_tag_value(value)


@pytest.mark.parametrize("value", ["a\nb", "tok;en", "é" * 3, "<x>"])
def test_unsafe_tag_characters_are_refused(value: str) -> None:
    with pytest.raises(TaskTokenError):
        validate_tag_value(value)


def test_tags_come_from_either_event_shape() -> None:
    assert tags_from_event({"Tags": {"CorrelationId": "abc"}}) == {"CorrelationId": "abc"}
    assert tags_from_event({"Tags": [{"Key": "CorrelationId", "Value": "abc"}]}) == {"CorrelationId": "abc"}
    assert tags_from_event({}) == {}
    assert tags_from_event({"Tags": None}) == {}
