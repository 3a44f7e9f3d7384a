"""Scheduled query rules (log alerts) evaluated against the stand-in's Log Analytics data.

Each condition's KQL (the kql.py subset) runs over the rule's window on the data its scope can see,
as Azure runs a resource-centric query:

- an Application Insights component: that component's tables (`requests`, `AppRequests`, …);
- a Log Analytics workspace: every component that sends to it;
- a Container App: `ContainerAppConsoleLogs_CL` for that app (when the runtime has its logs).

The condition holds when the rows counted (timeAggregation Count without `metricMeasureColumn`), or
the `metricMeasureColumn` values aggregated with `timeAggregation`, compare with `threshold` by
`operator`. With no rows there is nothing to compare: the condition does not hold (Azure: "no data")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import kql
from .dataplane import in_span
from .durations import iso_instant

_COMPARE = {
    "GreaterThan": lambda v, t: v > t,
    "GreaterThanOrEqual": lambda v, t: v >= t,
    "LessThan": lambda v, t: v < t,
    "LessThanOrEqual": lambda v, t: v <= t,
    "Equals": lambda v, t: v == t,
}


def evaluate_condition(
    api: Any, scope: str, condition: dict[str, Any], window: float, now: float
) -> dict[str, Any]:
    """{condition, value, met, error?} for one `criteria.allOf` entry."""
    tables = api.monitor_data.scope_tables(scope)
    if tables is None:
        return {"criterion": condition, "value": None, "met": False, "error": f"scope {scope} not found"}
    end = dt.datetime.fromtimestamp(now, dt.UTC)
    start = end - dt.timedelta(seconds=window)

    def windowed(name: str) -> Any:
        rows = tables(name)
        return None if rows is None else [r for r in rows if in_span(r, start, end)]

    try:
        rows = kql.run(condition["query"], windowed, now=end)
    except kql.KqlError as exc:
        return {"criterion": condition, "value": None, "met": False, "error": str(exc)}
    column = condition.get("metricMeasureColumn")
    aggregation = condition.get("timeAggregation", "Count")
    if column:
        values = [float(r[column]) for r in rows if isinstance(r.get(column), int | float)]
        value = _aggregate(values, aggregation)
    else:
        value = float(len(rows))
    threshold = float(condition.get("threshold", 0))
    met = value is not None and _COMPARE[condition.get("operator", "GreaterThan")](value, threshold)
    return {"criterion": condition, "value": value, "met": bool(met), "rows": len(rows)}


def _aggregate(values: list[float], aggregation: str) -> float | None:
    if aggregation == "Count":
        return float(len(values))
    if not values:
        return None
    if aggregation == "Total":
        return sum(values)
    if aggregation == "Average":
        return sum(values) / len(values)
    if aggregation == "Minimum":
        return min(values)
    return max(values)


def common_log_alert_payload(
    record: dict[str, Any], condition: str, results: list[dict[str, Any]], window: float, now: float
) -> dict[str, Any]:
    """The common alert schema of a Log Alerts V2 rule (`conditionType: LogQueryCriteria`)."""
    body, state = record["body"], record.get("monitor") or {}
    props = body["properties"]
    scope = props["scopes"][0]
    sub = scope.split("/")[2]
    essentials = {
        "alertId": f"/subscriptions/{sub}/providers/Microsoft.AlertsManagement/alerts/{state.get('alertId')}",
        "alertRule": body["name"],
        "severity": f"Sev{props.get('severity', 3)}",
        "signalType": "Log",
        "monitorCondition": condition,
        "monitoringService": "Log Alerts V2",
        "alertTargetIDs": [scope.lower()],
        "configurationItems": [scope.rsplit("/", 1)[-1]],
        "originAlertId": f"{sub}_{body['id']}_{state.get('alertId')}",
        "firedDateTime": state.get("firedAt"),
        "description": props.get("description", ""),
        "essentialsVersion": "1.0",
        "alertContextVersion": "1.0",
        "alertRuleID": body["id"],
    }
    if condition == "Resolved":
        essentials["resolvedDateTime"] = state.get("resolvedAt")
    custom = (props.get("actions") or {}).get("customProperties") or None
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": essentials,
            "alertContext": {
                "properties": custom,
                "conditionType": "LogQueryCriteria",
                "condition": {
                    "windowSize": props.get("windowSize"),
                    "allOf": [
                        {
                            "searchQuery": r["criterion"].get("query"),
                            "metricMeasureColumn": r["criterion"].get("metricMeasureColumn"),
                            "targetResourceTypes": f"['{_resource_type(scope)}']",
                            "operator": r["criterion"].get("operator"),
                            "threshold": f"{float(r['criterion'].get('threshold', 0)):g}",
                            "timeAggregation": r["criterion"].get("timeAggregation", "Count"),
                            "dimensions": [],
                            "metricValue": r["value"],
                            "failingPeriods": r["criterion"].get("failingPeriods")
                            or {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1},
                        }
                        for r in results
                    ],
                    "windowStartTime": iso_instant(now - window),
                    "windowEndTime": iso_instant(now),
                },
            },
            "customProperties": custom,
        },
    }


def _resource_type(scope: str) -> str:
    parts = scope.split("/providers/", 1)[-1].split("/")
    return "/".join(parts[:2]).lower() if len(parts) >= 2 else ""
