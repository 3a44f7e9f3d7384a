"""Application Insights ingestion (the Breeze `track` protocol) and the tables Log Analytics queries.

Exporters (azure-monitor-opentelemetry-exporter, the classic SDKs, the sample agent) POST envelopes
to `<IngestionEndpoint>/v2.1/track` (or `/v2/track`): a JSON array, or one JSON object per line,
optionally gzip-encoded. Each envelope names its component by `iKey` and carries one telemetry item
(`data.baseType` RequestData, RemoteDependencyData, MessageData, ExceptionData, MetricData,
EventData) plus context `tags` (`ai.cloud.role`, `ai.cloud.roleInstance`, `ai.operation.id`, …).

Items become rows under both names Log Analytics knows them by: the classic Application Insights
tables (`requests`, `dependencies`, `traces`, `exceptions`, `customMetrics`, `customEvents`, columns
`timestamp`, `cloud_RoleName`, `customDimensions`, …) and the workspace tables (`AppRequests`,
`AppDependencies`, `AppTraces`, `AppExceptions`, `AppMetrics`, `AppEvents`, columns `TimeGenerated`,
`AppRoleName`, `Properties`, …)."""

from __future__ import annotations

import collections
import datetime as dt
import gzip
import json
import re
import threading
import zlib
from typing import Any

MAX_ITEMS = 50_000  # per component; the oldest fall off first
_SEVERITY = {"verbose": 0, "information": 1, "warning": 2, "error": 3, "critical": 4}
_DURATION = re.compile(r"^(?:(?P<d>\d+)\.)?(?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)$")
CLASSIC_TABLES = ("requests", "dependencies", "traces", "exceptions", "customMetrics", "customEvents")
WORKSPACE_TABLES = {
    "AppRequests": "requests",
    "AppDependencies": "dependencies",
    "AppTraces": "traces",
    "AppExceptions": "exceptions",
    "AppMetrics": "customMetrics",
    "AppEvents": "customEvents",
}


class TrackError(ValueError):
    """An envelope Breeze refuses (answered per item in `errors[]`)."""


def decode_body(raw: bytes, encoding: str | None) -> list[Any]:
    """The envelopes of a track request: gzip/deflate, then a JSON array, one object, or JSON lines."""
    enc = (encoding or "").lower()
    if enc == "gzip" or raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    elif enc == "deflate":
        raw = zlib.decompress(raw)
    text = raw.decode("utf-8").strip()
    if not text:
        return []
    try:
        parsed = json.loads(text)
        return parsed if isinstance(parsed, list) else [parsed]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def parse_duration_ms(text: Any) -> float:
    """Breeze durations are `d.hh:mm:ss.fffffff` strings; numbers are taken as milliseconds."""
    if isinstance(text, int | float):
        return float(text)
    m = _DURATION.match(str(text or "").strip())
    if not m:
        raise TrackError(f"Field 'duration' on type '…' is not a valid TimeSpan: {text!r}")
    g = m.groupdict()
    seconds = int(g["d"] or 0) * 86400 + int(g["h"]) * 3600 + int(g["m"]) * 60 + float(g["s"])
    return round(seconds * 1000.0, 3)


def _stamp(text: Any) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise TrackError(f"Field 'time' is not a valid date: {text!r}") from None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _severity(value: Any) -> int:
    if isinstance(value, int):
        return value
    return _SEVERITY.get(str(value or "information").lower(), 1)


