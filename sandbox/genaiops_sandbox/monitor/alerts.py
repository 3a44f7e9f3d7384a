"""Metric alert evaluation: every tick, each enabled metric alert's criteria are computed over its
window from the router's traffic; a rule whose criteria all hold fires (once) and, with autoMitigate,
resolves when they no longer hold. Firing and resolving POST the payload Azure sends to each webhook
receiver of the rule's enabled action groups: the common alert schema when the receiver asks for it
(useCommonAlertSchema), the metric-alert schema otherwise.

Azure evaluates at each rule's evaluationFrequency (PT1M at the least); the stand-in evaluates every
`tick` seconds so a test sees an alert in seconds. The window is the rule's real windowSize."""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from .durations import iso_instant, parse_duration
from .insights import METRIC_ALERT_TYPE, QUERY_RULE_TYPE
from .log_alerts import common_log_alert_payload, evaluate_condition
from .traffic import METRICS, aggregate, matches

log = logging.getLogger("genaiops.sandbox.monitor")
TICK_ENV = "GENAIOPS_SANDBOX_ALERT_TICK"
DEFAULT_TICK = 5.0
WEBHOOK_TIMEOUT = 10.0
_COMPARE = {
    "GreaterThan": lambda v, t: v > t,
    "GreaterThanOrEqual": lambda v, t: v >= t,
    "LessThan": lambda v, t: v < t,
    "LessThanOrEqual": lambda v, t: v <= t,
    "Equals": lambda v, t: v == t,
}
_AGG_KEY = {
    "Average": "average",
    "Count": "count",
    "Minimum": "minimum",
    "Maximum": "maximum",
    "Total": "total",
}


class AlertEvaluator:
    def __init__(self, api: Any, tick: float = DEFAULT_TICK, ca_file: str | None = None) -> None:
        self.api = api
        self.tick = tick
        self._ssl = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.deliveries: list[dict[str, Any]] = []  # what was sent where, for the log and tests

    def start(self) -> AlertEvaluator:
        self._thread = threading.Thread(target=self._loop, name="alert-evaluator", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.evaluate_once()
            except Exception:
                log.exception("alert evaluation failed")

    def evaluate_once(self, now: float | None = None) -> list[dict[str, Any]]:
        """Evaluate every enabled metric alert and scheduled query rule; returns the transitions
        (fired / resolved)."""
        now = time.time() if now is None else now
        transitions = []
        for record in self.api.store.all():
            if record.get("type") not in (METRIC_ALERT_TYPE, QUERY_RULE_TYPE):
                continue
            props = record["body"]["properties"]
            if not props.get("enabled"):
                continue
            transition = self._evaluate(record, now)
            if transition is not None:
                transitions.append(transition)
        return transitions

    def _evaluate(self, record: dict[str, Any], now: float) -> dict[str, Any] | None:
        props = record["body"]["properties"]
        window = parse_duration(props["windowSize"]) or 300.0
        scope = props["scopes"][0]
        if record.get("type") == QUERY_RULE_TYPE:
            results = [
                evaluate_condition(self.api, scope, c, window, now) for c in props["criteria"]["allOf"]
            ]
            for failed in (r for r in results if r.get("error")):
                log.warning("log alert %s: %s", record["body"]["name"], failed["error"])
        else:
            app = self.api.store.get(scope)
            if app is None:
                return None
            samples = self.api.traffic.samples(
                self.api.app_domain(app), app["body"]["name"], now - window, now
            )
            results = [_criterion_result(criterion, samples) for criterion in props["criteria"]["allOf"]]
        met = all(r["met"] for r in results)
        with self.api.store.lock:
            current = self.api.store.get(record["id"])
            if current is None:
                return None
            state = current.get("monitor") or {"condition": "Resolved"}
            previous = state.get("condition")
            state["evaluatedAt"] = iso_instant(now)
            transition = None
            if met and previous != "Fired":
                state.update(condition="Fired", firedAt=iso_instant(now), alertId=str(uuid.uuid4()))
                transition = "Fired"
            elif not met and previous == "Fired" and props.get("autoMitigate", True):
                state.update(condition="Resolved", resolvedAt=iso_instant(now))
                transition = "Resolved"
            current["monitor"] = state
            self.api.store.put(current["id"], current)
        if transition is None:
            return None
        log.info("alert %s %s", record["body"]["name"], transition)
        if record.get("type") == QUERY_RULE_TYPE:
            self._notify_log_alert(current, transition, results, window, now)
        else:
            self._notify(current, transition, results, window, now)
        return {"rule": record["body"]["name"], "condition": transition, "criteria": results}

    # notification ------------------------------------------------------------------------------------
    def _notify(
        self, record: dict[str, Any], condition: str, results: list[dict[str, Any]], window: float, now: float
    ) -> None:
        props = record["body"]["properties"]
        for action in props.get("actions") or []:
            group = self.api.store.get(action.get("actionGroupId") or "")
            if group is None or not group["body"]["properties"].get("enabled", True):
                continue
            for receiver in group["body"]["properties"].get("webhookReceivers") or []:
                if receiver.get("useCommonAlertSchema"):
                    payload = common_alert_payload(record, condition, results, window, now, action)
                else:
                    payload = metric_alert_payload(record, condition, results, window, now, action)
                self._post(receiver, payload)

    def _notify_log_alert(
        self, record: dict[str, Any], condition: str, results: list[dict[str, Any]], window: float, now: float
    ) -> None:
        """Log alerts send the common alert schema to every webhook (Log Alerts V2 has no other)."""
        props = record["body"]["properties"]
        payload = common_log_alert_payload(record, condition, results, window, now)
        for group_id in (props.get("actions") or {}).get("actionGroups") or []:
            group = self.api.store.get(group_id)
            if group is None or not group["body"]["properties"].get("enabled", True):
                continue
            for receiver in group["body"]["properties"].get("webhookReceivers") or []:
                self._post(receiver, payload)

    def _post(self, receiver: dict[str, Any], payload: dict[str, Any]) -> None:
        url = receiver["serviceUri"]
        data = json.dumps(payload).encode()
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        delivery = {"receiver": receiver.get("name"), "at": iso_instant(time.time())}
        try:
            context = self._ssl if url.lower().startswith("https://") else None
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT, context=context) as resp:
                delivery["status"] = resp.status
        except (urllib.error.URLError, OSError) as exc:
            delivery["error"] = str(exc)
            log.warning("webhook %s failed: %s", receiver.get("name"), exc)
        self.deliveries.append(delivery)


