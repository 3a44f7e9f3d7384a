"""Microsoft.Insights on the stand-in through the real azure-mgmt-monitor client: Container Apps
platform metrics from recorded traffic, metric alerts / action groups / scheduled query rules CRUD
(every exchange validated against the pinned specs by the arm_env fixture), and alert evaluation
that really POSTs the common alert schema to a webhook receiver."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import conftest_arm
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.appcontainers import models as am
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.monitor import models as mm
from conftest_arm import ArmEnv, create_rg

from genaiops_sandbox.monitor.alerts import AlertEvaluator

arm_env = conftest_arm.arm_env
RG = "rg-mon"


class Receiver:
    """A local webhook receiver: every POST body is kept, answered 200."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def world(arm_env: ArmEnv) -> dict[str, Any]:
    create_rg(arm_env, RG)
    apps = arm_env.apps_client()
    env = apps.managed_environments.begin_create_or_update(
        RG, "cae", am.ManagedEnvironment(location="eastus2")
    ).result()
    app = apps.container_apps.begin_create_or_update(
        RG,
        "agent",
        am.ContainerApp(
            location="eastus2",
            managed_environment_id=env.id,
            configuration=am.Configuration(
                active_revisions_mode="Multiple", ingress=am.Ingress(external=True, target_port=8080)
            ),
            template=am.Template(
                revision_suffix="v1",
                containers=[am.Container(name="main", image="127.0.0.1:5000/agent:1")],
            ),
        ),
    ).result()
    monitor = MonitorManagementClient(
        arm_env.credential(), arm_env.subscription_id, base_url=arm_env.url, connection_verify=arm_env.ca
    )
    return {"app": app, "domain": env.default_domain, "monitor": monitor}


def _traffic(
    arm_env: ArmEnv, domain: str, revision: str, ok: int, errors: int, at: float | None = None
) -> None:
    traffic = arm_env.endpoint.api.traffic
    now = time.time() if at is None else at
    for i in range(ok):
        traffic.record(domain, revision, 200, 40.0 + i, now)
    for _ in range(errors):
        traffic.record(domain, revision, 503, 5.0, now)


def test_requests_split_by_revision_and_status_category(arm_env: ArmEnv, world: dict[str, Any]) -> None:
    app, monitor = world["app"], world["monitor"]
    _traffic(arm_env, world["domain"], "agent--v1", ok=8, errors=2)
    _traffic(arm_env, world["domain"], "agent--v2", ok=3, errors=0)
    _traffic(arm_env, "other.domain.test", "agent--v1", ok=50, errors=50)  # another environment
    end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    span = f"{(end - dt.timedelta(minutes=10)).isoformat()}/{end.isoformat()}"

    result = monitor.metrics.list(
        app.id,
        timespan=span,
        interval="FULL",
        metricnames="Requests",
        aggregation="Total",
        filter="revisionName eq '*' and statusCodeCategory eq '*'",
    )
    metric = result.value[0]
    assert metric.name.value == "Requests" and metric.unit == "Count"
    totals = {
        tuple(mv.value for mv in ts.metadatavalues): sum(p.total or 0 for p in ts.data)
        for ts in metric.timeseries
    }
    assert totals == {("agent--v1", "2xx"): 8, ("agent--v1", "5xx"): 2, ("agent--v2", "2xx"): 3}
    assert {mv.name.value for mv in metric.timeseries[0].metadatavalues} == {
        "revisionname",
        "statuscodecategory",
    }

    latency = monitor.metrics.list(
        app.id,
        timespan=span,
        interval="PT1M",
        metricnames="ResponseTime",
        aggregation="Average,Maximum",
        filter="revisionName eq 'agent--v2'",
    ).value[0]
    points = [p for ts in latency.timeseries for p in ts.data if p.average is not None]
    assert latency.unit == "MilliSeconds" and len(points) == 1
    assert points[0].average == pytest.approx(41.0) and points[0].maximum == 42.0


def test_unknown_metric_is_a_400(world: dict[str, Any]) -> None:
    with pytest.raises(HttpResponseError) as err:
        world["monitor"].metrics.list(world["app"].id, metricnames="Nope")
    assert err.value.status_code == 400 and "Valid metrics" in str(err.value)


