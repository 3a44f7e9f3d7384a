"""`monitor:` → Azure Monitor resources: the ARM bodies built from the manifest, the what-if diff,
idempotent apply, deletion of rules genaiops created and nothing else, and status — against an
in-memory fake of OUR MonitorPort (no Azure SDK here)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from genaiops_cli.core import monitor as core
from genaiops_cli.core.manifest.loader import load_manifest

MANIFEST = """\
version: 1
name: shop
services:
  agent:
    image: mcr.microsoft.com/k8se/quickstart:latest
    ingress: {port: 8080}
environments:
  dev:
    cloud: sandbox
    subscription: 00000000-0000-0000-0000-000000000000
    resource_group: rg-dev
    location: eastus2
    monitor:
      action_groups:
        ops:
          webhooks: [{name: hook, url: "https://hooks.example.com/alert"}]
          emails: [{name: oncall, address: oncall@example.com}]
      alerts:
        agent-5xx:
          service: agent
          metric: Requests
          where: {statusCodeCategory: 5xx}
          threshold: "> 5"
          window: 5m
          severity: 1
          action_groups: [ops]
      log_alerts:
        agent-log-errors:
          service: agent
          query: "ContainerAppConsoleLogs_CL | where Log_s has 'Traceback'"
          threshold: "> 0"
"""


class FakeMonitor:
    """Keeps bodies as Azure would echo them: ids, names and server-side fields added."""

    subscription_id = "00000000-0000-0000-0000-000000000000"

    def __init__(self) -> None:
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes: list[tuple[str, str, str]] = []
        self.fired: set[str] = set()

    def get(self, kind: str, resource_group: str, name: str) -> dict[str, Any] | None:
        found = self.resources.get((kind, name.lower()))
        return copy.deepcopy(found) if found else None

    def put(self, kind: str, resource_group: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        echoed = copy.deepcopy(body)
        echoed.update(id=f"/subscriptions/x/resourceGroups/{resource_group}/{kind}/{name}", name=name)
        echoed["properties"]["lastUpdatedTime"] = "2026-12-05T00:00:00Z"  # a field the service adds
        self.resources[(kind, name.lower())] = echoed
        self.writes.append(("put", kind, name))
        return echoed

    def delete(self, kind: str, resource_group: str, name: str) -> None:
        self.resources.pop((kind, name.lower()), None)
        self.writes.append(("delete", kind, name))

    def list(self, kind: str, resource_group: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(v) for (k, _), v in self.resources.items() if k == kind]

    def alert_condition(self, resource_group: str, name: str) -> str:
        return "Fired" if name in self.fired else "Resolved"


def load(tmp_path: Path, text: str = MANIFEST) -> Any:
    (tmp_path / "genaiops.yaml").write_text(text)
    return load_manifest(tmp_path / "genaiops.yaml")


def test_bodies_are_what_azure_monitor_expects(tmp_path: Path) -> None:
    manifest = load(tmp_path)
    desired = {d.name: d for d in core.desired_resources(manifest, "dev", FakeMonitor.subscription_id)}
    assert [d.kind for d in core.desired_resources(manifest, "dev", FakeMonitor.subscription_id)] == [
        core.ACTION_GROUP,
        core.METRIC_ALERT,
        core.LOG_ALERT,
    ]
    alert = desired["agent-5xx"].body["properties"]
    assert alert["scopes"] == [
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-dev"
        "/providers/Microsoft.App/containerApps/shop-agent"
    ]
    criterion = alert["criteria"]["allOf"][0]
    assert criterion["operator"] == "GreaterThan" and criterion["threshold"] == 5
    assert criterion["dimensions"] == [
        {"name": "statusCodeCategory", "operator": "Include", "values": ["5xx"]}
    ]
    assert alert["windowSize"] == "PT5M" and alert["evaluationFrequency"] == "PT1M" and alert["severity"] == 1
    assert alert["actions"][0]["actionGroupId"].endswith("/providers/Microsoft.Insights/actionGroups/ops")
    group = desired["ops"].body
    assert group["properties"]["groupShortName"] == "ops" and group["location"] == "Global"
    assert group["tags"] == {"genaiops-app": "shop", "genaiops-env": "dev"}
    log = desired["agent-log-errors"].body
    assert (
        log["kind"] == "LogAlert" and log["properties"]["criteria"]["allOf"][0]["operator"] == "GreaterThan"
    )


def test_apply_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    manifest, port = load(tmp_path), FakeMonitor()
    changes, desired = core.plan(port, manifest, "dev")
    assert core.summarize(changes) == {"Create": 3, "Modify": 0, "Delete": 0, "NoChange": 0}
    assert core.apply(port, manifest, "dev", changes, desired) == 3
    assert [w[1] for w in port.writes] == [core.ACTION_GROUP, core.METRIC_ALERT, core.LOG_ALERT]

    changes, desired = core.plan(port, manifest, "dev")
    assert core.summarize(changes) == {"Create": 0, "Modify": 0, "Delete": 0, "NoChange": 3}
    assert core.apply(port, manifest, "dev", changes, desired) == 0


def test_a_changed_threshold_is_a_modify_naming_the_field(tmp_path: Path) -> None:
    port = FakeMonitor()
    manifest = load(tmp_path)
    core.apply(port, manifest, "dev", *core.plan(port, manifest, "dev"))
    manifest = load(tmp_path, MANIFEST.replace('threshold: "> 5"', 'threshold: ">= 10"'))
    changes, _ = core.plan(port, manifest, "dev")
    modified = [c for c in changes if c.action == "Modify"]
    assert [c.name for c in modified] == ["agent-5xx"]
    assert modified[0].fields == [
        "properties.description",
        "properties.criteria.allOf[0].operator",
        "properties.criteria.allOf[0].threshold",
    ]


def test_removed_rules_are_deleted_but_hand_made_ones_are_kept(tmp_path: Path) -> None:
    port = FakeMonitor()
    manifest = load(tmp_path)
    core.apply(port, manifest, "dev", *core.plan(port, manifest, "dev"))
    port.put(core.METRIC_ALERT, "rg-dev", "by-hand", {"properties": {}, "tags": {"owner": "sre"}})
    trimmed = MANIFEST.split("      log_alerts:")[0].replace("          action_groups: [ops]\n", "")
    trimmed = trimmed.replace(
        "      action_groups:\n        ops:\n"
        '          webhooks: [{name: hook, url: "https://hooks.example.com/alert"}]\n'
        "          emails: [{name: oncall, address: oncall@example.com}]\n",
        "",
    )
    manifest = load(tmp_path, trimmed)
    changes, desired = core.plan(port, manifest, "dev")
    deleted = sorted((c.kind, c.name) for c in changes if c.action == "Delete")
    assert deleted == [(core.ACTION_GROUP, "ops"), (core.LOG_ALERT, "agent-log-errors")]
    port.writes.clear()
    core.apply(port, manifest, "dev", changes, desired)
    # the rule that named the group is rewritten after, the log rule deleted before the group
    assert port.writes[:2] == [
        ("delete", core.LOG_ALERT, "agent-log-errors"),
        ("delete", core.ACTION_GROUP, "ops"),
    ]
    assert port.get(core.METRIC_ALERT, "rg-dev", "by-hand") is not None


@pytest.mark.parametrize(("fired", "state"), [(set(), "Resolved"), ({"agent-5xx"}, "Fired")])
def test_status_reports_sync_and_condition(tmp_path: Path, fired: set[str], state: str) -> None:
    port = FakeMonitor()
    manifest = load(tmp_path)
    assert {r["sync"] for r in core.status(port, manifest, "dev")} == {"missing"}
    core.apply(port, manifest, "dev", *core.plan(port, manifest, "dev"))
    port.fired = fired
    port.resources[(core.ACTION_GROUP, "ops")]["properties"]["enabled"] = False  # drift made by hand
    rows = {r["name"]: r for r in core.status(port, manifest, "dev")}
    assert rows["agent-5xx"]["state"] == state and rows["agent-5xx"]["sync"] == "in sync"
    assert rows["ops"]["sync"] == "drifted" and rows["ops"]["state"] == "Disabled"


def test_differences_ignore_service_fields_and_case() -> None:
    desired = {"properties": {"scopes": ["/subscriptions/A/resourceGroups/RG"], "enabled": True, "n": 5}}
    current = {
        "id": "x",
        "properties": {"scopes": ["/subscriptions/a/resourcegroups/rg"], "enabled": True, "n": 5.0},
    }
    assert core.differences(desired, current) == []
    assert core.differences(desired, {"properties": {"enabled": 1}}) == [
        "properties.scopes",
        "properties.enabled",
        "properties.n",
    ]


def test_error_rate_log_alert_is_a_kql_ratio_on_the_component(tmp_path: Path) -> None:
    manifest = load(
        tmp_path,
        MANIFEST
        + """\
        agent-error-rate:
          service: agent
          error_rate: ">= 0.05"
          min_requests: 20
          app_insights: appi-dev
          window: 5m
          frequency: 1m
          action_groups: [ops]