def _criterion_result(criterion: dict[str, Any], samples: list[Any]) -> dict[str, Any]:
    info = METRICS[criterion["metricName"].lower()]
    filters = []
    for dim in criterion.get("dimensions") or []:
        mode = "exclude" if str(dim.get("operator", "Include")).lower() == "exclude" else "include"
        filters.append((dim["name"], mode, list(dim.get("values") or [])))
    values = [info.value(s) for s in samples if matches(s, filters)]
    aggregated = aggregate(values).get(_AGG_KEY[criterion["timeAggregation"]])
    threshold = float(criterion["threshold"])
    met = aggregated is not None and _COMPARE[criterion["operator"]](aggregated, threshold)
    return {"criterion": criterion, "value": aggregated, "met": bool(met)}


def _condition_block(results: list[dict[str, Any]], window: float, now: float) -> dict[str, Any]:
    return {
        "windowSize": f"PT{int(window // 60)}M",
        "allOf": [
            {
                "metricName": r["criterion"]["metricName"],
                "metricNamespace": r["criterion"].get("metricNamespace", "Microsoft.App/containerApps"),
                "operator": r["criterion"]["operator"],
                "threshold": f"{float(r['criterion']['threshold']):g}",
                "timeAggregation": r["criterion"]["timeAggregation"],
                "dimensions": [
                    {"name": d["name"], "value": ",".join(d.get("values") or [])}
                    for d in r["criterion"].get("dimensions") or []
                ],
                "metricValue": r["value"],
                "webTestName": None,
            }
            for r in results
        ],
        "windowStartTime": iso_instant(now - window),
        "windowEndTime": iso_instant(now),
    }


def common_alert_payload(
    record: dict[str, Any],
    condition: str,
    results: list[dict[str, Any]],
    window: float,
    now: float,
    action: dict[str, Any],
) -> dict[str, Any]:
    body, state = record["body"], record.get("monitor") or {}
    scope = body["properties"]["scopes"][0]
    sub = scope.split("/")[2]
    essentials = {
        "alertId": f"/subscriptions/{sub}/providers/Microsoft.AlertsManagement/alerts/{state.get('alertId')}",
        "alertRule": body["name"],
        "severity": f"Sev{body['properties']['severity']}",
        "signalType": "Metric",
        "monitorCondition": condition,
        "monitoringService": "Platform",
        "alertTargetIDs": [scope.lower()],
        "configurationItems": [scope.rsplit("/", 1)[-1]],
        "originAlertId": f"{sub}_{body['id']}_{state.get('alertId')}",
        "firedDateTime": state.get("firedAt"),
        "description": body["properties"].get("description", ""),
        "essentialsVersion": "1.0",
        "alertContextVersion": "1.0",
        "alertRuleID": body["id"],
    }
    if condition == "Resolved":
        essentials["resolvedDateTime"] = state.get("resolvedAt")
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": essentials,
            "alertContext": {
                "properties": action.get("webHookProperties") or None,
                "conditionType": "SingleResourceMultipleMetricCriteria",
                "condition": _condition_block(results, window, now),
            },
            "customProperties": action.get("webHookProperties") or None,
        },
    }


def metric_alert_payload(
    record: dict[str, Any],
    condition: str,
    results: list[dict[str, Any]],
    window: float,
    now: float,
    action: dict[str, Any],
) -> dict[str, Any]:
    body = record["body"]
    scope = body["properties"]["scopes"][0]
    parts = scope.split("/")
    return {
        "schemaId": "AzureMonitorMetricAlert",
        "data": {
            "version": "2.0",
            "properties": action.get("webHookProperties") or {},
            "status": "Activated" if condition == "Fired" else "Deactivated",
            "context": {
                "timestamp": iso_instant(now),
                "id": body["id"],
                "name": body["name"],
                "description": body["properties"].get("description", ""),
                "conditionType": "SingleResourceMultipleMetricCriteria",
                "severity": str(body["properties"]["severity"]),
                "condition": _condition_block(results, window, now),
                "subscriptionId": parts[2],
                "resourceGroupName": parts[4],
                "resourceName": parts[-1],
                "resourceType": "Microsoft.App/containerApps",
                "resourceId": scope,
                "portalLink": "",
            },
        },
    }
