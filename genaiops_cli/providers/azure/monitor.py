"""Azure Monitor through azure-mgmt-monitor: action groups, metric alerts and scheduled query rules
(the MonitorPort of core/monitor.py), and Container Apps platform metrics per revision.

Metrics: azure-monitor-query 2.x keeps only LogsQueryClient; its metrics client moved to
azure-monitor-querymetrics, whose MetricsClient reads the regional batch endpoint
(`https://<region>.metrics.monitor.azure.com/.../metrics:getBatch`). The per-resource ARM metrics API
(`{resourceId}/providers/Microsoft.Insights/metrics`, api-version 2024-02-01) that the portal's metrics
blade reads is the one azure-mgmt-monitor calls (`metrics.list`): that is what this module uses, with
the same credential and endpoint as every other ARM call."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.errors import ProvisionError
from genaiops_cli.providers.azure.arm_errors import arm_errors
from genaiops_cli.providers.azure.clients import arm_client

if TYPE_CHECKING:
    from azure.mgmt.monitor import MonitorManagementClient


@lru_cache(maxsize=8)
def monitor_client(target: AzureTarget) -> MonitorManagementClient:
    from azure.mgmt.monitor import MonitorManagementClient

    return arm_client(MonitorManagementClient, target)


def _models() -> Any:
    from azure.mgmt.monitor import models

    return models


_MODEL = {
    "actionGroup": "ActionGroupResource",
    "metricAlert": "MetricAlertResource",
    "scheduledQueryRule": "ScheduledQueryRuleResource",
}


class AzureMonitor:
    """MonitorPort over azure-mgmt-monitor for one target."""

    def __init__(self, target: AzureTarget) -> None:
        self.target = target
        self.subscription_id = target.subscription_id

    @property
    def _client(self) -> MonitorManagementClient:
        return monitor_client(self.target)

    def _ops(self, kind: str) -> Any:
        return {
            "actionGroup": self._client.action_groups,
            "metricAlert": self._client.metric_alerts,
            "scheduledQueryRule": self._client.scheduled_query_rules,
        }[kind]

    def get(self, kind: str, resource_group: str, name: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        with arm_errors(f"read {kind} {name}", ProvisionError):
            try:
                found = self._ops(kind).get(resource_group, name)
            except ResourceNotFoundError:
                return None
        return found.serialize(keep_readonly=True)

    def put(self, kind: str, resource_group: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        model = getattr(_models(), _MODEL[kind]).deserialize(body)
        with arm_errors(f"write {kind} {name}", ProvisionError):
            result = self._ops(kind).create_or_update(resource_group, name, model)
        return result.serialize(keep_readonly=True)

    def delete(self, kind: str, resource_group: str, name: str) -> None:
        with arm_errors(f"delete {kind} {name}", ProvisionError):
            self._ops(kind).delete(resource_group, name)

    def list(self, kind: str, resource_group: str) -> list[dict[str, Any]]:
        with arm_errors(f"list {kind}s in {resource_group}", ProvisionError):
            return [
                r.serialize(keep_readonly=True)
                for r in self._ops(kind).list_by_resource_group(resource_group)
            ]

    def alert_condition(self, resource_group: str, name: str) -> str:
        with arm_errors(f"read the status of metric alert {name}", ProvisionError):
            found = self._client.metric_alerts_status.list(resource_group, name)
        statuses = [s.properties.status for s in (found.value or []) if s.properties is not None]
        return "Fired" if any((s or "").lower() == "unhealthy" for s in statuses) else "Resolved"


@dataclass(frozen=True)
class RevisionStats:
    """One revision's traffic over a window, from the platform metrics."""

    revision: str
    requests: float
    errors: float  # 5xx
    average_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "requests": self.requests,
            "errors_5xx": self.errors,
            "error_rate": self.error_rate,
            "average_ms": self.average_ms,
        }


def revision_stats(target: AzureTarget, app_id: str, window_seconds: float) -> dict[str, RevisionStats]:
    """Requests, 5xx and mean response time per revision over the last `window_seconds`."""
    # the timespan is written in whole seconds: round its end up, or a request served in this very
    # second (the one an alert just fired on, say) falls outside the window
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=1)
    start = end - dt.timedelta(seconds=window_seconds)
    timespan = f"{start.strftime('%Y-%m-%dT%H:%M:%SZ')}/{end.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    client = monitor_client(target)
    with arm_errors(f"read metrics of {app_id.rsplit('/', 1)[-1]}", ProvisionError):
        requests = client.metrics.list(
            app_id,
            timespan=timespan,
            interval="FULL",
            metricnames="Requests",
            aggregation="Total",
            filter="revisionName eq '*' and statusCodeCategory eq '*'",
            top=50,
        )
        latency = client.metrics.list(
            app_id,
            timespan=timespan,
            interval="FULL",
            metricnames="ResponseTime",
            aggregation="Average",
            filter="revisionName eq '*'",
            top=50,
        )
    totals: dict[str, list[float]] = {}
    for metric in requests.value:
        for series in metric.timeseries or []:
            dims = {(m.name.value or "").lower(): m.value for m in series.metadatavalues or []}
            revision = dims.get("revisionname") or ""
            count = sum(p.total or 0 for p in series.data or [])
            entry = totals.setdefault(revision, [0.0, 0.0])
            entry[0] += count
            if dims.get("statuscodecategory") == "5xx":
                entry[1] += count
    means: dict[str, float | None] = {}
    for metric in latency.value:
        for series in metric.timeseries or []:
            dims = {(m.name.value or "").lower(): m.value for m in series.metadatavalues or []}
            points = [p.average for p in series.data or [] if p.average is not None]
            means[dims.get("revisionname") or ""] = sum(points) / len(points) if points else None
    return {
        rev: RevisionStats(rev, counts[0], counts[1], means.get(rev))
        for rev, counts in sorted(totals.items())
    }


class AzureRevisionMetrics:
    """RevisionMetrics (core/ports.py) for the Container Apps of one environment."""

    def __init__(self, target: AzureTarget, resource_group: str, app_name: Any) -> None:
        self.target = target
        self.resource_group = resource_group
        self.app_name = app_name  # service → Container App name

    def revision_stats(self, service: str, window_seconds: float) -> dict[str, dict[str, Any]]:
        app_id = (
            f"/subscriptions/{self.target.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.App/containerApps/{self.app_name(service)}"
        )
        return {rev: s.as_dict() for rev, s in revision_stats(self.target, app_id, window_seconds).items()}
