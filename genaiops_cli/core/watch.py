"""Post-release watch: for `duration`, every analysis interval, the live revision's platform metrics
over that interval are checked (the canary analysis without a stable side: its own 5xx rate). A
failure rolls the service back to its previous revision in one write (exit 9); every outcome is
recorded in the ledger with the evidence. Too little traffic to judge is reported as quiet, not as
a failure.

Pure domain logic over ports (RevisionMetrics, Host, LedgerStore); time is injected."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import ledger as lg
from genaiops_cli.core.canary import FAIL, PASS, analyse
from genaiops_cli.core.manifest.model import Watch, duration_seconds
from genaiops_cli.errors import DeployError, GateFailed

if TYPE_CHECKING:
    from genaiops_cli.core.ports import EventFn, Host, LedgerStore, RevisionMetrics


@dataclass
class WatchRun:
    env_name: str
    service: str
    spec: Watch
    metrics: RevisionMetrics
    host: Host
    ledger: LedgerStore
    on_event: EventFn
    timeout: float = 300
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    checks: list[dict[str, Any]] = field(default_factory=list)

    def run(self) -> dict[str, Any]:
        live = self.host.current(self.service).live
        if not live:
            raise DeployError(f"{self.service!r} has nothing live to watch", hint="run `genaiops deploy`")
        duration = duration_seconds(self.spec.duration)
        interval = max(1, duration_seconds(self.spec.analysis.interval))
        started = self.clock()
        self.on_event(self.service, f"watching {live} for {self.spec.duration}")
        while self.clock() - started < duration:
            self.sleep(min(interval, max(0.0, started + duration - self.clock())))
            stats = self.metrics.revision_stats(self.service, interval + 1)
            verdict = analyse(self.spec.analysis, stats.get(live, {}), {}, final=False)
            self.checks.append({"after_s": round(self.clock() - started), **verdict.as_dict()})
            self.on_event(self.service, f"{live}: {verdict.outcome} {'; '.join(verdict.reasons)}".rstrip())
            if verdict.outcome == FAIL:
                rolled = self.host.rollback(self.service, self.timeout, self.on_event)
                self._record(live, FAIL, rolled.get("live"))
                raise GateFailed(
                    f"{live} failed its post-release watch: {'; '.join(verdict.reasons)}; "
                    f"rolled back to {rolled.get('live')}",
                    hint="see `genaiops history`; fix and release again",
                    code="watch_failed",
                    details={"checks": self.checks, "rollback": rolled},
                )
        judged = any(c["verdict"] == PASS for c in self.checks)
        outcome = PASS if judged else "quiet"
        self._record(live, outcome, None)
        return {"service": self.service, "live": live, "verdict": outcome, "checks": self.checks}

    def _record(self, live: str, outcome: str, rolled_back_to: str | None) -> None:
        record = lg.DeploymentRecord(
            self.env_name,
            live,
            operation="watch",
            status="rolled-back" if outcome == FAIL else "watched",
            services={self.service: {"revision": live, "rolled_back_to": rolled_back_to}},
            gates=[
                {"name": "post-release-watch", "kind": "watch", "verdict": outcome, "evidence": self.checks}
            ],
        )
        lg.record_event(self.ledger, record)
