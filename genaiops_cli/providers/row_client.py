"""The HTTP client behind `genaiops eval`: many small requests to one service, as cheap as a bare client.

Why not httpx (providers/http.py)? Profiled on 1,000 rows against the sample agent, httpx's async stack
(anyio, sniffio, h11, httpcore's pool) cost ≈ 1.4 ms of CPU per row and the harness reached ~0.4× of
what a bare 8-thread http.client reached on the same agent. Here each request runs `http.client` (the
standard library's C-backed parser, one send per small request, TCP_NODELAY) on the calling thread —
the evaluation runner's worker threads — over kept-alive connections shared through a small pool.
Contract (the one httpx.Client also meets): `request(method, url, headers=, timeout=, json=|content=)`
→ status_code, headers (lower-case keys), content; `close()`. Safe to call from many threads at once.

Same reach rules as providers/http.py: the resolve map rewrites only the TCP connect address (the URL's
host stays in SNI, certificate check and Host header); TLS verification is always on (the CA bundle, else
the system store). A host an environment proxy (HTTPS_PROXY/HTTP_PROXY, not bypassed by NO_PROXY)
would capture is sent through httpx instead, which honours proxies."""

from __future__ import annotations

import http.client
import json as jsonlib
import socket
import ssl
import threading
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from genaiops_cli import __version__
from genaiops_cli.core.resolve import match, resolve_address

USER_AGENT = f"genaiops/{__version__}"
# Errors that mean "the server closed an idle kept-alive connection": retried once on a new one.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verification always on: the given CA bundle, else the system trust store."""
    ctx = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


@dataclass(frozen=True)
class RowResponse:
    status_code: int
    headers: dict[str, str]  # lower-case names
    content: bytes


class RowClient:
    """Kept-alive http.client connections: each request takes an idle one (or opens one) and gives it
    back, so N threads calling at once hold at most N connections."""

    def __init__(
        self, resolve: Mapping[str, str] | None = None, ca_bundle: str | None = None, timeout: float = 30.0
    ) -> None:
        self._resolve = dict(resolve or {})
        self._ca_bundle = ca_bundle
        self._ctx: ssl.SSLContext | None = None  # built on the first https request
        self._timeout = timeout
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._proxied: Any = None  # httpx client for hosts behind an environment proxy
        self._proxies = urllib.request.getproxies()
        self._proxy_decisions: dict[tuple[str, str], bool] = {}

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> RowResponse:
        send_headers = {"User-Agent": USER_AGENT, "Accept": "*/*", **(headers or {})}
        body = content
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
            if not any(k.lower() == "content-type" for k in send_headers):
                send_headers["Content-Type"] = "application/json"
        parts = urlsplit(url)
        if self._needs_proxy(parts.scheme, parts.hostname or ""):
            return self._via_proxy(method, url, send_headers, body, timeout)
        return self._send(method, parts, send_headers, body, timeout or self._timeout)

    def __enter__(self) -> RowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the idle connections; one still in use is closed when its request gives it back.
        Never waits for requests in flight (an interrupted run must not wait out a slow target)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()
        if self._proxied is not None:
            self._proxied.close()

    # ------------------------------------------------------------ one exchange

    def _send(
        self, method: str, parts: Any, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> RowResponse:
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, host, port)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        reused = True
        conn = self._checkout(key)
        if conn is None:
            conn, reused = self._connect(scheme, host, port, timeout), False
        try:
            try:
                response = self._exchange(conn, method, path, headers, body, timeout)
            except _STALE:
                conn.close()
                if not reused:
                    raise
                conn = self._connect(scheme, host, port, timeout)
                response = self._exchange(conn, method, path, headers, body, timeout)
        except BaseException:
            conn.close()
            raise
        status, reply_headers, data, will_close = response
        with self._lock:
            keep = not will_close and not self._closed
            if keep:
                self._idle.setdefault(key, []).append(conn)
        if not keep:
            conn.close()
        return RowResponse(status, reply_headers, data)

    @staticmethod
    def _exchange(
        conn: http.client.HTTPConnection,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: float,
    ) -> tuple[int, dict[str, str], bytes, bool]:
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        reply_headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, reply_headers, data, bool(resp.will_close)

    def _checkout(self, key: tuple[str, str, int]) -> http.client.HTTPConnection | None:
        with self._lock:
            conns = self._idle.get(key)
            return conns.pop() if conns else None

    def _connect(self, scheme: str, host: str, port: int, timeout: float) -> http.client.HTTPConnection:
        address, dial_port = resolve_address(self._resolve, host, port)
        sock = socket.create_connection((address, dial_port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn: http.client.HTTPConnection
        if scheme == "https":
            with self._lock:  # one context (and its loaded CA bundle) for every worker thread
                if self._ctx is None:
                    self._ctx = ssl_context(self._ca_bundle)
            try:
                sock = self._ctx.wrap_socket(sock, server_hostname=host)
            except BaseException:
                sock.close()
                raise
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ctx)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.sock = sock  # connected (and verified) above; http.client uses it as is
        return conn

    # ------------------------------------------------------------ proxies

    def _needs_proxy(self, scheme: str, host: str) -> bool:
        key = (scheme, host)
        decision = self._proxy_decisions.get(key)
        if decision is None:
            if match(self._resolve, host) is not None:
                decision = False  # mapped hosts never go through a proxy (as in providers/http.py)
            elif not (self._proxies.get(scheme.lower()) or self._proxies.get("all")):
                decision = False
            else:
                decision = not urllib.request.proxy_bypass(host)
            self._proxy_decisions[key] = decision
        return decision

    def _via_proxy(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float | None
    ) -> RowResponse:
        with self._lock:
            if self._proxied is None:
                from genaiops_cli.providers.http import http_client

                self._proxied = http_client(None, self._ca_bundle, self._timeout)
        r = self._proxied.request(method, url, headers=headers, content=body, timeout=timeout)
        return RowResponse(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)
