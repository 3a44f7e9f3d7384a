"""`monitor:` as code: the manifest's action groups and alert rules for one environment become the
Azure Monitor resources they describe (ARM JSON), compared with what exists (a what-if style diff),
applied idempotently, and read back with each rule's state.

Pure domain logic: the Azure calls go through a MonitorPort (core/ports.py; implemented with
azure-mgmt-monitor in providers/azure/monitor.py). Resources genaiops manages carry tags naming the
app and environment, so a rule removed from the manifest is deleted and resources created by hand are
never touched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import containerapps as ca
from genaiops_cli.core.manifest.model import (
    FREQUENCIES,
    LOG_FREQUENCIES,
    WINDOWS,
    LogAlert,
    Manifest,
    MetricAlert,
    Monitor,
    Threshold,
)

if TYPE_CHECKING:
    from genaiops_cli.core.ports import MonitorPort

ACTION_GROUP = "actionGroup"
METRIC_ALERT = "metricAlert"
LOG_ALERT = "scheduledQueryRule"
KINDS = (ACTION_GROUP, METRIC_ALERT, LOG_ALERT)  # apply order: groups before the rules naming them
TAG_APP, TAG_ENV = "genaiops-app", "genaiops-env"
OPERATORS = {">": "GreaterThan", ">=": "GreaterThanOrEqual", "<": "LessThan", "<=": "LessThanOrEqual"}
CONTAINER_APPS_NAMESPACE = "Microsoft.App/containerApps"


@dataclass(frozen=True)
class Desired:
    kind: str
    name: str
    body: dict[str, Any]


@dataclass
class Change:
    kind: str
    name: str
    action: str  # Create | Modify | Delete | NoChange
    fields: list[str] = field(default_factory=list)  # what differs, as paths

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "action": self.action, "fields": self.fields}


# ------------------------------------------------------------------------------- desired state


def app_resource_id(manifest: Manifest, env_name: str, service: str, subscription: str) -> str:
    config = manifest.environment(env_name).config
    return (
        f"/subscriptions/{subscription}/resourceGroups/{config.resource_group}"
        f"/providers/Microsoft.App/containerApps/{ca.app_name(manifest.name, service)}"
    )


def group_id(manifest: Manifest, env_name: str, group: str, subscription: str) -> str:
    config = manifest.environment(env_name).config
    return (
        f"/subscriptions/{subscription}/resourceGroups/{config.resource_group}"
        f"/providers/Microsoft.Insights/actionGroups/{group}"
    )


def desired_resources(manifest: Manifest, env_name: str, subscription: str) -> list[Desired]:
    """Every resource the environment's `monitor:` describes, in apply order. `subscription` is the
    target's (the stand-in has its own; Azure's is the manifest's)."""
    monitor = manifest.environment(env_name).config.monitor or Monitor()
    tags = {TAG_APP: manifest.name, TAG_ENV: env_name}
    location = manifest.environment(env_name).config.location
    out = []
    for name, group in monitor.action_groups.items():
        out.append(
            Desired(
                ACTION_GROUP,
                name,
                {
                    "location": "Global",
                    "tags": tags,
                    "properties": {
                        "groupShortName": group.short_name or name[:12],
                        "enabled": group.enabled,
                        "webhookReceivers": [
                            {"name": w.name, "serviceUri": w.url, "useCommonAlertSchema": w.common_schema}
                            for w in group.webhooks
                        ],
                        "emailReceivers": [
                            {
                                "name": e.name,
                                "emailAddress": e.address,
                                "useCommonAlertSchema": e.common_schema,
                            }
                            for e in group.emails
                        ],
                    },
                },
            )
        )
    for name, rule in monitor.alerts.items():
        out.append(
            Desired(METRIC_ALERT, name, metric_alert_body(manifest, env_name, name, rule, tags, subscription))
        )
    for name, log_rule in monitor.log_alerts.items():
        out.append(
            Desired(
                LOG_ALERT, name, log_alert_body(manifest, env_name, log_rule, tags, location, subscription)
            )
        )
    return out


def _operator(threshold: Threshold) -> str:
    return OPERATORS[threshold.op]


