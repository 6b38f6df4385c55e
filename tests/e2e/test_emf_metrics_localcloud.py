"""On the local cloud, a function's EMF lines become metrics the dashboard's own queries read back.

A use case is packaged and deployed, its function runs from the uploaded zip, and FilesProcessed
and BytesProcessed are read with GetMetricData using exactly the dimensions the generated dashboard
puts in its widgets for that function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scripts import catalog, cfn_template, observability_check, observability_stacks
from scripts.localcloud import LocalCloud
from shared.observability import NAMESPACE

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "obs-uc"
FIXTURE_UC = catalog.UseCase(9, "obs-uc", "Test", str(FIXTURE), "Fixture with a state machine and a stream.")

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")]


def _dashboard_dimensions(stack: str, function: str, metric: str) -> dict[str, str]:
    """The dimensions the dashboard's widget uses for ``metric`` of ``function``."""
    template = observability_stacks.dashboard_template([observability_stacks.inventory(FIXTURE_UC)])
    evaluation = cfn_template.evaluate(template, "dash", {"ObsUcStackName": stack})
    queries, problems = observability_check.dashboard_queries(
        evaluation.properties("Dashboard")["DashboardBody"], "dashboard"
    )
    assert problems == []
    (query,) = [q for q in queries if q.name == metric and q.dimensions.get("FunctionName") == function]
    dims: dict[str, Any] = dict(query.dimensions)
    assert None not in dims.values()
    return dims


def test_files_processed_reads_back_with_the_dashboard_dimensions() -> None:
    with LocalCloud() as cloud:
        cloud.deploy(str(FIXTURE), {"Environment": "prod"}, stack_name="obs")
        invocation = cloud.invoke("obs-process", {"files": [{"size": 10}, {"size": 32}, {"size": 0}]})
        assert invocation.function_error is None, invocation.payload
        cloud.invoke("obs-process", {"files": [{"size": 8}]})

        files_dims = _dashboard_dimensions("obs", "obs-process", "FilesProcessed")
        assert files_dims == {"UseCase": "obs-uc", "FunctionName": "obs-process", "Environment": "prod"}
        assert cloud.metrics(NAMESPACE, "FilesProcessed", files_dims) == 4.0
        bytes_dims = _dashboard_dimensions("obs", "obs-process", "BytesProcessed")
        assert cloud.metrics(NAMESPACE, "BytesProcessed", bytes_dims) == 50.0
        # The seed's mistake, querying without the Environment dimension, finds nothing.
        partial = {k: v for k, v in files_dims.items() if k != "Environment"}
        assert cloud.metrics(NAMESPACE, "FilesProcessed", partial) == 0.0
