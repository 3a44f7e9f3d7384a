"""Microsoft.Insights on the stand-in's ARM endpoint: the per-resource metrics API for Container Apps
(answered from the router's real traffic), and metricAlerts / actionGroups / scheduledQueryRules as
stored resources with the request checks Azure makes before accepting them.

api-versions are the ones azure-mgmt-monitor 7 sends and the pinned specs describe: metricAlerts
2018-03-01, actionGroups 2023-01-01, scheduledQueryRules 2023-12-01, metrics 2024-02-01."""

from __future__ import annotations

import re
import time
from typing import Any

from ..arm.common import Response, now_iso, system_data
from ..arm.errors import ArmError, bad_request
from .dataplane import MonitorData
from .durations import iso_duration, iso_instant, parse_duration, parse_instant
from .traffic import METRICS, TrafficMetrics, aggregate, matches, split_keys

METRIC_ALERTS = "microsoft.insights/metricalerts"
ACTION_GROUPS = "microsoft.insights/actiongroups"
QUERY_RULES = "microsoft.insights/scheduledqueryrules"
METRICS_NS = "microsoft.insights/metrics"
API_VERSIONS = {
    METRIC_ALERTS: {"2018-03-01"},
    ACTION_GROUPS: {"2023-01-01"},
    QUERY_RULES: {"2023-12-01", "2021-08-01"},
    METRICS_NS: {"2024-02-01", "2023-10-01", "2021-05-01", "2018-01-01"},
}
METRIC_ALERT_TYPE = "Microsoft.Insights/metricAlerts"
ACTION_GROUP_TYPE = "Microsoft.Insights/ActionGroups"
QUERY_RULE_TYPE = "Microsoft.Insights/scheduledQueryRules"
CONTAINER_APP_TYPE = "Microsoft.App/containerApps"
# Azure's allowed values for metric alerts (anything else is rejected with BadRequest)
WINDOW_SIZES = {"PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D"}
FREQUENCIES = {"PT1M", "PT5M", "PT15M", "PT30M", "PT1H"}
OPERATORS = {"Equals", "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual"}
AGGREGATIONS = {"Average", "Count", "Minimum", "Maximum", "Total"}
RECEIVER_KINDS = (
    "emailReceivers",
    "smsReceivers",
    "webhookReceivers",
    "itsmReceivers",
    "azureAppPushReceivers",
    "automationRunbookReceivers",
    "voiceReceivers",
    "logicAppReceivers",
    "azureFunctionReceivers",
    "armRoleReceivers",
    "eventHubReceivers",
)
_FILTER_CLAUSE = re.compile(
    r"^\s*(?P<name>[A-Za-z]+)\s+(?P<op>eq|ne)\s+'(?P<value>[^']*)'\s*$", re.IGNORECASE
)