def _group(monitor: MonitorManagementClient, url: str) -> mm.ActionGroupResource:
    return monitor.action_groups.create_or_update(
        RG,
        "ops",
        mm.ActionGroupResource(
            location="Global",
            group_short_name="ops",
            enabled=True,
            webhook_receivers=[
                mm.WebhookReceiver(name="hook", service_uri=url, use_common_alert_schema=True)
            ],
            email_receivers=[mm.EmailReceiver(name="oncall", email_address="oncall@example.com")],
        ),
    )


def _alert(app_id: str, group_id: str, threshold: float = 3) -> mm.MetricAlertResource:
    return mm.MetricAlertResource(
        location="global",
        description="5xx on the agent",
        severity=2,
        enabled=True,
        scopes=[app_id],
        evaluation_frequency="PT1M",
        window_size="PT5M",
        auto_mitigate=True,
        criteria=mm.MetricAlertSingleResourceMultipleMetricCriteria(
            all_of=[
                mm.MetricCriteria(
                    name="errors",
                    metric_name="Requests",
                    metric_namespace="Microsoft.App/containerApps",
                    time_aggregation="Total",
                    operator="GreaterThan",
                    threshold=threshold,
                    dimensions=[
                        mm.MetricDimension(name="statusCodeCategory", operator="Include", values=["5xx"])
                    ],
                )
            ]
        ),
        actions=[mm.MetricAlertAction(action_group_id=group_id, web_hook_properties={"release": "r7"})],
    )


def test_alert_fires_common_schema_webhook_then_resolves(
    arm_env: ArmEnv, world: dict[str, Any], receiver: Receiver
) -> None:
    monitor, app = world["monitor"], world["app"]
    group = _group(monitor, receiver.url)
    assert group.email_receivers[0].status == "Enabled"
    rule = monitor.metric_alerts.create_or_update(RG, "agent-5xx", _alert(app.id, group.id))
    assert rule.last_updated_time is not None and rule.is_migrated is False
    evaluator = AlertEvaluator(arm_env.endpoint.api)
    now = time.time()

    _traffic(arm_env, world["domain"], "agent--v1", ok=20, errors=3, at=now - 10)
    assert evaluator.evaluate_once(now) == []  # 3 is not > 3
    assert receiver.bodies == []

    _traffic(arm_env, world["domain"], "agent--v1", ok=0, errors=1, at=now - 5)
    fired = evaluator.evaluate_once(now)
    assert [t["condition"] for t in fired] == ["Fired"]
    assert evaluator.evaluate_once(now + 1) == []  # fires once, not every tick
    assert len(receiver.bodies) == 1
    payload = receiver.bodies[0]
    assert payload["schemaId"] == "azureMonitorCommonAlertSchema"
    essentials = payload["data"]["essentials"]
    assert essentials["monitorCondition"] == "Fired" and essentials["alertRule"] == "agent-5xx"
    assert essentials["severity"] == "Sev2" and essentials["alertTargetIDs"] == [app.id.lower()]
    condition = payload["data"]["alertContext"]["condition"]["allOf"][0]
    assert condition["metricValue"] == 4 and condition["threshold"] == "3"
    assert payload["data"]["alertContext"]["properties"] == {"release": "r7"}
    status = list(monitor.metric_alerts_status.list(RG, "agent-5xx").value)
    assert status[0].properties.status == "Unhealthy"

    resolved = evaluator.evaluate_once(now + 400)  # the errors left the 5-minute window
    assert [t["condition"] for t in resolved] == ["Resolved"]
    assert receiver.bodies[-1]["data"]["essentials"]["monitorCondition"] == "Resolved"
    assert monitor.metric_alerts_status.list(RG, "agent-5xx").value[0].properties.status == "Healthy"


