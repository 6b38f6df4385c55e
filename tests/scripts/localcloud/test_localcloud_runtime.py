"""The Lambda runtime adapter against what Lambda does: code from the zip, env, context, logs, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import pytest

from scripts.localcloud import LocalCloud

PROBE = """
import os, logging
logger = logging.getLogger(__name__)
COUNT = {"n": 0}

def handler(event, context):
    COUNT["n"] += 1
    print("hello from", context.function_name)
    logger.warning("a warning")
    if event.get("raise"):
        raise ValueError("boom " + event["raise"])
    return {
        "env": os.environ.get("TABLE_NAME"),
        "name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "region": os.environ.get("AWS_REGION"),
        "remaining": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "request_id": context.aws_request_id,
        "count": COUNT["n"],
    }
"""


@pytest.fixture(scope="module")
def probe(make_function: Callable[..., str]) -> str:
    make_function(
        "probe",
        {"handler.py": PROBE},
        Timeout=30,
        MemorySize=256,
        Environment={"Variables": {"TABLE_NAME": "t1"}},
    )
    return "probe"


def test_handler_runs_from_its_zip_with_config_environment_and_context(cloud: LocalCloud, probe: str) -> None:
    result = cloud.invoke(probe, {})
    assert result.function_error is None
    payload = result.payload
    assert payload["env"] == "t1"
    assert payload["name"] == "probe"
    assert payload["region"] == "us-east-1"
    assert payload["memory"] == 256
    assert 25_000 < payload["remaining"] <= 30_000
    assert payload["request_id"] == result.request_id


def test_environment_is_restored_after_the_call(cloud: LocalCloud, probe: str) -> None:
    import os

    before = os.environ.get("TABLE_NAME")
    cloud.invoke(probe, {})
    assert os.environ.get("TABLE_NAME") == before


def test_other_threads_can_walk_the_environment_while_functions_run(cloud: LocalCloud, probe: str) -> None:
    """Invocations add and remove variables; botocore in other threads copies the whole environment."""
    import os
    import threading
    import urllib.request

    failures: list[str] = []
    stop = threading.Event()

    def walk() -> None:
        while not stop.is_set():
            try:
                urllib.request.getproxies()
                os.environ.copy()
            except KeyError as error:
                failures.append(repr(error))
                return

    reader = threading.Thread(target=walk)
    reader.start()
    try:
        for _ in range(300):
            cloud.invoke(probe, {})
    finally:
        stop.set()
        reader.join()
    assert failures == []


def test_module_state_survives_between_warm_invocations(cloud: LocalCloud, probe: str) -> None:
    first = cloud.invoke(probe, {}).payload["count"]
    assert cloud.invoke(probe, {}).payload["count"] == first + 1


def test_stdout_and_logging_go_to_the_function_log_group(cloud: LocalCloud, probe: str) -> None:
    result = cloud.invoke(probe, {})
    lines = cloud.log_lines(probe)
    assert any(line == "hello from probe" for line in lines)
    assert any(line.startswith("[WARNING]\t") and line.endswith("\ta warning") for line in lines)
    assert f"END RequestId: {result.request_id}" in lines
    assert any(line.startswith(f"REPORT RequestId: {result.request_id}\tDuration:") for line in lines)


def test_exception_becomes_unhandled_function_error_with_lambda_payload(
    cloud: LocalCloud, probe: str
) -> None:
    response = cloud.client("lambda").invoke(FunctionName=probe, Payload=json.dumps({"raise": "x"}).encode())
    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "boom x"
    assert isinstance(payload["stackTrace"], list)
    assert payload["stackTrace"]
    assert any('"handler.py"' in frame or "handler.py" in frame for frame in payload["stackTrace"])
    assert "requestId" in payload


def test_two_zips_with_a_handler_module_do_not_shadow_each_other(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    make_function(
        "twin-a",
        {
            "handler.py": "import helper\ndef handler(e, c):\n    return helper.NAME\n",
            "helper.py": "NAME = 'a'\n",
        },
    )
    make_function(
        "twin-b",
        {
            "handler.py": "import helper\ndef handler(e, c):\n    return helper.NAME\n",
            "helper.py": "NAME = 'b'\n",
        },
    )
    assert cloud.invoke("twin-a").payload == "a"
    assert cloud.invoke("twin-b").payload == "b"
    assert cloud.invoke("twin-a").payload == "a"


def test_unserializable_result_is_a_marshal_error(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    make_function("returns-set", {"handler.py": "def handler(e, c):\n    return {1, 2}\n"})
    result = cloud.invoke("returns-set")
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.MarshalError"


def test_a_type_error_the_handler_raises_is_its_own_unhandled_error(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    # Only the result's serialization is a marshal error; an exception from the handler is reported
    # as itself, whatever its type or message.
    make_function(
        "raises-type-error",
        {"handler.py": "import json\ndef handler(e, c):\n    return json.dumps({1, 2})\n"},
    )
    result = cloud.invoke("raises-type-error")
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "TypeError"
    assert "JSON serializable" in result.payload["errorMessage"]


def test_running_past_the_timeout_is_reported_as_sandbox_timedout(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    make_function(
        "slow",
        {"handler.py": "import time\ndef handler(e, c):\n    time.sleep(1.05)\n    return 1\n"},
        Timeout=1,
    )
    result = cloud.invoke("slow")
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result.payload["errorMessage"]


def test_import_failures_are_reported_as_lambda_runtime_errors(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    make_function(
        "bad-import", {"handler.py": "import not_a_module_anywhere\ndef handler(e, c):\n    return 1\n"}
    )
    result = cloud.invoke("bad-import")
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'handler'" in result.payload["errorMessage"]
    make_function("no-handler", {"handler.py": "def other(e, c):\n    return 1\n"})
    missing = cloud.invoke("no-handler")
    assert missing.payload["errorType"] == "Runtime.HandlerNotFound"


def test_a_handler_that_invokes_another_function_gets_its_own_result(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    make_function("inner", {"handler.py": "def handler(e, c):\n    return 'inner'\n"})
    outer = (
        "import boto3, json\n"
        "def handler(e, c):\n"
        "    r = boto3.client('lambda').invoke(FunctionName='inner')\n"
        "    return {'outer': json.loads(r['Payload'].read())}\n"
    )
    # The default 3 s timeout would make the result depend on the machine's load (a boto3 client is
    # built inside the call); the nesting is what is tested, not the speed.
    make_function("outer", {"handler.py": outer}, Timeout=60)
    assert cloud.invoke("outer").payload == {"outer": "inner"}


def test_output_of_threads_the_handler_starts_goes_to_its_log(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    code = (
        "import logging\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "logger = logging.getLogger('worker')\n"
        "def work(n):\n"
        "    print(f'shard {n} listed')\n"
        "    logger.warning('shard %d slow', n)\n"
        "def handler(e, c):\n"
        "    with ThreadPoolExecutor(2) as pool:\n"
        "        list(pool.map(work, range(3)))\n"
        "    return 'done'\n"
    )
    make_function("threaded", {"handler.py": code})
    lines = cloud.invoke("threaded").log_lines
    assert sorted(line for line in lines if line.startswith("shard")) == [
        f"shard {n} listed" for n in range(3)
    ]
    assert len([line for line in lines if line.startswith("[WARNING]") and "slow" in line]) == 3


def test_an_invocation_unpacks_into_payload_error_and_log_lines(cloud: LocalCloud, probe: str) -> None:
    payload, error, lines = cloud.invoke(probe, {})
    assert error is None
    assert payload["name"] == "probe"
    assert lines[0].startswith("START RequestId:")


def _counting_zip(name: str) -> dict[str, str]:
    """A function whose package ``shared`` keeps a counter, imported at load and again at call time."""
    handler = (
        "from shared import counter as loaded\n"
        "def handler(e, c):\n"
        "    from shared import counter, late\n"
        "    import shared.late as late_again\n"
        "    counter.calls.append(1)\n"
        "    return {'same': counter is loaded, 'calls': len(loaded.calls), 'name': counter.NAME,\n"
        "            'late_same': late is late_again, 'late_id': id(late)}\n"
    )
    return {
        "handler.py": handler,
        "shared/__init__.py": "",
        "shared/counter.py": f"NAME = {name!r}\ncalls = []\n",
        "shared/late.py": "",
    }


def test_a_call_time_import_returns_the_module_of_the_load_time_import(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    make_function("calltime-a", _counting_zip("a"))
    make_function("calltime-b", _counting_zip("b"))
    first = cloud.invoke("calltime-a").payload
    assert (first["same"], first["calls"], first["name"]) == (True, 1, "a")
    other = cloud.invoke("calltime-b").payload
    # The other zip keeps its own modules: its own name and a counter that starts again.
    assert (other["same"], other["calls"], other["name"]) == (True, 1, "b")
    again = cloud.invoke("calltime-a").payload
    assert (again["same"], again["calls"], again["name"]) == (True, 2, "a")
    # A module first imported at call time stays the function's own across warm calls.
    assert again["late_same"] and again["late_id"] == first["late_id"]
    assert again["late_id"] != other["late_id"]
    # Nothing of either zip is left in this process's modules.
    assert "shared.counter" not in sys.modules and "shared.late" not in sys.modules
