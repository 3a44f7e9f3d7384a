"""Post-release watch: for `duration`, every analysis interval, each watched service's live revision
is checked on its platform metrics over that interval (the canary analysis without a stable side:
its own 5xx rate). A failure rolls every watched service back to its previous revision, one write
each (exit 9): a release goes back as a whole. Every outcome is recorded in the ledger with the
evidence; when the rollback restores a recorded release, last-known-good points back at it, so the
ledger names what serves. Too little traffic to judge is reported as quiet, not as a failure.

Run by `promote` and `swap` after their swap (when the environment has `watch:`), and by
`genaiops watch`. Pure domain logic over ports (RevisionMetrics, Host, LedgerStore); time is injected."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import ledger as lg
from genaiops_cli.core.canary import FAIL, PASS, analyse, combine
from genaiops_cli.core.manifest.model import Watch, duration_seconds
from genaiops_cli.errors import DeployError, ExitCode, GateFailed, GenAIOpsError

if TYPE_CHECKING:
    from genaiops_cli.core.ports import EventFn, Host, LedgerStore, RevisionMetrics

SKIPPED, QUIET, INTERRUPTED = "skipped", "quiet", "interrupted"


@dataclass
class Watched:
    service: str
    host: Host
    metrics: RevisionMetrics
    live: str = ""


@dataclass
class WatchRun:
    env_name: str
    targets: list[Watched]
    spec: Watch
    ledger: LedgerStore
    on_event: EventFn
    timeout: float = 300
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    tick: Callable[[], None] = lambda: None  # called every interval (the caller renews its lock)
    checks: list[dict[str, Any]] = field(default_factory=list)
    release: str | None = None  # the release being watched (default: the apps' release tag)

    def run(self) -> dict[str, Any]:
        for target in self.targets:
            current = target.host.current(target.service)
            if not current.live:
                raise DeployError(
                    f"{target.service!r} has nothing live to watch", hint="run `genaiops deploy`"
                )
            target.live = current.live
            self.release = self.release or current.release
        duration = duration_seconds(self.spec.duration)
        try:
            for target in self.targets:
                self.on_event(target.service, f"watching {target.live} for {self.spec.duration}")
            failed = self._loop(duration)
        except KeyboardInterrupt:
            self._record(INTERRUPTED, {})
            raise interrupted(self.release or self._lives()) from None
        if failed is not None:
            raise self._roll_back(failed)
        outcome = PASS if any(c["verdict"] == PASS for c in self.checks) else QUIET
        tag = self._record(outcome, {})
        return {
            "verdict": outcome,
            "release": self.release,
            "live": {t.service: t.live for t in self.targets},
            "checks": self.checks,
            "history": tag,
        }

    def _loop(self, duration: float) -> list[str] | None:
        """Check every interval until `duration` is over; the reasons of the first failure."""
        interval = max(1, duration_seconds(self.spec.analysis.interval))
        started = self.clock()
        while self.clock() - started < duration:
            self.sleep(min(interval, max(0.0, started + duration - self.clock())))
            self.tick()
            verdicts = {}
            for t in self.targets:
                stats = t.metrics.revision_stats(t.service, interval + 1)
                verdicts[t.service] = analyse(self.spec.analysis, stats.get(t.live, {}), {}, final=False)
            outcome, reasons = combine(verdicts)
            reasons = [r.replace("canary ", "live ", 1) for r in reasons]  # no canary here: one side
            self.checks.append(
                {"after_s": round(self.clock() - started), "verdict": outcome, "reasons": reasons}
                | {"services": {name: v.as_dict() for name, v in verdicts.items()}}
            )
            self.on_event(
                self.targets[0].service if len(self.targets) == 1 else "watch",
                f"{self._lives()}: {outcome} {'; '.join(reasons)}".rstrip(),
            )
            if outcome == FAIL:
                return reasons
        return None

    def _lives(self) -> str:
        return ", ".join(t.live for t in self.targets)

    def _roll_back(self, reasons: list[str]) -> GenAIOpsError:
        rolled: dict[str, Any] = {}
        for t in self.targets:
            try:
                rolled[t.service] = t.host.rollback(t.service, self.timeout, self.on_event)
            except GenAIOpsError as exc:  # no previous revision: nothing to go back to
                rolled[t.service] = {"live": t.live, "error": exc.message}
        restored = next((r.get("release") for r in rolled.values() if r.get("release")), None)
        # only a recorded release moves the pointer (a hand swap's revisions carry stale release tags)
        if restored and self.release and lg.load_release(self.ledger, self.release) is not None:
            lg.restore_last_known_good(self.ledger, self.env_name, restored)
        tag = self._record(FAIL, rolled)
        back = ", ".join(f"{s}: {r.get('live')}" for s, r in rolled.items())
        stuck = [s for s, r in rolled.items() if r.get("error")]
        return GateFailed(
            f"{self.release or self._lives()} failed its post-release watch: {'; '.join(reasons)}; "
            + (f"could not roll back {', '.join(stuck)}" if stuck else f"rolled back ({back})"),
            hint="see `genaiops history`; fix and release again",
            code="watch_failed",
            details={"checks": self.checks, "rollback": rolled, "history": tag},
        )

    def _record(self, outcome: str, rolled: dict[str, Any]) -> str:
        status = {FAIL: lg.ROLLED_BACK, INTERRUPTED: "interrupted"}.get(outcome, "watched")
        return record_watch(
            self.ledger,
            self.env_name,
            self.release or revisions_id([t.live for t in self.targets]),
            status,
            {
                t.service: {"revision": t.live, "rolled_back_to": (rolled.get(t.service) or {}).get("live")}
                for t in self.targets
            },
            {"name": "post-release-watch", "kind": "watch", "verdict": outcome, "evidence": self.checks},
        )


def revisions_id(revisions: list[str]) -> str:
    """What a watch of revisions that carry no release is recorded under: the revision name (one
    service) or a short hash of the names (a ledger tag allows no commas and is at most 128 long)."""
    from genaiops_cli.core.release import short_hash

    return revisions[0] if len(revisions) == 1 else f"revisions-{short_hash(sorted(revisions))}"


def record_watch(
    ledger: LedgerStore,
    env_name: str,
    release: str,
    status: str,
    services: dict[str, dict[str, Any]],
    gate: dict[str, Any],
    reason: str | None = None,
) -> str:
    """The watch (or its skip, with `reason`) as a history entry of the watched release."""
    record = lg.DeploymentRecord(
        env_name, release, operation="watch", status=status, services=services, gates=[gate]
    )
    if reason:
        record.override("watch", reason)
    return lg.record_event(ledger, record)


def record_skip(ledger: LedgerStore, env_name: str, release: str, services: list[str], why: str) -> str:
    """`--no-watch`: the environment asks for a watch and this release went without it."""
    return record_watch(
        ledger,
        env_name,
        release,
        "watch-skipped",
        {s: {} for s in services},
        {"name": "post-release-watch", "kind": "watch", "verdict": SKIPPED, "evidence": []},
        why,
    )


def interrupted(what: str) -> GenAIOpsError:
    error = GenAIOpsError(
        f"interrupted during the post-release watch: {what} stays live (the release itself succeeded; "
        "it was not rolled back)",
        hint="watch it again with `genaiops watch -e ENV`, or roll back with `genaiops rollback -e ENV`",
        code="interrupted",
    )
    error.exit_code = ExitCode.INTERRUPTED
    return error
