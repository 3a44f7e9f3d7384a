"""The stand-in's ingress: one HTTPS listener for every app URL, routing by Host header the way
Container Apps' ingress does.

- `<app>.<domain>`            → a weighted pick over the app's traffic list (0 % never picked)
- `<app>---<label>.<domain>`  → the revision carrying that label
- `<revision>.<domain>`       → that (active) revision
- anything else               → 404, like Azure's "This Container App is stopped or does not exist"
- a known revision that is not ready → 503

TLS: one leaf certificate per environment domain (`*.<domain>` + `<domain>`, signed by the sandbox
CA), chosen during the handshake from the SNI name. Each request is proxied to the revision's
published port on 127.0.0.1; the answer carries `x-genaiops-revision` naming the revision that served.
A bounded per-revision request log (time, method, path, status, latency) feeds later monitoring."""

from __future__ import annotations

import collections
import http.client
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from genaiops_sandbox.ca import issue_server_cert
from genaiops_sandbox.runtime_api import AppRoutes
from genaiops_sandbox.tls_server import TLSThreadingHTTPServer

log = logging.getLogger("genaiops.sandbox.router")

REVISION_HEADER = "x-genaiops-revision"
LOG_SIZE = 2000  # requests kept per revision
UPSTREAM_TIMEOUT = 240.0  # Container Apps' ingress request timeout is 240 s
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
}
_NOT_FOUND_PAGE = (
    "<!DOCTYPE html><html><head><title>Azure Container App - Unavailable</title></head><body>"
    "<h1>Error 404 - This Container App is stopped or does not exist.</h1>"
    "<p>(genaiops sandbox ingress: no app, label or revision matches host {host})</p></body></html>"
)
_UNAVAILABLE_PAGE = (
    "<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>"
    "<h1>Error 503 - Revision {revision} is not ready.</h1></body></html>"
)


