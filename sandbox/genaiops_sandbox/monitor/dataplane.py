"""The stand-in's Azure Monitor data plane: one HTTPS listener for

- Application Insights ingestion (`POST /v2.1/track`, `/v2/track`; Azure:
  `https://<region>.in.applicationinsights.azure.com/v2.1/track`), the endpoint every component's
  connection string names as `IngestionEndpoint`;
- the Log Analytics query API (`POST /v1/workspaces/{workspaceId}/query`; Azure:
  `https://api.loganalytics.io/v1/workspaces/{id}/query`) that azure-monitor-query's LogsQueryClient
  calls, answering the KQL subset of kql.py over the workspace's Application Insights tables.

It listens on the Docker bridge's gateway address when the runtime has one (revision containers
reach it there, as they would reach Azure's public ingestion endpoint), else on 127.0.0.1; the host
reaches either. Its certificate is signed by the stand-in CA, which revision containers are given."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..ca import issue_server_cert
from ..tls_server import TLSThreadingHTTPServer
from ..tokens import TokenIssuer
from . import kql
from .appinsights import TelemetryStore, decode_body
from .durations import parse_duration

log = logging.getLogger("genaiops.sandbox.monitor")
LOGS_AUDIENCES = {"https://api.loganalytics.io", "https://api.loganalytics.io/"}
_QUERY = re.compile(r"^/v1/workspaces/(?P<ws>[^/]+)/query$")
_RESOURCE_QUERY = re.compile(r"^/v1(?P<rid>/subscriptions/.+)/query$", re.IGNORECASE)
_TRACK = {"/v2/track", "/v2.1/track"}
WORKSPACE_TYPE = "microsoft.operationalinsights/workspaces"
COMPONENT_TYPE = "microsoft.insights/components"


class MonitorData:
    """What the listener answers from: the telemetry store and the ARM store's components and
    workspaces (for instrumentation keys and which components feed which workspace)."""

    def __init__(self, arm_store: Any, telemetry: TelemetryStore | None = None) -> None:
        self.arm_store = arm_store
        self.telemetry = telemetry or TelemetryStore()
        self.extra_tables: dict[str, Callable[[str], list[dict[str, Any]] | None]] = {}

    def _components(self) -> list[dict[str, Any]]:
        return [r for r in self.arm_store.all() if str(r.get("type", "")).lower() == COMPONENT_TYPE]

    def known_key(self, ikey: str) -> bool:
        return any(
            str(r["body"]["properties"].get("InstrumentationKey", "")).lower() == ikey
            for r in self._components()
        )

    def workspace(self, customer_id: str) -> dict[str, Any] | None:
        for r in self.arm_store.all():
            if str(r.get("type", "")).lower() != WORKSPACE_TYPE:
                continue
            props = r["body"].get("properties") or {}
            if str(props.get("customerId", "")).lower() == customer_id.lower():
                return r
        return None

    def workspace_keys(self, workspace: dict[str, Any]) -> list[str]:
        """Instrumentation keys of the components that send to `workspace` (WorkspaceResourceId)."""
        wid = workspace["id"].lower()
        return [
            str(r["body"]["properties"].get("InstrumentationKey", "")).lower()
            for r in self._components()
            if str(r["body"]["properties"].get("WorkspaceResourceId", "")).lower() == wid
        ]

    def scope_tables(self, resource_id: str) -> Callable[[str], list[dict[str, Any]] | None] | None:
        """`tables(name)` as a resource-centric query on `resource_id` sees them: a component its
        own items, a workspace those of every component that sends to it (and its other tables), any
        other resource (a Container App) only the extra tables about it. None: no such resource."""
        record = self.arm_store.get(resource_id)
        if record is None:
            return None
        kind = str(record.get("type", "")).lower()
        if kind == COMPONENT_TYPE:
            keys = [str(record["body"]["properties"].get("InstrumentationKey", "")).lower()]
        elif kind == WORKSPACE_TYPE:
            keys = self.workspace_keys(record)
        else:
            keys = []
        rid = record["id"]

        def tables(name: str) -> list[dict[str, Any]] | None:
            rows = self.telemetry.rows(keys, name) if keys else None
            if rows is None and name in self.extra_tables:
                rows = self.extra_tables[name](rid)
            return rows

        return tables

    def query(self, scope: str, text: str, timespan: str | None, now: dt.datetime) -> dict[str, Any]:
        """`scope`: a workspace's customerId, or a resource id (resource-centric query)."""
        if scope.startswith("/"):
            tables = self.scope_tables(scope)
        else:
            workspace = self.workspace(scope)
            tables = self.scope_tables(workspace["id"]) if workspace is not None else None
        if tables is None:
            raise LookupError(scope)
        start, end = parse_timespan(timespan, now)

        def windowed(name: str) -> list[dict[str, Any]] | None:
            rows = tables(name)
            return None if rows is None else [r for r in rows if in_span(r, start, end)]

        rows = kql.run(text, windowed, now=now)
        return {"tables": [kql.as_table(rows)]}


