"""Fault injection for tests: make the next N requests matching a method + path pattern fail with
429 (+ Retry-After) or 500, drop the connection, add latency, or keep a revision stuck in
provisioning. The rules live in the daemon (`FaultTable`); tests drive them over the loopback-only
admin endpoint `/sandbox/faults` with `FaultInjector`."""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("429", "500", "drop", "latency", "stuck_revision")


@dataclass
class FaultRule:
    method: str  # "*" or an HTTP method
    path_regex: str  # searched in the URL-decoded path; for stuck_revision: the revision name
    kind: str
    count: int = 1  # how many matching requests it affects; 0 = until cleared (stuck_revision: ignored)
    retry_after: int = 1
    latency_ms: int = 0
    seconds: float = 0  # stuck_revision: how long it stays stuck; 0 = until cleared
    created: float = field(default_factory=time.time)

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "*" or self.method.upper() == method.upper()) and bool(
            re.search(self.path_regex, path, re.IGNORECASE)
        )


class FaultTable:
    """Thread-safe rule set consulted by the ARM server for each request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        if rule.kind not in KINDS:
            raise ValueError(f"unknown fault kind {rule.kind!r}; expected one of {', '.join(KINDS)}")
        re.compile(rule.path_regex)
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first request-level rule matching this request; consumes one of its count."""
        with self._lock:
            for rule in self._rules:
                if rule.kind != "stuck_revision" and rule.matches(method, path):
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
            },
        )

    def clear(self) -> None:
        self._call("DELETE")

    def rules(self) -> list[dict[str, Any]]:
        return list(self._call("GET")["value"])