class InsightsMixin:
    """Mixed into ArmApi (store, sub_id, require_rg come from there)."""

    store: Any
    subscription_id: str
    client_id: str
    _traffic_metrics: TrafficMetrics | None = None
    _monitor_data: MonitorData | None = None
    ingestion_url: str | None = None  # the data plane's https://host:port/, once it listens

    @property
    def monitor_data(self) -> MonitorData:
        if self._monitor_data is None:
            self._monitor_data = MonitorData(self.store)
        return self._monitor_data

    @property
    def traffic(self) -> TrafficMetrics:
        if self._traffic_metrics is None:
            self._traffic_metrics = TrafficMetrics()
        return self._traffic_metrics

    def add_insights_routes(self, r: Any, rg_prefix: str, app_prefix: str, sub_prefix: str) -> None:
        ins = rg_prefix + r"/providers/microsoft\.insights"
        r(
            "GET",
            app_prefix + r"/containerapps/(?P<app>[^/]+)/providers/microsoft\.insights/metrics",
            METRICS_NS,
            self.get_app_metrics,
        )
        for ns, kind, put, patch in (
            (METRIC_ALERTS, "metricalerts", self.put_metric_alert, self.patch_metric_alert),
            (ACTION_GROUPS, "actiongroups", self.put_action_group, self.patch_action_group),
            (QUERY_RULES, "scheduledqueryrules", self.put_query_rule, self.patch_query_rule),
        ):
            one = ins + f"/{kind}/(?P<name>[^/]+)"
            r("PUT", one, ns, put)
            r("PATCH", one, ns, patch)
            r("GET", one, ns, self._getter(ns))
            r("DELETE", one, ns, self._deleter(ns))
            r("GET", ins + f"/{kind}", ns, self._lister(ns))
            r("GET", sub_prefix + rf"/providers/microsoft\.insights/{kind}", ns, self._lister(ns))
        r("GET", ins + "/metricalerts/(?P<name>[^/]+)/status", METRIC_ALERTS, self.get_metric_alert_status)
        r(
            "GET",
            ins + "/metricalerts/(?P<name>[^/]+)/status/(?P<status>[^/]+)",
            METRIC_ALERTS,
            self.get_metric_alert_status,
        )

    # generic resource plumbing ------------------------------------------------------------------
    def _type_of(self, ns: str) -> str:
        return {
            METRIC_ALERTS: METRIC_ALERT_TYPE,
            ACTION_GROUPS: ACTION_GROUP_TYPE,
            QUERY_RULES: QUERY_RULE_TYPE,
        }[ns]

    def _rid(self, ns: str, rg: str, name: str) -> str:
        rg_id = self.require_rg(rg)["id"]  # type: ignore[attr-defined]
        return f"{rg_id}/providers/{self._type_of(ns)}/{name}"

    def _require(self, ns: str, rg: str, name: str) -> dict[str, Any]:
        record = self.store.get(self._rid(ns, rg, name))
        if record is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{self._type_of(ns)}/{name}' under resource group '{rg}' was not found. "
                "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            )
        return record

    def _getter(self, ns: str) -> Any:
        def get(body: Any, query: dict[str, str], rg: str, name: str) -> Response:
            return Response(200, self._require(ns, rg, name)["body"])

        return get

    def _deleter(self, ns: str) -> Any:
        def delete(body: Any, query: dict[str, str], rg: str, name: str) -> Response:
            with self.store.lock:
                self.require_rg(rg)  # type: ignore[attr-defined]
                gone = self.store.delete(self._rid(ns, rg, name))
            return Response(200 if gone else 204, None)

        return delete

    def _lister(self, ns: str) -> Any:
        def list_(body: Any, query: dict[str, str], rg: str | None = None) -> Response:
            prefix = f"/subscriptions/{self.subscription_id}"
            if rg is not None:
                prefix = self.require_rg(rg)["id"]  # type: ignore[attr-defined]
            found = self.store.list(prefix, self._type_of(ns))
            return Response(200, {"value": [r["body"] for r in found]})

        return list_

    def _envelope(self, rid: str, name: str, rtype: str, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body.get("location"), str) or not body["location"]:
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        if not isinstance(body.get("properties"), dict):
            raise bad_request("InvalidRequestContent", "The 'properties' object is required.")
        out: dict[str, Any] = {"id": rid, "name": name, "type": rtype, "location": body["location"]}
        if body.get("tags") is not None:
            out["tags"] = body["tags"]
        return out

    def _save(self, rid: str, rtype: str, out: dict[str, Any], existing: dict[str, Any] | None) -> None:
        record = {"id": rid, "type": rtype, "body": out}
        if existing is not None and "monitor" in existing:
            record["monitor"] = existing["monitor"]  # the evaluator's state survives an update
        self.store.put(rid, record)

    # metric alerts -----------------------------------------------------------------------------------
    def put_metric_alert(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        body = body or {}
        with self.store.lock:
            rid = self._rid(METRIC_ALERTS, rg, name)
            existing = self.store.get(rid)
            out = self._envelope(rid, name, METRIC_ALERT_TYPE, body)
            props = dict(body["properties"])
            self._check_metric_alert(props)
            props.setdefault("autoMitigate", True)
            props.setdefault("actions", [])
            props.setdefault("description", "")
            props["lastUpdatedTime"] = now_iso()
            props["isMigrated"] = False
            out["properties"] = props
            self._save(rid, METRIC_ALERT_TYPE, out, existing)
        return Response(200, out)

    def patch_metric_alert(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        body = body or {}
        with self.store.lock:
            record = self._require(METRIC_ALERTS, rg, name)
            out = record["body"]
            if body.get("tags") is not None:
                out["tags"] = body["tags"]
            props = {**out["properties"], **(body.get("properties") or {})}
            self._check_metric_alert(props)
            props["lastUpdatedTime"] = now_iso()
            out["properties"] = props
            self.store.put(record["id"], record)
        return Response(200, out)

    def _check_metric_alert(self, props: dict[str, Any]) -> None:
        for field in ("enabled", "severity", "evaluationFrequency", "windowSize", "criteria", "scopes"):
            if props.get(field) is None:
                raise bad_request("BadRequest", f"The '{field}' property is required.")
        if not isinstance(props["severity"], int) or not 0 <= props["severity"] <= 4:
            raise bad_request("BadRequest", "Severity must be an integer between 0 and 4.")
        if str(props["windowSize"]).upper() not in WINDOW_SIZES:
            raise bad_request(
                "BadRequest",
                f"Window size '{props['windowSize']}' is not supported. Supported values: "
                f"{', '.join(sorted(WINDOW_SIZES))}.",
            )
        if str(props["evaluationFrequency"]).upper() not in FREQUENCIES:
            raise bad_request(
                "BadRequest", f"Evaluation frequency '{props['evaluationFrequency']}' is not supported."
            )
        scopes = props["scopes"]
        if not isinstance(scopes, list) or len(scopes) != 1:
            raise bad_request(
                "BadRequest", "The stand-in supports single-resource metric alerts: give exactly one scope."
            )
        target = self.store.get(scopes[0])
        if target is None:
            raise bad_request("ResourceNotFound", f"Scope '{scopes[0]}' could not be found.")
        if target.get("type", "").lower() != CONTAINER_APP_TYPE.lower():
            raise bad_request(
                "BadRequest",
                f"Metric alerts on '{target.get('type')}' are not emulated; use a Container App.",
            )
        criteria = props["criteria"]
        kind = criteria.get("odata.type") if isinstance(criteria, dict) else None
        if kind != "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria":
            raise bad_request(
                "BadRequest",
                f"Criteria type '{kind}' is not supported for a single-resource alert; use "
                "'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'.",
            )
        all_of = criteria.get("allOf")
        if not isinstance(all_of, list) or not all_of:
            raise bad_request("BadRequest", "criteria.allOf must list at least one criterion.")
        for criterion in all_of:
            metric = str(criterion.get("metricName", ""))
            if metric.lower() not in METRICS:
                raise bad_request(
                    "BadRequest",
                    f"Couldn't find a metric named {metric}. Make sure the name is correct. Valid metrics: "
                    f"{', '.join(m.name for m in METRICS.values())}.",
                )
            if criterion.get("criterionType") != "StaticThresholdCriterion":
                raise bad_request(
                    "BadRequest", "Only static thresholds are emulated (StaticThresholdCriterion)."
                )
            if criterion.get("operator") not in OPERATORS:
                raise bad_request("BadRequest", f"Operator '{criterion.get('operator')}' is not valid.")
            if criterion.get("timeAggregation") not in AGGREGATIONS:
                raise bad_request(
                    "BadRequest", f"Time aggregation '{criterion.get('timeAggregation')}' is not valid."
                )
            if not isinstance(criterion.get("threshold"), int | float):
                raise bad_request("BadRequest", "threshold must be a number.")
            allowed = {d.lower() for d in METRICS[metric.lower()].dimensions}
            for dim in criterion.get("dimensions") or []:
                if str(dim.get("name", "")).lower() not in allowed:
                    raise bad_request(
                        "BadRequest", f"Dimension '{dim.get('name')}' is not valid for metric {metric}."
                    )
        for action in props.get("actions") or []:
            group = action.get("actionGroupId") or ""
            if self.store.get(group) is None:
                raise bad_request("BadRequest", f"Action group '{group}' could not be found.")

    def get_metric_alert_status(
        self, body: Any, query: dict[str, str], rg: str, name: str, status: str | None = None
    ) -> Response:
        record = self._require(METRIC_ALERTS, rg, name)
        state = record.get("monitor") or {}
        condition = state.get("condition", "Resolved")
        item = {
            "name": status or "status",
            "id": record["id"] + "/status/" + (status or "status"),
            "type": "Microsoft.Insights/metricAlerts/status",
            "properties": {
                "dimensions": state.get("dimensions") or {},
                "status": "Unhealthy" if condition == "Fired" else "Healthy",
                "timestamp": state.get("evaluatedAt") or record["body"]["properties"]["lastUpdatedTime"],
            },
        }
        return Response(200, {"value": [item]})

    # action groups -------------------------------------------------------------------------------------
    def put_action_group(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        body = body or {}
        with self.store.lock:
            rid = self._rid(ACTION_GROUPS, rg, name)
            existing = self.store.get(rid)
            out = self._envelope(rid, name, ACTION_GROUP_TYPE, body)
            props = dict(body["properties"])
            short = props.get("groupShortName")
            if not isinstance(short, str) or not 1 <= len(short) <= 12:
                raise bad_request(
                    "BadRequest", "groupShortName is required and must be at most 12 characters long."
                )
            props.setdefault("enabled", True)
            for kind in RECEIVER_KINDS:
                props[kind] = list(props.get(kind) or [])
            for receiver in props["webhookReceivers"]:
                if not str(receiver.get("serviceUri", "")).lower().startswith(("http://", "https://")):
                    raise bad_request(
                        "BadRequest", f"Webhook '{receiver.get('name')}' needs an http(s) serviceUri."
                    )
                receiver.setdefault("useCommonAlertSchema", False)
                receiver.setdefault("useAadAuth", False)
            for receiver in props["emailReceivers"]:
                receiver.setdefault("useCommonAlertSchema", False)
                receiver["status"] = "Enabled"
            out["properties"] = props
            self._save(rid, ACTION_GROUP_TYPE, out, existing)
        return Response(200 if existing else 201, out)

    def patch_action_group(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        body = body or {}  # ActionGroupPatchBody: tags and properties.enabled only
        with self.store.lock:
            record = self._require(ACTION_GROUPS, rg, name)
            if body.get("tags") is not None:
                record["body"]["tags"] = body["tags"]
            enabled = (body.get("properties") or {}).get("enabled")
            if enabled is not None:
                record["body"]["properties"]["enabled"] = bool(enabled)
            self.store.put(record["id"], record)
        return Response(200, record["body"])

    # scheduled query rules (stored; the stand-in has no Log Analytics to run their KQL) -------------------
    def put_query_rule(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        body = body or {}
        with self.store.lock:
            rid = self._rid(QUERY_RULES, rg, name)
            existing = self.store.get(rid)
            out = self._envelope(rid, name, QUERY_RULE_TYPE, body)
            props = dict(body["properties"])
            all_of = (props.get("criteria") or {}).get("allOf")
            if not isinstance(all_of, list) or not all_of or not all(c.get("query") for c in all_of):
                raise bad_request(
                    "BadRequest", "criteria.allOf must hold at least one condition with a query."
                )
            if not props.get("scopes"):
                raise bad_request("BadRequest", "scopes is required.")
            props["createdWithApiVersion"] = query.get("api-version", "")
            props["isLegacyLogAnalyticsRule"] = False
            props.setdefault("enabled", True)
            out["kind"] = body.get("kind") or "LogAlert"
            previous = existing["body"]["systemData"]["createdAt"] if existing else now_iso()
            out["systemData"] = system_data(self.client_id, previous, now_iso())
            out["properties"] = props
            self._save(rid, QUERY_RULE_TYPE, out, existing)
        return Response(200 if existing else 201, out)

    def patch_query_rule(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        body = body or {}
        with self.store.lock:
            record = self._require(QUERY_RULES, rg, name)
            if body.get("tags") is not None:
                record["body"]["tags"] = body["tags"]
            record["body"]["properties"].update(body.get("properties") or {})
            self.store.put(record["id"], record)
        return Response(200, record["body"])

    # metrics ------------------------------------------------------------------------------------------
    def get_app_metrics(self, body: Any, query: dict[str, str], rg: str, app: str) -> Response:
        record = self.store.get(
            f"{self.require_rg(rg)['id']}/providers/Microsoft.App/containerApps/{app}"  # type: ignore[attr-defined]
        )
        if record is None:
            raise ArmError(
                404, "ResourceNotFound", f"The Resource 'Microsoft.App/containerApps/{app}' was not found."
            )
        now = time.time()
        start, end = _timespan(query.get("timespan"), now)
        interval = _interval(query.get("interval"), start, end)
        names = [n.strip() for n in (query.get("metricnames") or "Requests").split(",") if n.strip()]
        unknown = [n for n in names if n.lower() not in METRICS]
        if unknown:
            raise bad_request(
                "BadRequest",
                f"Failed to find metric configuration for provider: Microsoft.App, resource Type: "
                f"containerApps, metric: {unknown[0]}, Valid metrics: "
                f"{','.join(m.name for m in METRICS.values())}",
            )
        filters, split_by = _parse_filter(query.get("$filter") or "")
        top = int(query.get("top") or 10)
        metadata_only = (query.get("resultType") or "").lower() == "metadata"
        samples = self.traffic.samples(self.app_domain(record), record["body"]["name"], start, end)
        values = []
        for name in names:
            info = METRICS[name.lower()]
            aggs = [a.strip().lower() for a in (query.get("aggregation") or "").split(",") if a.strip()]
            aggs = aggs or (["average"] if info.name == "ResponseTime" else ["total"])
            mine = [s for s in samples if matches(s, filters)]
            groups: dict[tuple[str, ...], list[Any]] = {}
            for s in mine:
                groups.setdefault(split_keys(s, split_by), []).append(s)
            if not split_by:
                groups = {(): mine}
            ranked = sorted(groups.items(), key=lambda kv: -len(kv[1]))[:top]
            series = []
            for keys, members in ranked:
                series.append(
                    {
                        "metadatavalues": [
                            {"name": {"value": d.lower(), "localizedValue": d}, "value": v}
                            for d, v in zip(split_by, keys, strict=True)
                        ],
                        "data": [] if metadata_only else _grains(members, info, aggs, start, end, interval),
                    }
                )
            values.append(
                {
                    "id": f"{record['id']}/providers/Microsoft.Insights/metrics/{info.name}",
                    "type": "Microsoft.Insights/metrics",
                    "name": {"value": info.name, "localizedValue": info.name},
                    "displayDescription": info.description,
                    "unit": info.unit,
                    "timeseries": series,
                    "errorCode": "Success",
                }
            )
        return Response(
            200,
            {
                "cost": 0,
                "timespan": f"{iso_instant(start)}/{iso_instant(end)}",
                "interval": iso_duration(interval),
                "namespace": CONTAINER_APP_TYPE,
                "resourceregion": str((record.get("envelope") or {}).get("location", ""))
                .replace(" ", "")
                .lower(),
                "value": values,
            },
        )

    def app_domain(self, app_record: dict[str, Any]) -> str:
        """The environment default domain an app is served under (the router's key for its traffic)."""
        return str((app_record.get("env") or {}).get("domain", "")).lower()


def _timespan(text: str | None, now: float) -> tuple[float, float]:
    if not text:
        return now - 3600, now
    start_text, _, end_text = text.partition("/")
    start, end = parse_instant(start_text), parse_instant(end_text) if end_text else now
    if start is None:  # "PT1H" style: a duration back from now
        span = parse_duration(start_text)
        if span is None:
            raise bad_request("BadRequest", f"Invalid timespan '{text}'.")
        return now - span, now
    if end is None:
        span = parse_duration(end_text)
        if span is None:
            raise bad_request("BadRequest", f"Invalid timespan '{text}'.")
        end = start + span
    if end <= start:
        raise bad_request("BadRequest", f"Invalid timespan '{text}': the end must come after the start.")
    return start, end


def _interval(text: str | None, start: float, end: float) -> float:
    if not text:
        return 60.0
    if text.upper() == "FULL":
        return end - start
    seconds = parse_duration(text)
    if seconds is None or seconds < 60:
        raise bad_request("BadRequest", f"Invalid interval '{text}': use PT1M or longer, or FULL.")
    return seconds


def _parse_filter(text: str) -> tuple[list[tuple[str, str, list[str]]], list[str]]:
    """`a eq 'x' and (b eq 'y' or b eq 'z') and c eq '*'` → filters and split dimensions."""
    filters: list[tuple[str, str, list[str]]] = []
    split_by: list[str] = []
    if not text.strip():
        return filters, split_by
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        alternatives = re.split(r"\s+or\s+", part.strip().strip("()"), flags=re.IGNORECASE)
        name, mode, values = "", "include", []
        for alt in alternatives:
            m = _FILTER_CLAUSE.match(alt.strip("() "))
            if not m:
                raise bad_request("BadRequest", f"Invalid $filter clause '{alt.strip()}'.")
            name = m.group("name")
            mode = "include" if m.group("op").lower() == "eq" else "exclude"
            values.append(m.group("value"))
        if "*" in values:
            split_by.append(name)
        else:
            filters.append((name, mode, values))
    return filters, split_by


def _grains(
    samples: list[Any], info: Any, aggs: list[str], start: float, end: float, interval: float
) -> list[dict[str, Any]]:
    # Azure aligns grains on the grain boundary (a PT1M series starts on a whole minute)
    first = start - (start % interval) if interval < end - start else start
    points = []
    t = first
    while t < end:
        values = [info.value(s) for s in samples if t <= s.time < t + interval]
        agg = aggregate(values)
        point: dict[str, Any] = {"timeStamp": iso_instant(t)}
        for a in aggs:
            if a in agg:
                point[a] = agg[a]
        points.append(point)
        t += interval
    return points
