"""Canary delivery over in-memory fakes of OUR ports (TrafficSplit, RevisionMetrics, Host, LedgerStore)
with a fake clock: the analysis verdicts, steps in order, failure back to stable in one write with
exit 9 and a ledger record, inconclusive → exit 10, pass → one swap at the end."""

from __future__ import annotations

from typing import Any

import pytest

from genaiops_cli.core import ledger as lg
from genaiops_cli.core.canary import FAIL, INCONCLUSIVE, PASS, CanaryRun, analyse
from genaiops_cli.core.manifest.model import Canary, CanaryAnalysis
from genaiops_cli.errors import ExitCode, GateFailed, GateInconclusive
from tests.core.fakes import Faults, MemoryLedger

RULES = CanaryAnalysis(
    min_requests=10, max_error_rate=0.05, max_error_rate_increase=0.02, max_latency_ratio=2
)


@pytest.mark.parametrize(
    ("canary", "stable", "final", "outcome", "reason"),
    [
        (
            {"requests": 40, "errors_5xx": 0, "average_ms": 50},
            {"requests": 400, "errors_5xx": 1},
            True,
            PASS,
            "",
        ),
        (
            {"requests": 40, "errors_5xx": 8},
            {"requests": 400, "errors_5xx": 0},
            False,
            FAIL,
            "5xx rate 20.0%",
        ),
        ({"requests": 5, "errors_5xx": 5}, {"requests": 50, "errors_5xx": 0}, False, FAIL, "> 5.0%"),
        ({"requests": 40, "errors_5xx": 1}, {"requests": 400, "errors_5xx": 0}, True, PASS, ""),  # one error
        ({"requests": 3, "errors_5xx": 0}, {"requests": 30, "errors_5xx": 0}, True, INCONCLUSIVE, "3 canary"),
        ({"requests": 3, "errors_5xx": 0}, {"requests": 30, "errors_5xx": 0}, False, "waiting", "3 canary"),
        ({"requests": 40, "average_ms": 300}, {"requests": 400, "average_ms": 100}, True, FAIL, "3.00×"),
        ({}, {}, True, INCONCLUSIVE, "0 canary"),
    ],
)
def test_analysis(canary: dict, stable: dict, final: bool, outcome: str, reason: str) -> None:
    verdict = analyse(RULES, canary, stable, final)
    assert verdict.outcome == outcome
    assert reason in " ".join(verdict.reasons)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeSplit:
    def __init__(self) -> None:
        self.writes: list[int] = []  # canary weight of each traffic write

    def sides(self, service: str) -> tuple[str, str]:
        return "app--v1", "app--v2"

    def split(self, service: str, canary_weight: int, on_event: Any) -> None:
        self.writes.append(canary_weight)

    def abort(self, service: str, on_event: Any) -> None:
        self.writes.append(0)


class FakeMetrics:
    """Traffic as a function of the current canary weight: `per_second` requests, `error_rate` of the
    canary's failing."""

    def __init__(self, split: FakeSplit, clock: Clock, error_rate: float, per_second: float = 10) -> None:
        self.split, self.clock, self.error_rate, self.per_second = split, clock, error_rate, per_second
        self.queries: list[float] = []

    def revision_stats(self, service: str, window_seconds: float) -> dict[str, dict[str, Any]]:
        self.queries.append(self.clock.now)
        weight = self.split.writes[-1] / 100
        total = self.per_second * window_seconds
        canary = total * weight
        return {
            "app--v2": {"requests": canary, "errors_5xx": canary * self.error_rate, "average_ms": 40},
            "app--v1": {"requests": total - canary, "errors_5xx": 0, "average_ms": 40},
        }


class FakeHost:
    def __init__(self) -> None:
        self.swaps = 0

    def swap(self, service: str, on_event: Any, tags: Any = None) -> dict[str, Any]:
        self.swaps += 1
        return {"live": "app--v2"}


SPEC = Canary.model_validate(
    {
        "steps": [{"weight": 10, "pause": "60s"}, {"weight": 50, "pause": "60s"}],
        "analysis": {"interval": "20s"},
    }
)


def run(
    error_rate: float, per_second: float = 10
) -> tuple[CanaryRun, FakeSplit, FakeHost, MemoryLedger, Clock]:
    clock, split, host = Clock(), FakeSplit(), FakeHost()
    ledger = MemoryLedger("memory://ledger", Faults())
    metrics = FakeMetrics(split, clock, error_rate, per_second)
    runner = CanaryRun(
        "prod", "agent", SPEC, split, metrics, host, ledger, lambda s, m: None, clock, clock.sleep
    )
    return runner, split, host, ledger, clock


def test_passing_canary_walks_every_step_then_swaps_once() -> None:
    runner, split, host, ledger, clock = run(error_rate=0.0)
    result = runner.run()
    assert split.writes == [10, 50] and host.swaps == 1
    assert [s["verdict"] for s in result["steps"]] == [PASS, PASS]
    assert clock.now == 120  # both pauses, no more
    (record,) = lg.history(ledger, "prod", 5)
    assert record.operation == "canary" and record.status == "canary-passed"
    assert record.gates[0]["verdict"] == PASS
    assert lg.last_known_good(ledger, "prod") is None  # a revision, not a release: no LKG pointer


def test_failing_canary_goes_back_to_stable_within_one_interval_exit_9() -> None:
    runner, split, host, ledger, clock = run(error_rate=0.5)
    with pytest.raises(GateFailed) as err:
        runner.run()
    assert err.value.exit_code == ExitCode.GATE_FAILED
    assert split.writes == [10, 0] and host.swaps == 0  # back to stable in one write, never swapped
    assert clock.now == 20  # caught at the first analysis of the first step
    assert "back on app--v1" in err.value.message
    (record,) = lg.history(ledger, "prod", 5)
    assert record.status == "failed" and record.gates[0]["verdict"] == FAIL
    assert record.gates[0]["evidence"]["steps"][0]["services"]["agent"]["canary"]["error_rate"] == 0.5


def test_too_little_traffic_is_inconclusive_exit_10() -> None:
    runner, split, host, _, clock = run(error_rate=0.0, per_second=0.5)
    with pytest.raises(GateInconclusive) as err:
        runner.run()
    assert err.value.exit_code == ExitCode.GATE_INCONCLUSIVE
    assert split.writes == [10, 0] and host.swaps == 0 and clock.now == 60
