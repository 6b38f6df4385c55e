"""On the local cloud, a use case's EMF lines become metrics the committed dashboard's searches find.

retail-catalog is packaged and deployed, its discovery function runs from the uploaded zip over
seeded images, and the committed dashboard's searches are evaluated against the local CloudWatch
(ListMetrics, GetMetricData): every handler-metric widget finds the function; its FilesListed line
adds up to the files it listed, and its FilesProcessed line stays at zero (discovery processes no
file, so a steady-state dashboard does not count listings as work). The demo's picture is drawn
from the same run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from retail_catalog import demo as retail_demo
from scripts import catalog, render_dashboard
from scripts.demos import draw_dashboard
from scripts.localcloud import LocalCloud
from scripts.localcloud.cloud import local_layer_pip
from shared.observability import HANDLER_METRICS, NAMESPACE

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")]


def test_dashboard_searches_find_what_the_function_emitted(tmp_path: Path) -> None:
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
        # The seed's mistake, a metric without the Environment dimension, is found by no search.
        cloud.client("cloudwatch").put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": "FilesProcessed",
                    "Dimensions": [
                        {"Name": "UseCase", "Value": uc.name},
                        {"Name": "FunctionName", "Value": "rc-x"},
                    ],
                    "Value": 99.0,
                }
            ],
        )

        points = list(cloud.emf.points)
        source = render_dashboard.CloudWatchSource(cloud.client("cloudwatch"), points)
        body = render_dashboard.dashboard_body()
        data = render_dashboard.dashboard_data(body, source, render_dashboard.window_for(points))
        by_metric = {
            render_dashboard.searched_metric(body["widgets"][index]): lines
            for index, lines in data.items()
            if body["widgets"][index]["properties"]["title"].endswith("per function")
        }
        for metric in HANDLER_METRICS:
            assert [line.label for line in by_metric[metric]] == ["rc-discovery"], metric
        # Discovery lists files; it processes none (FilesProcessed counts per-file work only).
        (listed,) = by_metric["FilesListed"]
        assert sum(value for _, value in listed.points) == float(seeded)
        (files,) = by_metric["FilesProcessed"]
        assert sum(value for _, value in files.points) == 0.0

        picture = draw_dashboard(cloud, uc, tmp_path)
    assert picture == tmp_path / uc.name / "dashboard.png" and picture.stat().st_size > 0
    assert render_dashboard.read_snapshot(tmp_path / uc.name / "metrics.json")


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