""",
    )
    desired = {d.name: d for d in core.desired_resources(manifest, "dev", FakeMonitor.subscription_id)}
    props = desired["agent-error-rate"].body["properties"]
    assert props["scopes"] == [
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-dev"
        "/providers/Microsoft.Insights/components/appi-dev"
    ]
    condition = props["criteria"]["allOf"][0]
    assert condition["query"] == (
        "requests | where cloud_RoleName == 'shop-agent' "
        "| summarize total = count(), failed = countif(success == false) "
        "| where total >= 20 | extend error_rate = todouble(failed) / total | project error_rate"
    )
    assert (condition["metricMeasureColumn"], condition["operator"], condition["threshold"]) == (
        "error_rate",
        "GreaterThanOrEqual",
        0.05,
    )
    assert props["evaluationFrequency"] == "PT1M" and props["windowSize"] == "PT5M"
    # the query genaiops writes runs in the stand-in's KQL subset: 1 of 20 failed is 0.05
    from genaiops_sandbox.monitor import kql

    rows = [{"cloud_RoleName": "shop-agent", "success": i != 0} for i in range(20)]
    assert kql.run(condition["query"], lambda name: rows) == [{"error_rate": 0.05}]
    assert kql.run(condition["query"], lambda name: rows[:19]) == []  # under min_requests: no data