def metric_alert_body(
    manifest: Manifest, env_name: str, name: str, rule: MetricAlert, tags: dict[str, str], subscription: str
) -> dict[str, Any]:
    dimensions = [
        {"name": dim, "operator": "Include", "values": value if isinstance(value, list) else [value]}
        for dim, value in sorted(rule.where.items())
    ]
    criterion: dict[str, Any] = {
        "criterionType": "StaticThresholdCriterion",
        "name": "criterion1",
        "metricName": rule.metric,
        "metricNamespace": CONTAINER_APPS_NAMESPACE,
        "timeAggregation": rule.aggregation,
        "operator": _operator(rule.threshold),
        "threshold": rule.threshold.value,
        "dimensions": dimensions,
    }
    return {
        "location": "global",
        "tags": tags,
        "properties": {
            "description": rule.description or f"{rule.metric} {rule.threshold} on {rule.service} ({name})",
            "severity": rule.severity,
            "enabled": rule.enabled,
            "scopes": [app_resource_id(manifest, env_name, rule.service, subscription)],
            "evaluationFrequency": FREQUENCIES[rule.frequency],
            "windowSize": WINDOWS[rule.window],
            "targetResourceType": CONTAINER_APPS_NAMESPACE,
            "criteria": {
                "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                "allOf": [criterion],
            },
            "autoMitigate": True,
            "actions": [
                {
                    "actionGroupId": group_id(manifest, env_name, g, subscription),
                    "webHookProperties": {"environment": env_name},
                }
                for g in rule.action_groups
            ],
        },
    }


def error_rate_query(app: str, min_requests: int) -> str:
    """KQL for the failed-request share of one Container App in its Application Insights `requests`
    (cloud_RoleName is the app's name): one row, `error_rate`, once there are `min_requests`."""
    return (
        f"requests | where cloud_RoleName == '{app}' "
        "| summarize total = count(), failed = countif(success == false) "
        f"| where total >= {min_requests} "
        "| extend error_rate = todouble(failed) / total | project error_rate"
    )


def component_id(manifest: Manifest, env_name: str, name_or_id: str, subscription: str) -> str:
    return component_resource_id(
        name_or_id, subscription, manifest.environment(env_name).config.resource_group
    )


def component_resource_id(name_or_id: str, subscription: str, resource_group: str) -> str:
    """An Application Insights component given by name (in `resource_group`) or by resource id."""
    if name_or_id.startswith("/subscriptions/"):
        return name_or_id
    return (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Insights/components/{name_or_id}"
    )


def log_alert_body(
    manifest: Manifest, env_name: str, rule: LogAlert, tags: dict[str, str], location: str, subscription: str
) -> dict[str, Any]:
    failing = {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1}
    if rule.error_rate is not None:
        assert rule.app_insights is not None  # validated (manifest rules)
        app = ca.app_name(manifest.name, rule.service)
        scope = component_id(manifest, env_name, rule.app_insights, subscription)
        condition: dict[str, Any] = {
            "query": error_rate_query(app, rule.min_requests),
            "timeAggregation": "Maximum",
            "metricMeasureColumn": "error_rate",
            "operator": _operator(rule.error_rate),
            "threshold": rule.error_rate.value,
            "failingPeriods": failing,
        }
    else:
        assert rule.query is not None and rule.threshold is not None  # validated (manifest rules)
        scope = app_resource_id(manifest, env_name, rule.service, subscription)
        condition = {
            "query": rule.query,
            "timeAggregation": rule.aggregation,
            "operator": _operator(rule.threshold),
            "threshold": rule.threshold.value,
            "failingPeriods": failing,
        }
        if rule.measure:
            condition["metricMeasureColumn"] = rule.measure
    return {
        "location": location,
        "kind": "LogAlert",
        "tags": tags,
        "properties": {
            "description": rule.description,
            "severity": rule.severity,
            "enabled": rule.enabled,
            "scopes": [scope],
            "evaluationFrequency": LOG_FREQUENCIES[rule.frequency],
            "windowSize": WINDOWS[rule.window],
            "criteria": {"allOf": [condition]},
            "autoMitigate": True,
            "actions": {
                "actionGroups": [group_id(manifest, env_name, g, subscription) for g in rule.action_groups]
            },
        },
    }


# ------------------------------------------------------------------------------- diff


