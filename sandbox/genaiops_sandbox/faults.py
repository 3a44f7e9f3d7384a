"""Fault injection for tests: make the next N requests matching a service + method + path pattern
(+ request kind) fail with 429 (+ Retry-After) or 500, drop the connection before the request is
handled (`drop`) or after it was handled with the answer lost (`drop_after`), add latency, or keep a
revision stuck in provisioning. The rules live in the daemon (`FaultTable`, one for every listener);
tests drive them over the loopback-only admin endpoint `/sandbox/faults` with `FaultInjector`.

Which listener a rule targets is its `service`:
- `arm` (the default): the ARM endpoint and the Foundry data plane, matched on the request path;
- `registry`: every ACR-shaped registry front, matched on `/<registry name><path>` (so a pattern can
  name one registry: `^/crcrashstaging/v2/genaiops/ledger/`), and on the request kind `operation`;
- `blob`: the Blob service, matched on its path-style `/<account>/<container>/<blob>` and `operation`.
`operation` (a regex, fully matched; "" = any) names the kind of request, as listed in OPERATIONS."""

from __future__ import annotations

import io
import json
import re
import socket
import ssl
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("429", "500", "drop", "drop_after", "latency", "stuck_revision")
SERVICES = ("arm", "registry", "blob")
# The request kinds a registry front and the Blob service name (what a rule's `operation` matches).
OPERATIONS = {
    "registry": (
        "token-exchange",  # POST /oauth2/exchange: an Entra token for a registry refresh token
        "token",  # /oauth2/token: a refresh token for a scoped access token
        "ping",  # /v2/
        "catalog",
        "tags",
        "manifest-get",
        "manifest-head",
        "manifest-put",
        "manifest-delete",
        "blob-get",
        "blob-head",
        "blob-delete",
        "blob-upload",  # POST opens an upload, PATCH sends a chunk, PUT completes it
        "acr-metadata",  # /acr/v1/…
    ),
    "blob": (
        "container-create",
        "container-list",
        "blob-put",
        "block-put",
        "blocklist-put",
        "blob-get",
        "blob-properties",  # HEAD
        "metadata-set",
        "lease-acquire",
        "lease-renew",
        "lease-release",
        "lease-break",
        "lease-change",
        "other",
    ),
}


@dataclass
class FaultRule:
    method: str  # "*" or an HTTP method
    path_regex: str  # searched in the URL-decoded path; for stuck_revision: the revision name
    kind: str
    count: int = 1  # how many matching requests it affects; 0 = until cleared (stuck_revision: ignored)
    retry_after: int = 1
    latency_ms: int = 0
    seconds: float = 0  # stuck_revision: how long it stays stuck; 0 = until cleared
    service: str = "arm"  # arm | registry | blob (see the module doc)
    operation: str = ""  # registry / blob: a regex over the request kind (OPERATIONS); "" = any
    created: float = field(default_factory=time.time)

    def matches(self, method: str, path: str, service: str = "arm", operation: str = "") -> bool:
        return (
            self.service == service
            and (self.method == "*" or self.method.upper() == method.upper())
            and bool(re.search(self.path_regex, path, re.IGNORECASE))
            and (not self.operation or bool(re.fullmatch(self.operation, operation, re.IGNORECASE)))
        )


class FaultTable:
    """Thread-safe rule set consulted by the ARM server for each request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        if rule.kind not in KINDS:
            raise ValueError(f"unknown fault kind {rule.kind!r}; expected one of {', '.join(KINDS)}")
        if rule.service not in SERVICES:
            raise ValueError(f"unknown fault service {rule.service!r}; expected one of {', '.join(SERVICES)}")
        if rule.operation and rule.service == "arm":
            raise ValueError("`operation` applies to the registry and blob services; match ARM by path")
        re.compile(rule.path_regex)
        re.compile(rule.operation)
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def take(self, method: str, path: str, service: str = "arm", operation: str = "") -> FaultRule | None:
        """The first request-level rule matching this request; consumes one of its count."""
        with self._lock:
            for rule in self._rules:
                if rule.kind != "stuck_revision" and rule.matches(method, path, service, operation):
                    if rule.count > 0:
                        rule.count -= 1
                        if rule.count == 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def revision_stuck(self, revision: str) -> bool:
        now = time.time()
        with self._lock:
            self._rules = [
                r
                for r in self._rules
                if not (r.kind == "stuck_revision" and r.seconds and now - r.created > r.seconds)
            ]
            return any(
                r.kind == "stuck_revision" and re.search(r.path_regex, revision, re.IGNORECASE)
                for r in self._rules
            )


class _Discard(io.RawIOBase):
    """Where a `drop_after` request's answer goes: written in full, sent nowhere."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


def lose_answer(handler: Any) -> None:
    """`drop_after` for a BaseHTTPRequestHandler: it handles the request as usual, but its answer is
    discarded and the connection closes after it, so the client sees the connection drop with the
    request's effect already made (the unknown-outcome case a retried write must survive)."""
    handler.wfile = _Discard()
    handler.close_connection = True


def drop_connection(handler: Any) -> None:
    """`drop` for a BaseHTTPRequestHandler: close before handling; the client gets no answer."""
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class FaultInjector:
    """Client for the admin endpoint. `profile` is a sandbox Profile (arm_endpoint, ca_bundle)."""

    def __init__(self, profile: Any) -> None:
        self._base = profile.arm_endpoint.rstrip("/") + "/sandbox/faults"
        self._ssl = ssl.create_default_context(cafile=profile.ca_bundle)

    def _call(self, method: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self._base, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, context=self._ssl, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def add(
        self,
        method: str,
        path_regex: str,
        kind: str,
        count: int = 1,
        retry_after: int = 1,
        latency_ms: int = 0,
        seconds: float = 0,
        service: str = "arm",
        operation: str = "",
    ) -> None:
        self._call(
            "POST",
            {
                "method": method,
                "path_regex": path_regex,
                "kind": kind,
                "count": count,
                "retry_after": retry_after,
                "latency_ms": latency_ms,
                "seconds": seconds,
                "service": service,
                "operation": operation,
            },
        )

    def clear(self) -> None:
        self._call("DELETE")

    def rules(self) -> list[dict[str, Any]]:
        return list(self._call("GET")["value"])
