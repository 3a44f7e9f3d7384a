"""The live answer-quality signal next to the platform metrics: a RevisionMetrics that adds, per
revision, the mean `answer_quality` custom metric the service sent to Application Insights and how
many answers it covers (`quality`, `quality_samples`), read with one KQL query through the LogsQuery
port. Canary and watch analysis (core/canary.py) compare it without knowing where it came from.

A query the service refuses or cannot answer leaves the quality out (the checks then wait) instead
of failing the analysis midway: a canary must never be left half-shifted by a logs outage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genaiops_cli.errors import GenAIOpsError

if TYPE_CHECKING:
    from genaiops_cli.core.ports import LogsQuery, RevisionMetrics

QUALITY_METRIC = "answer_quality"


def quality_query(app: str) -> str:
    """Mean answer quality per revision (cloud_RoleInstance) of one Container App (cloud_RoleName)."""
    return (
        f"customMetrics | where name == '{QUALITY_METRIC}' and cloud_RoleName == '{app}' "
        "| summarize quality = avg(value), quality_samples = count() by revision = cloud_RoleInstance"
    )


@dataclass
class WithLiveQuality:
    """RevisionMetrics = `inner` (platform metrics) + the quality per revision from `logs`."""

    inner: RevisionMetrics
    logs: LogsQuery
    scope: str  # the Application Insights component's resource id
    app_name: Callable[[str], str]  # service → its Container App's name: the telemetry's cloud_RoleName

    def revision_stats(self, service: str, window_seconds: float) -> dict[str, dict[str, Any]]:
        stats = {k: dict(v) for k, v in self.inner.revision_stats(service, window_seconds).items()}
        try:
            rows = self.logs.query(self.scope, quality_query(self.app_name(service)), window_seconds)
        except GenAIOpsError as exc:
            for side in stats.values():
                side["quality_error"] = exc.message
            return stats
        for row in rows:
            revision = str(row.get("revision") or "").lower()
            if not revision or row.get("quality") is None:
                continue
            side = stats.setdefault(revision, {"requests": 0, "errors_5xx": 0, "average_ms": None})
            side["quality"] = round(float(row["quality"]), 4)
            side["quality_samples"] = int(row.get("quality_samples") or 0)
        return stats