def test_disabled_group_and_rule_send_nothing(
    arm_env: ArmEnv, world: dict[str, Any], receiver: Receiver
) -> None:
    monitor, app = world["monitor"], world["app"]
    group = _group(monitor, receiver.url)
    monitor.metric_alerts.create_or_update(RG, "agent-5xx", _alert(app.id, group.id, threshold=0))
    monitor.action_groups.update(RG, "ops", mm.ActionGroupPatchBody(enabled=False))
    _traffic(arm_env, world["domain"], "agent--v1", ok=0, errors=5)
    evaluator = AlertEvaluator(arm_env.endpoint.api)
    assert [t["condition"] for t in evaluator.evaluate_once()] == ["Fired"]
    assert receiver.bodies == []  # the group is disabled
    monitor.metric_alerts.update(RG, "agent-5xx", mm.MetricAlertResourcePatch(enabled=False))
    assert evaluator.evaluate_once(time.time() + 600) == []  # a disabled rule is not evaluated


def test_crud_round_trip_and_idempotent_put(world: dict[str, Any], receiver: Receiver) -> None:
    monitor, app = world["monitor"], world["app"]
    group = _group(monitor, receiver.url)
    again = _group(monitor, receiver.url)
    assert again.id == group.id and again.webhook_receivers[0].service_uri == receiver.url
    monitor.metric_alerts.create_or_update(RG, "agent-5xx", _alert(app.id, group.id))
    assert [r.name for r in monitor.metric_alerts.list_by_resource_group(RG)] == ["agent-5xx"]
    assert [g.name for g in monitor.action_groups.list_by_subscription_id()] == ["ops"]
    got = monitor.metric_alerts.get(RG, "agent-5xx")
    assert got.criteria.all_of[0].dimensions[0].values == ["5xx"]
    monitor.metric_alerts.delete(RG, "agent-5xx")
    with pytest.raises(ResourceNotFoundError):
        monitor.metric_alerts.get(RG, "agent-5xx")


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"window_size": "PT2M"}, "Window size"),
        (
            {"scopes": ["/subscriptions/x/resourceGroups/rg-mon/providers/Microsoft.App/containerApps/nope"]},
            "Scope",
        ),
        ({"actions": [mm.MetricAlertAction(action_group_id="/subscriptions/x/nope")]}, "Action group"),
    ],
)
def test_invalid_metric_alert_is_a_400(world: dict[str, Any], change: dict[str, Any], needle: str) -> None:
    rule = _alert(world["app"].id, "unused")
    rule.actions = []
    for key, value in change.items():
        setattr(rule, key, value)
    with pytest.raises(HttpResponseError) as err:
        world["monitor"].metric_alerts.create_or_update(RG, "bad", rule)
    assert err.value.status_code == 400 and needle in str(err.value)


def test_unknown_metric_in_alert_is_a_400(world: dict[str, Any]) -> None:
    rule = _alert(world["app"].id, "unused")
    rule.actions = []
    rule.criteria.all_of[0].metric_name = "Nope"
    with pytest.raises(HttpResponseError) as err:
        world["monitor"].metric_alerts.create_or_update(RG, "bad", rule)
    assert "Couldn't find a metric named Nope" in str(err.value)


def test_scheduled_query_rule_crud(world: dict[str, Any]) -> None:
    monitor = world["monitor"]
    rule = mm.ScheduledQueryRuleResource(
        location="eastus2",
        kind="LogAlert",
        severity=3,
        enabled=True,
        scopes=[world["app"].id],
        evaluation_frequency="PT5M",
        window_size="PT5M",
        criteria=mm.ScheduledQueryRuleCriteria(
            all_of=[
                mm.Condition(
                    query="ContainerAppConsoleLogs_CL | where Log_s has 'error'",
                    time_aggregation="Count",
                    operator="GreaterThan",
                    threshold=10,
                    failing_periods=mm.ConditionFailingPeriods(
                        number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                    ),
                )
            ]
        ),
    )
    created = monitor.scheduled_query_rules.create_or_update(RG, "agent-errors", rule)
    assert created.created_with_api_version == "2023-12-01" and created.kind == "LogAlert"
    assert [r.name for r in monitor.scheduled_query_rules.list_by_resource_group(RG)] == ["agent-errors"]
    monitor.scheduled_query_rules.delete(RG, "agent-errors")
    assert list(monitor.scheduled_query_rules.list_by_subscription()) == []
    with pytest.raises(ResourceNotFoundError):  # its error body checked against the spec too
        monitor.scheduled_query_rules.get(RG, "agent-errors")