def parse_timespan(text: str | None, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """`PT3600.0S` (the last hour), `start/end` or `start/PT…` as LogsQueryClient sends them."""
    if not text:
        return None, None

    def instant(part: str) -> dt.datetime:
        value = dt.datetime.fromisoformat(part.replace("Z", "+00:00"))
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value

    if "/" in text:
        first, second = text.split("/", 1)
        start = instant(first)
        seconds = parse_duration(second)
        return start, (start + dt.timedelta(seconds=seconds)) if seconds is not None else instant(second)
    seconds = parse_duration(text)
    if seconds is None:
        raise ValueError(f"timespan {text!r} is not an ISO 8601 duration or interval")
    return now - dt.timedelta(seconds=seconds), None


def in_span(row: dict[str, Any], start: dt.datetime | None, end: dt.datetime | None) -> bool:
    stamp = row.get("timestamp") or row.get("TimeGenerated")
    if stamp is None:
        return True
    return (start is None or stamp >= start) and (end is None or stamp <= end)


class MonitorDataServer(TLSThreadingHTTPServer):
    allow_reuse_address = True

    def __init__(
        self, host: str, port: int, *, data: MonitorData, issuer: TokenIssuer, ssl_context: ssl.SSLContext
    ) -> None:
        super().__init__((host, port), _Handler)
        self.data = data
        self.issuer = issuer
        self.ssl_context = ssl_context

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"https://{self.server_address[0]}:{self.port}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MonitorDataServer
    server_version = "genaiops-sandbox-monitor"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    def do_POST(self) -> None:
        path = unquote(urlsplit(self.path).path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            if path in _TRACK:
                self._track(raw)
                return
            m = _QUERY.match(path)
            if m:
                self._query(m.group("ws"), raw)
                return
            m = _RESOURCE_QUERY.match(path)
            if m:
                self._query(m.group("rid"), raw)
                return
            self._send(404, _error("PathNotFoundError", f"The requested path does not exist: {path}"))
        except Exception:
            log.exception("monitor data plane: %s failed", path)
            self._send(500, _error("InternalServerError", "see the sandbox log"))

    def do_GET(self) -> None:
        self._send(404, _error("PathNotFoundError", "Only POST is served here."))

    def _track(self, raw: bytes) -> None:
        try:
            envelopes = decode_body(raw, self.headers.get("Content-Encoding"))
        except (ValueError, OSError, EOFError) as exc:
            self._send(400, {"itemsReceived": 0, "itemsAccepted": 0, "errors": [
                {"index": 0, "statusCode": 400, "message": f"Invalid payload: {exc}"}
            ]})  # fmt: skip
            return
        answer = self.server.data.telemetry.track(envelopes, self.server.data.known_key)
        accepted, received = answer["itemsAccepted"], answer["itemsReceived"]
        status = 200 if accepted == received else (206 if accepted else 400)
        self._send(status, answer)

    def _query(self, workspace: str, raw: bytes) -> None:
        auth = self.headers.get("Authorization", "")
        claims = self.server.issuer.verify(auth[7:]) if auth.lower().startswith("bearer ") else None
        if claims is None or claims.get("aud") not in LOGS_AUDIENCES | {self.server.url}:
            message = "The provided authentication is not valid for this resource."
            self._send(403 if claims else 401, _error("InvalidTokenError", message))
            return
        try:
            body = json.loads(raw or b"{}")
            text = str(body["query"])
        except (ValueError, KeyError, TypeError):
            self._send(400, _error("BadArgumentError", "The request had some invalid properties: 'query'"))
            return
        now = dt.datetime.now(dt.UTC)
        try:
            answer = self.server.data.query(workspace, text, body.get("timespan"), now)
        except LookupError:
            what = "Resource" if workspace.startswith("/") else "Workspace"
            self._send(404, _error(f"{what}NotFoundError", f"{what} {workspace} not found"))
            return
        except kql.KqlError as exc:
            inner = (exc.code, str(exc))
            self._send(400, _error("BadArgumentError", "The request had some invalid properties", inner))
            return
        except ValueError as exc:
            self._send(400, _error("BadArgumentError", str(exc)))
            return
        self._send(200, answer)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _error(code: str, message: str, inner: tuple[str, str] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner is not None:
        error["innererror"] = {"code": inner[0], "message": inner[1]}
    return {"error": error}


def start_monitor_data(
    tls_dir: Path, *, host: str, port: int, data: MonitorData, issuer: TokenIssuer
) -> MonitorDataServer:
    hosts = sorted({host, "127.0.0.1", "localhost"})
    cert = issue_server_cert(tls_dir, "monitor", hosts)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert.cert), str(cert.key))
    server = MonitorDataServer(host, port, data=data, issuer=issuer, ssl_context=context)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="sandbox-monitor-data", daemon=True
    ).start()
    return server
