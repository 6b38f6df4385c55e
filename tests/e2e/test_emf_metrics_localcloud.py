"""On the local cloud, a use case's EMF lines become metrics the committed dashboard's queries read back.

retail-catalog is packaged and deployed, its discovery function runs from the uploaded zip over
seeded images, and FilesProcessed is read with GetMetricData using exactly the dimensions of the
committed dashboard's widget for that function.
"""

from __future__ import annotations

from typing import Any

import pytest

from scripts import catalog, cfn_template, observability_check, observability_stacks
from scripts.demos import retail_catalog as retail_demo
from scripts.localcloud import LocalCloud
from scripts.localcloud.cloud import local_layer_pip
from shared.observability import NAMESPACE

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")]


def _dashboard_dimensions(parameters: dict[str, str], function: str, metric: str) -> dict[str, str]:
    """The dimensions the committed dashboard's widget uses for ``metric`` of ``function``."""
    template = cfn_template.load(observability_stacks.DASHBOARD_PATH)
    evaluation = cfn_template.evaluate(template, "dash", parameters)
    queries, problems = observability_check.dashboard_queries(
        evaluation.properties("Dashboard")["DashboardBody"], "dashboard"
    )
    assert problems == []
    (query,) = [q for q in queries if q.name == metric and q.dimensions.get("FunctionName") == function]
    dims: dict[str, Any] = dict(query.dimensions)
    assert None not in dims.values()
    return dims


def test_files_processed_reads_back_with_the_dashboard_dimensions() -> None:
    uc = catalog.find("retail-catalog")
    with LocalCloud() as cloud:
        access_point = cloud.create_access_point()
        params = retail_demo.parameters(access_point) | {
            "EnableStreamingMode": "false",
            "Environment": "prod",
        }
        cloud.deploy(str(uc.path), params, stack_name="rc", pip=local_layer_pip)
        seeded = retail_demo.seed(cloud, access_point, 6)
        invocation = cloud.invoke("rc-discovery", {"prefix": "products/"})
        assert invocation.function_error is None, invocation.payload
        assert invocation.payload["listed"] == seeded

        dims = _dashboard_dimensions({"RetailCatalogStackName": "rc", "Environment": "prod"}, "rc-discovery",
                                     "FilesProcessed")  # fmt: skip
        assert dims == {"UseCase": "retail-catalog", "FunctionName": "rc-discovery", "Environment": "prod"}
        assert cloud.metrics(NAMESPACE, "FilesProcessed", dims) == float(seeded)
        # The seed's mistake, a query without the Environment dimension, finds nothing.
        partial = {k: v for k, v in dims.items() if k != "Environment"}
        assert cloud.metrics(NAMESPACE, "FilesProcessed", partial) == 0.0


def test_shared_stacks_deploy_through_the_project_deploy() -> None:
    """``make deploy UC=alert-automation`` / ``UC=observability-dashboard`` run this same code path."""
    with LocalCloud() as cloud:
        alerts = cloud.deploy("alert-automation", {"NotificationEmail": "ops@example.com"})
        assert alerts.status.endswith("_COMPLETE")
        dashboard = cloud.deploy("observability-dashboard", {"Environment": "prod"})
        assert dashboard.status.endswith("_COMPLETE")
        cloudwatch = cloud.client("cloudwatch")
        alarms = cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        names = {a["AlarmName"] for a in alarms["MetricAlarms"]}
        assert {f"{alerts.name}-processing-errors", f"{alerts.name}-processing-duration"} <= names
        (composite,) = alarms["CompositeAlarms"]
        assert f'ALARM("{alerts.name}-processing-errors")' in composite["AlarmRule"]
        body = cloudwatch.get_dashboard(DashboardName="FSxN-S3AP-Patterns")["DashboardBody"]
        assert '"Files processed (all use cases)"' in body
