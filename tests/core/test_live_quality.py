"""The live answer-quality signal in canary/watch analysis, over in-memory fakes of OUR ports
(RevisionMetrics, LogsQuery): the checks (absolute floor, drop below stable, waiting for samples),
the per-revision merge of the logs query into the platform metrics, and a logs outage that leaves
the quality out instead of failing the analysis midway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from genaiops_cli.core.canary import FAIL, PASS, analyse
from genaiops_cli.core.live_quality import WithLiveQuality, quality_query
from genaiops_cli.core.manifest.loader import load_manifest
from genaiops_cli.core.manifest.model import CanaryAnalysis
from genaiops_cli.errors import ManifestError, ProvisionError

RULES = CanaryAnalysis(min_requests=10, min_quality=0.7, max_quality_drop=0.1, min_quality_samples=5)
OK = {"requests": 40, "errors_5xx": 0}


@pytest.mark.parametrize(
    ("canary", "stable", "outcome", "reason"),
    [
        ({"quality": 0.9, "quality_samples": 20}, {"quality": 0.92, "quality_samples": 200}, PASS, ""),
        (
            {"quality": 0.5, "quality_samples": 20},
            {"quality": 0.55, "quality_samples": 200},
            FAIL,
            "0.50 < 0.70",
        ),
        (
            {"quality": 0.75, "quality_samples": 20},
            {"quality": 0.95, "quality_samples": 200},
            FAIL,
            "0.20 below",
        ),
        (
            {"quality": 0.1, "quality_samples": 4},
            {"quality": 0.95, "quality_samples": 200},
            PASS,
            "",
        ),  # waits
        ({}, {"quality": 0.95, "quality_samples": 200}, PASS, ""),  # no telemetry: not judged
        ({"quality": 0.75, "quality_samples": 20}, {}, PASS, ""),  # the drop needs a stable side
    ],
)
def test_quality_checks(canary: dict, stable: dict, outcome: str, reason: str) -> None:
    verdict = analyse(RULES, {**OK, **canary}, {**OK, **stable}, final=True)
    assert verdict.outcome == outcome
    assert reason in " ".join(verdict.reasons)


class FakeMetrics:
    def revision_stats(self, service: str, window_seconds: float) -> dict[str, dict[str, Any]]:
        return {"app--v1": {"requests": 100, "errors_5xx": 0, "average_ms": 20.0}}


class FakeLogs:
    def __init__(self, rows: list[dict[str, Any]] | None = None, fail: bool = False) -> None:
        self.rows, self.fail = rows or [], fail
        self.calls: list[tuple[str, str, float]] = []

    def query(self, scope: str, kql: str, window_seconds: float) -> list[dict[str, Any]]:
        self.calls.append((scope, kql, window_seconds))
        if self.fail:
            raise ProvisionError("Log Analytics refused the query: throttled")
        return self.rows


def test_quality_is_merged_per_revision_from_one_query() -> None:
    logs = FakeLogs(
        [
            {"revision": "app--v1", "quality": 0.91234, "quality_samples": 80},
            {"revision": "app--v2", "quality": 0.2, "quality_samples": 7},  # telemetry before traffic
        ]
    )
    stats = WithLiveQuality(
        FakeMetrics(), logs, "/subscriptions/s/…/components/appi", lambda s: "app"
    ).revision_stats("agent", 60)
    assert stats["app--v1"] == {
        "requests": 100,
        "errors_5xx": 0,
        "average_ms": 20.0,
        "quality": 0.9123,
        "quality_samples": 80,
    }
    assert stats["app--v2"]["quality"] == 0.2 and stats["app--v2"]["requests"] == 0
    assert logs.calls == [("/subscriptions/s/…/components/appi", quality_query("app"), 60)]
    assert (
        "cloud_RoleName == 'app'" in logs.calls[0][1]
        and "by revision = cloud_RoleInstance" in logs.calls[0][1]
    )


def test_a_logs_outage_leaves_quality_out_instead_of_failing() -> None:
    stats = WithLiveQuality(FakeMetrics(), FakeLogs(fail=True), "scope", lambda s: "app").revision_stats(
        "agent", 60
    )
    assert "quality" not in stats["app--v1"] and "throttled" in stats["app--v1"]["quality_error"]
    assert analyse(RULES, stats["app--v1"], {}, final=True).outcome == PASS


MANIFEST = """\
version: 1
name: shop
services:
  agent:
    image: mcr.microsoft.com/k8se/quickstart:latest
    ingress: {port: 8080}
environments:
  dev:
    cloud: sandbox
    subscription: 00000000-0000-0000-0000-000000000000
    resource_group: rg-dev
    location: eastus2
    strategy: bluegreen
    canary:
      steps: [{weight: 10, pause: 30s}]
      analysis: {min_quality: 0.7}
"""


def test_quality_checks_need_the_component(tmp_path: Path) -> None:
    path = tmp_path / "genaiops.yaml"
    path.write_text(MANIFEST)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, environ={})
    issue = next(i for i in caught.value.issues if "app_insights" in i.message)
    assert issue.path == "environments.dev.canary.analysis" and issue.line == 16
    path.write_text(MANIFEST.replace("{min_quality: 0.7}", "{min_quality: 0.7, app_insights: appi-dev}"))
    analysis = load_manifest(path, environ={}).environments["dev"].canary.analysis
    assert (analysis.min_quality, analysis.app_insights) == (0.7, "appi-dev")