def to_row(envelope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(classic table name, row) for one envelope; TrackError when Breeze would refuse it."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("data"), dict):
        raise TrackError("Field 'data' on type 'Envelope' is required but missing or empty.")
    if "time" not in envelope:
        raise TrackError("Field 'time' on type 'Envelope' is required but missing or empty.")
    tags = envelope.get("tags") or {}
    base_type = envelope["data"].get("baseType")
    data = envelope["data"].get("baseData") or {}
    row: dict[str, Any] = {
        "timestamp": _stamp(envelope["time"]),
        "itemType": "",
        "operation_Id": tags.get("ai.operation.id", ""),
        "operation_ParentId": tags.get("ai.operation.parentId", ""),
        "operation_Name": tags.get("ai.operation.name", ""),
        "cloud_RoleName": tags.get("ai.cloud.role", ""),
        "cloud_RoleInstance": tags.get("ai.cloud.roleInstance", ""),
        "application_Version": tags.get("ai.application.ver", ""),
        "sdkVersion": tags.get("ai.internal.sdkVersion", ""),
        "customDimensions": dict(data.get("properties") or {}),
        "customMeasurements": dict(data.get("measurements") or {}),
        "itemCount": int(100 / float(envelope.get("sampleRate") or 100)),
        "iKey": envelope.get("iKey", ""),
    }
    if base_type == "RequestData":
        code = str(data.get("responseCode", ""))
        row.update(
            itemType="request",
            id=data.get("id", ""),
            name=data.get("name", ""),
            url=data.get("url", ""),
            source=data.get("source", ""),
            success=bool(data.get("success", True)),
            resultCode=code,
            duration=parse_duration_ms(data.get("duration")),
        )
        return "requests", row
    if base_type == "RemoteDependencyData":
        row.update(
            itemType="dependency",
            id=data.get("id", ""),
            name=data.get("name", ""),
            target=data.get("target", ""),
            type=data.get("type", ""),
            data=data.get("data", ""),
            success=bool(data.get("success", True)),
            resultCode=str(data.get("resultCode", "")),
            duration=parse_duration_ms(data.get("duration")),
        )
        return "dependencies", row
    if base_type == "MessageData":
        row.update(
            itemType="trace",
            message=data.get("message", ""),
            severityLevel=_severity(data.get("severityLevel")),
        )
        return "traces", row
    if base_type == "ExceptionData":
        first = (data.get("exceptions") or [{}])[0]
        row.update(
            itemType="exception",
            type=first.get("typeName", ""),
            outerMessage=first.get("message", ""),
            outerType=first.get("typeName", ""),
            problemId=data.get("problemId") or first.get("typeName", ""),
            severityLevel=_severity(data.get("severityLevel")),
            details=data.get("exceptions") or [],
        )
        return "exceptions", row
    if base_type == "MetricData":
        metric = (data.get("metrics") or [None])[0]
        if not isinstance(metric, dict) or "name" not in metric or "value" not in metric:
            raise TrackError("Field 'metrics' on type 'MetricData' is required but missing or empty.")
        value = float(metric["value"])
        count = int(metric.get("count") or 1)
        row.update(
            itemType="customMetric",
            name=metric["name"],
            value=value,
            valueCount=count,
            valueSum=value,
            valueMin=float(metric.get("min", value)),
            valueMax=float(metric.get("max", value)),
            valueStdDev=float(metric.get("stdDev", 0.0)),
        )
        return "customMetrics", row
    if base_type == "EventData":
        row.update(itemType="customEvent", name=data.get("name", ""))
        return "customEvents", row
    raise TrackError(f"Unknown baseType '{base_type}'.")


def workspace_row(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """The same item with the workspace (AppRequests-style) column names."""
    out = {
        "TimeGenerated": row["timestamp"],
        "OperationId": row["operation_Id"],
        "ParentId": row["operation_ParentId"],
        "OperationName": row["operation_Name"],
        "AppRoleName": row["cloud_RoleName"],
        "AppRoleInstance": row["cloud_RoleInstance"],
        "AppVersion": row["application_Version"],
        "SDKVersion": row["sdkVersion"],
        "Properties": row["customDimensions"],
        "Measurements": row["customMeasurements"],
        "ItemCount": row["itemCount"],
        "Type": {v: k for k, v in WORKSPACE_TABLES.items()}[table],
    }
    if table in ("requests", "dependencies"):
        out.update(
            Id=row["id"],
            Name=row["name"],
            Success=row["success"],
            ResultCode=row["resultCode"],
            DurationMs=row["duration"],
        )
        if table == "requests":
            out.update(Url=row["url"], Source=row["source"])
        else:
            out.update(Target=row["target"], DependencyType=row["type"], Data=row["data"])
    elif table == "traces":
        out.update(Message=row["message"], SeverityLevel=row["severityLevel"])
    elif table == "exceptions":
        out.update(
            ExceptionType=row["type"],
            OuterMessage=row["outerMessage"],
            ProblemId=row["problemId"],
            SeverityLevel=row["severityLevel"],
        )
    elif table == "customMetrics":
        out.update(
            Name=row["name"],
            Sum=row["valueSum"],
            Count=row["valueCount"],
            Min=row["valueMin"],
            Max=row["valueMax"],
        )
    elif table == "customEvents":
        out.update(Name=row["name"])
    return out


class TelemetryStore:
    """Items per component (instrumentation key), in the daemon's memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, collections.deque[tuple[str, dict[str, Any]]]] = {}

    def track(self, envelopes: list[Any], known_key: Any) -> dict[str, Any]:
        """Breeze's answer: itemsReceived / itemsAccepted / errors[] (index, statusCode, message).
        `known_key(ikey)` says whether a component with that instrumentation key exists."""
        accepted, errors = 0, []
        for index, envelope in enumerate(envelopes):
            ikey = str(envelope.get("iKey", "")).lower() if isinstance(envelope, dict) else ""
            if not known_key(ikey):
                errors.append({"index": index, "statusCode": 400, "message": "Invalid instrumentation key"})
                continue
            try:
                table, row = to_row(envelope)
            except (TrackError, TypeError, ValueError) as exc:
                errors.append({"index": index, "statusCode": 400, "message": str(exc)})
                continue
            with self._lock:
                self._items.setdefault(ikey, collections.deque(maxlen=MAX_ITEMS)).append((table, row))
            accepted += 1
        return {"itemsReceived": len(envelopes), "itemsAccepted": accepted, "errors": errors}

    def rows(self, ikeys: list[str], table: str) -> list[dict[str, Any]] | None:
        """The rows of `table` (classic or workspace name) across the given components; None when no
        such table exists."""
        classic = next((t for t in CLASSIC_TABLES if t.lower() == table.lower()), None)
        workspace = WORKSPACE_TABLES.get(table)
        if classic is None and workspace is None:
            return None
        with self._lock:
            items = [item for key in ikeys for item in self._items.get(key.lower(), ())]
        if classic is not None:
            return [row for t, row in items if t == classic]
        return [workspace_row(t, row) for t, row in items if t == workspace]