def differences(desired: Any, current: Any, path: str = "") -> list[str]:
    """Paths where `current` does not hold what `desired` asks for. Fields the service adds (ids,
    timestamps, defaults) are ignored; resource ids and enum-like strings compare case-insensitively,
    as ARM does."""
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            return [path or "(root)"]
        found: list[str] = []
        lowered = {str(k).lower(): v for k, v in current.items()}
        for key, value in desired.items():
            found += differences(value, lowered.get(str(key).lower()), f"{path}.{key}" if path else str(key))
        return found
    if isinstance(desired, list):
        if not isinstance(current, list) or len(current) != len(desired):
            return [path]
        found = []
        for i, (d, c) in enumerate(zip(desired, current, strict=True)):
            found += differences(d, c, f"{path}[{i}]")
        return found
    if isinstance(desired, str) and isinstance(current, str):
        return [] if desired.lower() == current.lower() else [path]
    if isinstance(desired, bool) or isinstance(current, bool):
        return [] if desired is current else [path]
    if isinstance(desired, int | float) and isinstance(current, int | float):
        return [] if float(desired) == float(current) else [path]
    return [] if desired == current else [path]


def _managed(body: dict[str, Any], manifest: Manifest, env_name: str) -> bool:
    tags = {str(k).lower(): v for k, v in (body.get("tags") or {}).items()}
    return tags.get(TAG_APP) == manifest.name and tags.get(TAG_ENV) == env_name


def plan(port: MonitorPort, manifest: Manifest, env_name: str) -> tuple[list[Change], list[Desired]]:
    """What `monitor apply` would do: Create / Modify / NoChange per desired resource, and Delete for
    resources genaiops created earlier that the manifest no longer lists."""
    rg = manifest.environment(env_name).config.resource_group
    desired = desired_resources(manifest, env_name, port.subscription_id)
    changes = []
    wanted = {(d.kind, d.name.lower()) for d in desired}
    for d in desired:
        current = port.get(d.kind, rg, d.name)
        if current is None:
            changes.append(Change(d.kind, d.name, "Create"))
            continue
        diff = differences(d.body, current)
        changes.append(Change(d.kind, d.name, "Modify" if diff else "NoChange", diff))
    for kind in KINDS:
        for existing in port.list(kind, rg):
            name = str(existing.get("name"))
            if (kind, name.lower()) not in wanted and _managed(existing, manifest, env_name):
                changes.append(Change(kind, name, "Delete"))
    return changes, desired


def apply(
    port: MonitorPort, manifest: Manifest, env_name: str, changes: list[Change], desired: list[Desired]
) -> int:
    """Carry out a plan; returns how many resources changed. Rules are deleted before the groups they
    may name, and groups are written before the rules that name them."""
    rg = manifest.environment(env_name).config.resource_group
    by_key = {(d.kind, d.name): d for d in desired}
    changed = 0
    for change in sorted((c for c in changes if c.action == "Delete"), key=lambda c: -KINDS.index(c.kind)):
        port.delete(change.kind, rg, change.name)
        changed += 1
    for change in changes:
        if change.action in ("Create", "Modify"):
            d = by_key[(change.kind, change.name)]
            port.put(d.kind, rg, d.name, d.body)
            changed += 1
    return changed


def summarize(changes: list[Change]) -> dict[str, int]:
    out = {"Create": 0, "Modify": 0, "Delete": 0, "NoChange": 0}
    for c in changes:
        out[c.action] += 1
    return out


# ------------------------------------------------------------------------------- status


def status(port: MonitorPort, manifest: Manifest, env_name: str) -> list[dict[str, Any]]:
    """Each rule of the manifest with what Azure holds: missing / in sync / drifted, enabled, and for
    metric alerts whether the condition is Fired now."""
    rg = manifest.environment(env_name).config.resource_group
    rows = []
    for d in desired_resources(manifest, env_name, port.subscription_id):
        current = port.get(d.kind, rg, d.name)
        row: dict[str, Any] = {"kind": d.kind, "name": d.name}
        if current is None:
            row.update(deployed=False, sync="missing", state="—")
        else:
            props = current.get("properties") or {}
            row.update(
                deployed=True,
                sync="drifted" if differences(d.body, current) else "in sync",
                enabled=bool(props.get("enabled", True)),
            )
            if d.kind == METRIC_ALERT:
                row["state"] = port.alert_condition(rg, d.name) if props.get("enabled") else "Disabled"
            elif d.kind == LOG_ALERT:
                row["state"] = "Enabled" if props.get("enabled") else "Disabled"
            else:
                row["state"] = "Enabled" if props.get("enabled", True) else "Disabled"
        rows.append(row)
    return rows
