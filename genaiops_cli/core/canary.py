"""Canary delivery of a staged revision: traffic moves through the manifest's steps (weight, pause);
within each step the analysis compares canary and stable from the platform metrics per revision every
`interval`. pass → next step, then 100 % in one swap; fail → traffic back to stable in one write,
exit 9; inconclusive (too few canary requests by the end of a step) → back to stable, exit 10. Every
outcome is recorded in the environment's ledger with the evidence.

Pure domain logic over ports (TrafficSplit, RevisionMetrics, Host, LedgerStore); time is injected."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import ledger as lg
from genaiops_cli.core.manifest.model import Canary, CanaryAnalysis, duration_seconds
from genaiops_cli.errors import GateFailed, GateInconclusive

if TYPE_CHECKING:
    from genaiops_cli.core.ports import EventFn, Host, LedgerStore, RevisionMetrics, TrafficSplit

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


@dataclass
class Verdict:
    outcome: str
    reasons: list[str]
    canary: dict[str, Any]
    stable: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.outcome,
            "reasons": self.reasons,
            "canary": self.canary,
            "stable": self.stable,
        }


def _rate(side: dict[str, Any]) -> float | None:
    requests = side.get("requests") or 0
    return (side.get("errors_5xx") or 0) / requests if requests else None


def analyse(rules: CanaryAnalysis, canary: dict[str, Any], stable: dict[str, Any], final: bool) -> Verdict:
    """One analysis of canary vs stable. Failing checks fail at once, even on few requests (a canary
    that errors must not wait for volume); too few requests is inconclusive only when `final`."""
    canary = {"requests": 0, "errors_5xx": 0, "average_ms": None, **canary}
    stable = {"requests": 0, "errors_5xx": 0, "average_ms": None, **stable}
    canary["error_rate"], stable["error_rate"] = _rate(canary), _rate(stable)
    reasons = []
    c_rate, s_rate = canary["error_rate"], stable["error_rate"]
    if c_rate is not None and c_rate > rules.max_error_rate and canary["errors_5xx"] >= 2:
        reasons.append(f"canary 5xx rate {c_rate:.1%} > {rules.max_error_rate:.1%}")
    if c_rate is not None and s_rate is not None and canary["errors_5xx"] >= 2:
        if c_rate - s_rate > rules.max_error_rate_increase:
            reasons.append(
                f"canary 5xx rate {c_rate:.1%} is {c_rate - s_rate:.1%} above stable's {s_rate:.1%} "
                f"(allowed {rules.max_error_rate_increase:.1%})"
            )
    c_ms, s_ms = canary["average_ms"], stable["average_ms"]
    if rules.max_latency_ratio and c_ms and s_ms and canary["requests"] >= rules.min_requests:
        if c_ms / s_ms > rules.max_latency_ratio:
            reasons.append(
                f"canary mean response {c_ms:.0f} ms is {c_ms / s_ms:.2f}× stable's {s_ms:.0f} ms "
                f"(allowed {rules.max_latency_ratio:g}×)"
            )
    reasons += _quality_reasons(rules, canary, stable)
    if reasons:
        return Verdict(FAIL, reasons, canary, stable)
    if canary["requests"] < rules.min_requests:
        outcome = INCONCLUSIVE if final else "waiting"
        return Verdict(
            outcome, [f"{canary['requests']:g} canary requests < {rules.min_requests}"], canary, stable
        )
    return Verdict(PASS, [], canary, stable)


def _quality_reasons(rules: CanaryAnalysis, canary: dict[str, Any], stable: dict[str, Any]) -> list[str]:
    """The live answer-quality checks (`min_quality`, `max_quality_drop`), judged only once a side
    has `min_quality_samples` answers; a side without quality data is never judged."""
    enough = rules.min_quality_samples
    c_q, s_q = canary.get("quality"), stable.get("quality")
    c_ok = c_q is not None and (canary.get("quality_samples") or 0) >= enough
    s_ok = s_q is not None and (stable.get("quality_samples") or 0) >= enough
    reasons = []
    if rules.min_quality is not None and c_ok and c_q < rules.min_quality:
        reasons.append(f"canary answer quality {c_q:.2f} < {rules.min_quality:.2f}")
    if rules.max_quality_drop is not None and c_ok and s_ok and s_q - c_q > rules.max_quality_drop:
        reasons.append(
            f"canary answer quality {c_q:.2f} is {s_q - c_q:.2f} below stable's {s_q:.2f} "
            f"(allowed {rules.max_quality_drop:.2f})"
        )
    return reasons


@dataclass
class CanaryRun:
    env_name: str
    service: str
    spec: Canary
    split: TrafficSplit
    metrics: RevisionMetrics
    host: Host
    ledger: LedgerStore
    on_event: EventFn
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    steps: list[dict[str, Any]] = field(default_factory=list)

    def run(self) -> dict[str, Any]:
        stable, canary = self.split.sides(self.service)
        self.on_event(self.service, f"canary {canary} against stable {stable}")
        for number, step in enumerate(self.spec.steps, 1):
            self.split.split(self.service, step.weight, self.on_event)
            verdict = self._watch_step(step.weight, duration_seconds(step.pause), stable, canary)
            self.steps.append({"step": number, "weight": step.weight, **verdict.as_dict()})
            if verdict.outcome != PASS:
                self.split.abort(self.service, self.on_event)
                self._record(stable, canary, verdict.outcome)
                error = GateFailed if verdict.outcome == FAIL else GateInconclusive
                raise error(
                    f"canary {canary} {verdict.outcome} at {step.weight} %: {'; '.join(verdict.reasons)}; "
                    f"traffic is back on {stable}",
                    hint="see `genaiops history`; fix and deploy again, or swap by hand to override",
                    code="canary_failed" if verdict.outcome == FAIL else "canary_inconclusive",
                    details={"steps": self.steps},
                )
        swapped = self.host.swap(self.service, self.on_event)
        self._record(stable, canary, PASS)
        return {
            "service": self.service,
            "stable": stable,
            "canary": canary,
            "steps": self.steps,
            "swap": swapped,
        }

    def _watch_step(self, weight: int, pause: float, stable: str, canary: str) -> Verdict:
        """Analyse every interval until the step's pause is over; stop early on a failure."""
        interval = max(1, duration_seconds(self.spec.analysis.interval))
        started = self.clock()
        while True:
            self.sleep(min(interval, max(0.0, started + pause - self.clock())))
            elapsed = self.clock() - started
            final = elapsed >= pause
            stats = self.metrics.revision_stats(self.service, elapsed + 1)
            verdict = analyse(self.spec.analysis, stats.get(canary, {}), stats.get(stable, {}), final)
            self.on_event(
                self.service,
                f"{weight} % after {elapsed:.0f}s: {verdict.outcome}"
                + (f" ({'; '.join(verdict.reasons)})" if verdict.reasons else ""),
            )
            if verdict.outcome == FAIL or final:
                return verdict

    def _record(self, stable: str, canary: str, outcome: str) -> None:
        record = lg.DeploymentRecord(
            self.env_name,
            canary,
            operation="canary",
            # not "live": the record names a revision, not a release, so it must not become the
            # environment's last-known-good pointer (promote records releases)
            status="canary-passed" if outcome == PASS else "failed",
            services={self.service: {"revision": canary, "previous_revision": stable}},
            gates=[{"name": "canary-analysis", "kind": "canary", "verdict": outcome, "evidence": self.steps}],
        )
        if outcome != PASS:
            record.error = {"code": f"canary_{outcome}", "message": f"back on {stable}"}
        lg.record_event(self.ledger, record)
