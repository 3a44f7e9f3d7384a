"""Application Insights telemetry for the sample agent, standard library only.

It speaks the same ingestion protocol as Microsoft's Azure Monitor OpenTelemetry exporter (the
"Breeze" track API: gzip-compressed JSON envelopes POSTed to `<IngestionEndpoint>/v2.1/track`), so
the items land in the same tables (`requests`, `traces`, `customMetrics`, `exceptions`) with the same
columns. Why not the distro itself (azure-monitor-opentelemetry): see docs/monitoring.md — in short,
~30 packages (some compiled per Python version) that an image built with no network cannot install.

Off unless APPLICATIONINSIGHTS_CONNECTION_STRING is set. Telemetry never delays or fails an answer:
items go into a bounded queue (dropped when full) that a background thread sends in batches; a
failed send is dropped, not retried. On Azure, with the managed identity of Container Apps
(IDENTITY_ENDPOINT/IDENTITY_HEADER), each batch carries an Entra token for https://monitor.azure.com,
which components with local authentication disabled require."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import queue
import ssl
import threading
import time
import traceback
import urllib.parse
import urllib.request
import uuid
from typing import Any

MAX_QUEUE = 2000
MAX_BATCH = 200
FLUSH_SECONDS = float(os.environ.get("APPLICATIONINSIGHTS_FLUSH_SECONDS", "2") or 2)
SEND_TIMEOUT = 5.0
SDK_VERSION = "contoso-agent-stdlib:1.0"
MONITOR_AUDIENCE = "https://monitor.azure.com/"


def parse_connection_string(text: str) -> dict[str, str]:
    parts = dict(p.split("=", 1) for p in text.split(";") if "=" in p)
    return {k.strip().lower(): v.strip() for k, v in parts.items()}


def _duration(seconds: float) -> str:
    """Breeze's TimeSpan: d.hh:mm:ss.ffffff."""
    days, rest = divmod(max(seconds, 0.0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(days)}.{int(hours):02d}:{int(minutes):02d}:{secs:09.6f}"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


class Telemetry:
    """One per process. `enabled` is False (and every method a no-op) without a connection string."""

    def __init__(self, connection_string: str | None, role: str, instance: str, dimensions: dict[str, str]) -> None:
        parts = parse_connection_string(connection_string or "")
        self.ikey = parts.get("instrumentationkey", "")
        endpoint = parts.get("ingestionendpoint", "https://dc.services.visualstudio.com/")
        self.url = endpoint.rstrip("/") + "/v2.1/track"
        self.enabled = bool(self.ikey)
        self.tags = {"ai.cloud.role": role, "ai.cloud.roleInstance": instance, "ai.internal.sdkVersion": SDK_VERSION}
        if dimensions.get("version"):
            self.tags["ai.application.ver"] = dimensions["version"]
        self.dimensions = {k: v for k, v in dimensions.items() if v}
        self.sent = self.dropped = 0
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=MAX_QUEUE)
        self._token: tuple[str, float] | None = None
        self._ssl = ssl.create_default_context()
        if self.enabled:
            threading.Thread(target=self._run, name="telemetry", daemon=True).start()

    # items ---------------------------------------------------------------------------------------
    def request(self, name: str, url: str, status: int, seconds: float, operation_id: str) -> None:
        self._put("RequestData", {
            "id": uuid.uuid4().hex[:16], "name": name, "url": url, "duration": _duration(seconds),
            "responseCode": str(status), "success": status < 400,
        }, operation_id, name)  # fmt: skip

    def trace(self, message: str, operation_id: str = "", severity: str = "Information") -> None:
        self._put("MessageData", {"message": message, "severityLevel": severity}, operation_id)

    def metric(self, name: str, value: float, operation_id: str = "", **extra: str) -> None:
        self._put("MetricData", {"metrics": [{"name": name, "value": float(value), "count": 1}]}, operation_id, **extra)

    def exception(self, exc: BaseException, operation_id: str = "") -> None:
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self._put("ExceptionData", {"exceptions": [{
            "typeName": type(exc).__name__, "message": str(exc), "hasFullStack": True, "stack": stack,
        }], "severityLevel": "Error"}, operation_id)  # fmt: skip

    def _put(self, base_type: str, data: dict[str, Any], operation_id: str, name: str = "", **extra: str) -> None:
        if not self.enabled:
            return
        tags = dict(self.tags)
        if operation_id:
            tags["ai.operation.id"] = operation_id
        if name:
            tags["ai.operation.name"] = name
        envelope = {
            "ver": 1,
            "name": f"Microsoft.ApplicationInsights.{base_type.replace('Data', '')}",
            "time": _now(),
            "sampleRate": 100.0,
            "iKey": self.ikey,
            "tags": tags,
            "data": {"baseType": base_type, "baseData": {"ver": 2, **data, "properties": {**self.dimensions, **extra}}},
        }
        try:
            self._queue.put_nowait(envelope)
        except queue.Full:
            self.dropped += 1

    # sending -------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            deadline = time.monotonic() + FLUSH_SECONDS
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            try:
                self._send(batch)
                self.sent += len(batch)
            except Exception:  # never let telemetry take the agent down; the batch is dropped
                self.dropped += len(batch)

    def _send(self, batch: list[dict[str, Any]]) -> None:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        token = self._entra_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = gzip.compress(json.dumps(batch).encode())
        request = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT, context=self._ssl) as response:
            response.read()

    def _entra_token(self) -> str | None:
        """Container Apps' managed identity endpoint (2019-08-01), when the platform provides one."""
        endpoint, secret = os.environ.get("IDENTITY_ENDPOINT"), os.environ.get("IDENTITY_HEADER")
        if not (endpoint and secret):
            return None
        if self._token and self._token[1] > time.time() + 300:
            return self._token[0]
        query = {"resource": MONITOR_AUDIENCE, "api-version": "2019-08-01"}
        if os.environ.get("AZURE_CLIENT_ID"):
            query["client_id"] = os.environ["AZURE_CLIENT_ID"]
        request = urllib.request.Request(
            f"{endpoint}?{urllib.parse.urlencode(query)}", headers={"X-IDENTITY-HEADER": secret}
        )
        try:
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:
                answer = json.loads(response.read())
            self._token = (answer["access_token"], float(answer.get("expires_on") or time.time() + 3600))
        except (OSError, ValueError, KeyError):
            return None
        return self._token[0]
