"""Post-release watch over in-memory fakes of OUR ports with a fake clock: a live revision that starts
failing is rolled back within one interval (exit 9, recorded); a healthy one is watched to the end; no
traffic at all is reported as quiet, not as a failure."""

from __future__ import annotations

from typing import Any

import pytest

from genaiops_cli.core import ledger as lg
from genaiops_cli.core.manifest.model import Watch
from genaiops_cli.core.ports import LiveService
from genaiops_cli.core.watch import Watched, WatchRun
from genaiops_cli.errors import ExitCode, GateFailed, GenAIOpsError
from tests.core.fakes import Faults, MemoryLedger


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Host:
    def __init__(self) -> None:
        self.live, self.rollbacks = "app--v2", 0

    def current(self, service: str) -> LiveService:
        return LiveService(service, "app", True, self.live)

    def rollback(self, service: str, timeout: float, on_event: Any) -> dict[str, Any]:
        self.rollbacks += 1
        self.live = "app--v1"
        return {"live": "app--v1", "rolled_back_from": "app--v2"}


class Metrics:
    """10 requests a second on the live revision; errors start at `bad_after` seconds."""

    def __init__(self, clock: Clock, bad_after: float | None, per_second: float = 10) -> None:
        self.clock, self.bad_after, self.per_second = clock, bad_after, per_second

    def revision_stats(self, service: str, window_seconds: float) -> dict[str, dict[str, Any]]:
        requests = self.per_second * window_seconds
        bad = self.bad_after is not None and self.clock.now > self.bad_after
        return {"app--v2": {"requests": requests, "errors_5xx": requests * 0.3 if bad else 0}}


SPEC = Watch.model_validate({"duration": "5m", "analysis": {"interval": "30s", "min_requests": 10}})


def run(bad_after: float | None, per_second: float = 10) -> tuple[WatchRun, Host, MemoryLedger, Clock]:
    clock, host, ledger = Clock(), Host(), MemoryLedger("memory://ledger", Faults())
    metrics = Metrics(clock, bad_after, per_second)
    targets = [Watched("agent", host, metrics)]
    watch = WatchRun("prod", targets, SPEC, ledger, lambda s, m: None, 60, clock, clock.sleep)
    return watch, host, ledger, clock


def test_going_bad_after_the_swap_rolls_back_within_one_interval() -> None:
    watch, host, ledger, clock = run(bad_after=100)
    with pytest.raises(GateFailed) as err:
        watch.run()
    assert err.value.exit_code == ExitCode.GATE_FAILED and host.rollbacks == 1 and host.live == "app--v1"
    assert clock.now == 120  # the first check after errors began
    (record,) = lg.history(ledger, "prod", 5)
    assert record.operation == "watch" and record.status == "rolled-back"
    assert record.services["agent"]["rolled_back_to"] == "app--v1"


def test_healthy_release_is_watched_to_the_end() -> None:
    watch, host, ledger, clock = run(bad_after=None)
    result = watch.run()
    assert result["verdict"] == "pass" and host.rollbacks == 0 and clock.now == 300
    assert len(result["checks"]) == 10
    assert lg.history(ledger, "prod", 5)[0].status == "watched"


def test_no_traffic_is_quiet_not_failed() -> None:
    watch, host, _, _ = run(bad_after=0, per_second=0)
    assert watch.run()["verdict"] == "quiet" and host.rollbacks == 0


def test_ctrl_c_during_the_watch_leaves_the_release_live_exit_130_recorded() -> None:
    watch, host, ledger, clock = run(bad_after=None)

    def interrupted_sleep(seconds: float) -> None:
        clock.now += seconds
        if clock.now >= 90:
            raise KeyboardInterrupt("SIGINT")

    watch.sleep = interrupted_sleep
    with pytest.raises(GenAIOpsError) as err:
        watch.run()
    assert err.value.exit_code == ExitCode.INTERRUPTED and err.value.code == "interrupted"
    assert "stays live" in err.value.message and "succeeded" in err.value.message
    assert host.rollbacks == 0 and host.live == "app--v2"
    (record,) = lg.history(ledger, "prod", 5)
    assert record.operation == "watch" and record.status == "interrupted"