class RouteTable:
    """Host → revision decisions, from the runtime's AppRoutes. Pure apart from the random pick."""

    def __init__(self, routes: list[AppRoutes], rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self.apps: dict[tuple[str, str], AppRoutes] = {}  # (app, domain) → routes
        self.labels: dict[tuple[str, str, str], str] = {}  # (app, label, domain) → revision
        self.revisions: dict[tuple[str, str], str] = {}  # (revision, domain) → revision
        self.domains: set[str] = set()
        for r in routes:
            domain = r.default_domain.lower()
            self.domains.add(domain)
            self.apps[(r.app.lower(), domain)] = r
            for t in r.traffic:
                if t.label:
                    self.labels[(r.app.lower(), t.label.lower(), domain)] = t.revision
            for rev in r.revisions:
                self.revisions[(rev.lower(), domain)] = rev

    def domain_of(self, host: str) -> tuple[str, str] | None:
        """(first label, domain) when `host` is directly below a known environment domain."""
        host = host.lower().rstrip(".")
        first, _, rest = host.partition(".")
        return (first, rest) if rest in self.domains else None

    def pick(self, host: str) -> str | None:
        """The revision that serves `host`, or None (unknown host → 404)."""
        split = self.domain_of(host)
        if split is None:
            return None
        first, domain = split
        if "---" in first:  # label URL; "---" cannot occur in app or revision names
            app, label = first.split("---", 1)
            return self.labels.get((app, label, domain))
        routes = self.apps.get((first, domain))
        if routes is not None:
            weighted = [(t.revision, t.weight) for t in routes.traffic if t.weight > 0]
            if not weighted:
                return None
            revisions, weights = zip(*weighted, strict=True)
            return self._rng.choices(revisions, weights=weights)[0]
        return self.revisions.get((first, domain))


class Router:
    def __init__(self, runtime: Any, tls_dir: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runtime = runtime
        self._tls_dir = tls_dir
        self._host = host
        self._requested_port = port
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._ctx_lock = threading.Lock()
        self._logs: dict[str, collections.deque[dict[str, Any]]] = {}
        self._log_lock = threading.Lock()
        self._listeners: list[Any] = []  # called with each request's log entry (monitoring)
        self._table = RouteTable([])
        self._table_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Router:
        self.refresh()
        if self._runtime is not None and hasattr(self._runtime, "on_change"):
            self._runtime.on_change(self.refresh)
        self._server = _TLSServer((self._host, self._requested_port), _Handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="router", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("router not started")
        return int(self._server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------ routing state

    def refresh(self) -> None:
        """Rebuild the route table from the runtime (called on every route/readiness change)."""
        # no runtime (engine unavailable): every host answers 404 rather than the listener failing
        table = RouteTable(self._runtime.all_routes() if self._runtime is not None else [])
        with self._table_lock:
            self._table = table
        for domain in table.domains:
            self._context_for(domain)  # issue certificates now, not during a handshake

    def table(self) -> RouteTable:
        with self._table_lock:
            return self._table

    def resolve_map(self) -> dict[str, str]:
        """For the connection profile: every environment domain → this listener."""
        return {f"*.{d}": f"{self._host}:{self.port}" for d in sorted(self.table().domains)}

    def request_log(self, revision: str | None = None) -> list[dict[str, Any]]:
        """Recent requests per revision, oldest first: {time, revision, method, path, status, latency_ms}.
        With no revision, every revision's entries merged by time."""
        with self._log_lock:
            if revision is not None:
                return list(self._logs.get(revision, ()))
            merged = [e for d in self._logs.values() for e in d]
        return sorted(merged, key=lambda e: e["time"])

    def add_listener(self, callback: Any) -> None:
        """`callback(entry)` after every proxied request; the entry also names the environment domain."""
        self._listeners.append(callback)

    def _record(
        self, revision: str, method: str, path: str, status: int, started: float, host: str = ""
    ) -> None:
        split = self.table().domain_of(host) if host else None
        entry = {
            "time": time.time(),
            "revision": revision,
            "method": method,
            "path": path,
            "status": status,
            "latency_ms": round((time.monotonic() - started) * 1000, 2),
        }
        with self._log_lock:
            self._logs.setdefault(revision, collections.deque(maxlen=LOG_SIZE)).append(entry)
        for listener in self._listeners:
            listener({**entry, "domain": split[1] if split else ""})

    # ------------------------------------------------------------ TLS

    def _context_for(self, domain: str | None) -> ssl.SSLContext:
        key = domain or ""
        with self._ctx_lock:
            ctx = self._contexts.get(key)
            if ctx is not None:
                return ctx
            if domain:
                pair = issue_server_cert(self._tls_dir, f"router-{domain}", [f"*.{domain}", domain])
            else:  # no SNI (a client dialling the IP): a certificate for the listener's address
                pair = issue_server_cert(self._tls_dir, "router-default", [self._host, "localhost"])
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(pair.cert, pair.key)
            ctx.sni_callback = self._on_sni
            self._contexts[key] = ctx
            return ctx

    def _on_sni(self, sslobj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        if not server_name:
            return None
        name = server_name.lower().rstrip(".")
        domains = self.table().domains
        for domain in domains:
            if name == domain or name.endswith("." + domain):
                sslobj.context = self._context_for(domain)
                return None
        return None  # unknown name: default certificate; the client's check will refuse it

    def server_context(self) -> ssl.SSLContext:
        return self._context_for(None)


class _TLSServer(TLSThreadingHTTPServer):
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, router: Router) -> None:
        self.router = router
        super().__init__(address, handler)

    def tls_context(self) -> ssl.SSLContext:
        return self.router.server_context()  # its SNI callback picks each environment's certificate


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "genaiops-sandbox-ingress"
    sys_version = ""
    server: _TLSServer
    timeout = 120  # idle keep-alive connections

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    def do_GET(self) -> None:
        self._proxy()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _proxy(self) -> None:
        started = time.monotonic()
        router = self.server.router
        host = _host_only(self.headers.get("Host") or "")
        body = self._read_body()
        table = router.table()
        revision = table.pick(host)
        split = table.domain_of(host)
        if revision is None or split is None:
            self._simple(404, _NOT_FOUND_PAGE.format(host=_escape(host)))
            return
        endpoint = router._runtime.revision_endpoint(revision, split[1])

        def answered(status: int) -> None:
            # recorded before the client has the answer: whoever reads the request log or the
            # metrics after getting it finds it there (recorded after, a quick reader could miss it)
            router._record(revision, self.command, self.path, status, started, host)

        if endpoint is None:
            answered(503)
            self._simple(503, _UNAVAILABLE_PAGE.format(revision=_escape(revision)), revision)
            return
        self._forward(endpoint, revision, body, answered)

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return None

    def _forward(
        self, endpoint: tuple[str, int], revision: str, body: bytes | None, answered: Callable[[int], None]
    ) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers.pop("Content-Length", None)
        if body is not None:
            headers["Content-Length"] = str(len(body))
        client_ip = self.client_address[0]
        prior = self.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {client_ip}" if prior else client_ip
        headers["X-Forwarded-Proto"] = "https"
        headers["X-Forwarded-Host"] = self.headers.get("Host", "")
        conn = http.client.HTTPConnection(*endpoint, timeout=UPSTREAM_TIMEOUT)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders(body)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            log.info("upstream %s for %s failed: %s", endpoint, revision, exc)
            answered(502)
            self._simple(
                502, f"<h1>502 Bad Gateway</h1><p>revision {_escape(revision)} did not answer</p>", revision
            )
            return
        answered(resp.status)
        try:
            self._relay(resp, revision)
        finally:
            conn.close()

    def _relay(self, resp: http.client.HTTPResponse, revision: str) -> None:
        length = resp.getheader("Content-Length")
        stream = length is not None or self.command == "HEAD" or resp.status in (204, 304)
        payload = b"" if stream else resp.read()  # unknown length: buffer so we can send Content-Length
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() in _HOP_BY_HOP or k.lower() in ("content-length", "date", "server"):
                continue
            self.send_header(k, v)
        self.send_header(REVISION_HEADER, revision)
        if stream:
            if length is not None:
                self.send_header("Content-Length", length)
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if not stream:
            self.wfile.write(payload)
            return
        remaining = int(length) if length is not None else 0
        while remaining > 0:
            chunk = resp.read(min(65536, remaining))
            if not chunk:
                break
            self.wfile.write(chunk)
            remaining -= len(chunk)
        if remaining:
            self.close_connection = True  # upstream cut short: don't leave the client waiting

    def _simple(self, status: int, html: str, revision: str | None = None) -> None:
        data = html.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if revision:
            self.send_header(REVISION_HEADER, revision)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _host_only(header: str) -> str:
    """The host of a Host header, without its port ("[::1]:443" keeps its brackets)."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0] if ":" in header else header


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["Router", "RouteTable", "REVISION_HEADER"]
