"""Per-request samples from the ingress router, queried the way Azure Monitor answers platform
metrics for `Microsoft.App/containerApps`.

Metric names, units and dimensions are Azure's (supported-metrics reference for
Microsoft.App/containerapps): `Requests` (Count; revisionName, statusCodeCategory, statusCode) and
`ResponseTime` (Milliseconds; same dimensions). Each sample is one request; samples are kept per
(environment domain, app) so two environments with the same app and revision names never mix."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

MAX_SAMPLES = 100_000  # per app; the oldest fall off first
RETENTION_SECONDS = 24 * 3600


@dataclass(frozen=True)
class MetricInfo:
    name: str
    unit: str
    description: str
    dimensions: tuple[str, ...]
    value: Callable[[Sample], float]


@dataclass(frozen=True)
class Sample:
    time: float  # epoch seconds
    revision: str
    status: int
    latency_ms: float

    def dimension(self, name: str) -> str:
        key = name.lower()
        if key == "revisionname":
            return self.revision
        if key == "statuscode":
            return str(self.status)
        if key == "statuscodecategory":
            return f"{self.status // 100}xx"
        if key == "podname":  # one replica per revision in the stand-in
            return f"{self.revision}-replica"
        return ""


METRICS: dict[str, MetricInfo] = {
    m.name.lower(): m
    for m in (
        MetricInfo(
            "Requests",
            "Count",
            "Requests processed",
            ("revisionName", "podName", "statusCodeCategory", "statusCode"),
            lambda s: 1.0,
        ),
        MetricInfo(
            "ResponseTime",
            "MilliSeconds",
            "Average response time (ms)",
            ("revisionName", "podName", "statusCodeCategory", "statusCode"),
            lambda s: s.latency_ms,
        ),
    )
}


def app_of_revision(revision: str) -> str:
    """Container Apps names revisions `<app>--<suffix>`."""
    return revision.split("--", 1)[0]


def aggregate(values: list[float]) -> dict[str, float]:
    """Azure's five aggregations over the samples of one time grain."""
    if not values:
        return {"total": 0.0, "count": 0.0}
    total = float(sum(values))
    return {
        "total": total,
        "count": float(len(values)),
        "average": total / len(values),
        "minimum": float(min(values)),
        "maximum": float(max(values)),
    }


class TrafficMetrics:
    """Thread-safe sample store fed by the router (`observe`) and read by the metrics API and the
    alert evaluator (`samples`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: dict[tuple[str, str], collections.deque[Sample]] = {}

    def observe(self, entry: dict[str, Any]) -> None:
        """Router hook: one served request {time, revision, status, latency_ms, domain}."""
        domain = str(entry.get("domain") or "").lower()
        revision = str(entry["revision"]).lower()
        self.record(domain, revision, int(entry["status"]), float(entry["latency_ms"]), entry.get("time"))

    def record(
        self, domain: str, revision: str, status: int, latency_ms: float, at: float | None = None
    ) -> None:
        sample = Sample(at if at is not None else time.time(), revision.lower(), status, latency_ms)
        key = (domain.lower(), app_of_revision(sample.revision))
        with self._lock:
            bucket = self._samples.setdefault(key, collections.deque(maxlen=MAX_SAMPLES))
            bucket.append(sample)
            horizon = sample.time - RETENTION_SECONDS
            while bucket and bucket[0].time < horizon:
                bucket.popleft()

    def samples(self, domain: str, app: str, start: float, end: float) -> list[Sample]:
        with self._lock:
            bucket = list(self._samples.get((domain.lower(), app.lower()), ()))
        return [s for s in bucket if start <= s.time < end]


def matches(sample: Sample, filters: Iterable[tuple[str, str, list[str]]]) -> bool:
    """Dimension filters as (name, 'include'|'exclude', values); '*' in values matches anything."""
    for name, mode, values in filters:
        if "*" in values:
            continue
        hit = sample.dimension(name).lower() in {v.lower() for v in values}
        if hit != (mode == "include"):
            return False
    return True


def split_keys(sample: Sample, split_by: list[str]) -> tuple[str, ...]:
    return tuple(sample.dimension(d) for d in split_by)
