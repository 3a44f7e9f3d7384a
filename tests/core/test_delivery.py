"""Progressive delivery inside promote, over in-memory fakes of OUR ports (tests/core/fakes.py) with a
fake clock: a promotion into a `strategy: canary` environment walks the steps and records a live
release; a canary that fails its analysis is back on stable in one write, exit 9, recorded with the
evidence; the post-release watch rolls back a release that goes bad after the swap (last-known-good
back on what serves, its evidence revoked); --no-watch is recorded; a failed `monitor apply` after a
promotion leaves the promotion recorded as live (exit 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from genaiops_cli.core import ledger as lg
from genaiops_cli.core import promote as core
from genaiops_cli.core.after_release import Follow
from genaiops_cli.errors import ExitCode, GateFailed, GateInconclusive, GenAIOpsError
from tests.core.fakes import World

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64

CANARY = """\
    strategy: canary
    canary:
      steps: [{weight: 10, pause: 60s}, {weight: 50, pause: 60s}]
      analysis: {interval: 20s, min_requests: 10}
    watch:
      duration: 5m
      analysis: {interval: 30s, min_requests: 10}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Traffic:
    """The fake's traffic split and metrics per revision: 10 requests a second over the weights the
    split last wrote; revisions in `error_rates` answer that share with 5xx (from `bad_after`)."""

    def __init__(self, world: World, clock: Clock) -> None:
        self.world, self.clock = world, clock
        self.writes: list[int] = []  # canary weight of each traffic write
        self.error_rates: dict[str, float] = {}
        self.bad_after = 0.0

    def app(self, service: str) -> Any:
        return self.world.hosts["prod"].apps[service]

    # TrafficSplit
    def sides(self, service: str) -> tuple[str, str]:
        app = self.app(service)
        return str(app.live), str(app.staged)

    def split(self, service: str, weight: int, on_event: Any) -> None:
        self.writes.append(weight)

    def abort(self, service: str, on_event: Any) -> None:
        self.writes.append(0)

    # RevisionMetrics
    def revision_stats(self, service: str, window: float) -> dict[str, dict[str, Any]]:
        app = self.app(service)
        weight = (self.writes[-1] if self.writes and app.staged else 0) / 100
        total = 10 * window
        out = {}
        for revision, share in ((app.live, 1 - weight), (app.staged, weight)):
            if revision:
                requests = total * share
                rate = self.error_rates.get(revision, 0) if self.clock.now >= self.bad_after else 0
                out[revision] = {"requests": requests, "errors_5xx": requests * rate, "average_ms": 40}
        return out


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, CANARY)


def deploy_dev(world: World, digest: str) -> None:
    image = world.registries["crdev"].add("demo/agent", digest, "v")
    world.hosts["dev"].deploy("agent", image, 10, lambda s, m: None)


def revision(world: World, digest: str) -> str:
    return world.hosts["prod"].expected_revision("agent", f"x@{digest}")


def promote(world: World, traffic: Traffic, watch: bool = True, **follow: Any) -> dict[str, Any]:
    clock = traffic.clock
    options = core.Options(
        lock_settle=0,
        delivery=lambda env, s: (traffic, traffic),
        follow=Follow(watch, lambda env, s: traffic, clock=clock, sleep=clock.sleep, **follow),
        clock=clock,
        sleep=clock.sleep,
    )
    return core.promote(
        world.manifest, world.envs["dev"], world.envs["prod"], None, options, lambda s, m: None
    )


def first_release(world: World) -> tuple[Traffic, dict[str, Any]]:
    traffic = Traffic(world, Clock())
    deploy_dev(world, D1)
    return traffic, promote(world, traffic)


def test_passing_canary_walks_the_steps_then_swaps_and_records_a_live_release(world: World) -> None:
    traffic, first = first_release(world)
    assert "canary" not in [s["name"] for s in first["steps"]] or first["steps"][4]["detail"].get("skipped")
    deploy_dev(world, D2)
    traffic.writes.clear()
    started = traffic.clock.now
    result = promote(world, traffic)
    assert [s["name"] for s in result["steps"]][3:5] == ["gates", "canary"]
    assert traffic.writes == [10, 50]  # two weighted writes; then the swap step takes 100 %
    assert world.hosts["prod"].apps["agent"].live == revision(world, D2)
    assert traffic.clock.now - started == 120 + 300  # both pauses, then the 5-minute watch
    assert result["watch"]["verdict"] == "pass"
    assert {g["name"]: g["verdict"] for g in result["gates"]} == {"smoke": "pass", "canary-analysis": "pass"}
    assert lg.last_known_good(world.ledger("prod"), "prod")["release"] == result["release"]


def test_failing_canary_is_back_on_stable_within_one_interval_exit_9_recorded(world: World) -> None:
    traffic, first = first_release(world)
    deploy_dev(world, D2)
    traffic.writes.clear()
    traffic.error_rates[revision(world, D2)] = 0.5
    started = traffic.clock.now
    with pytest.raises(GateFailed) as err:
        promote(world, traffic)
    assert err.value.exit_code == ExitCode.GATE_FAILED and err.value.code == "canary_failed"
    assert traffic.writes == [10, 0]  # back to stable in one write
    assert err.value.details["steps"][0]["after_s"] == 20
    assert traffic.clock.now - started == 20  # the first analysis
    prod = world.hosts["prod"].apps["agent"]
    assert prod.live == revision(world, D1) and prod.staged == revision(world, D2)
    (entry,) = [r for r in lg.history(world.ledger("prod"), "prod", 5) if r.status == "failed"]
    assert entry.error["step"] == "canary"
    canary = [g for g in entry.gates if g["name"] == "canary-analysis"][0]
    assert canary["verdict"] == "fail"
    assert canary["evidence"]["steps"][0]["services"]["agent"]["canary"]["error_rate"] == 0.5
    assert lg.last_known_good(world.ledger("prod"), "prod")["release"] == first["release"]


def test_too_little_traffic_on_the_canary_is_inconclusive_exit_10(world: World) -> None:
    traffic, _ = first_release(world)
    deploy_dev(world, D2)
    traffic.writes.clear()
    traffic.revision_stats = lambda service, window: {}  # type: ignore[method-assign]
    with pytest.raises(GateInconclusive):
        promote(world, traffic)
    assert traffic.writes == [10, 0]


def test_release_going_bad_after_the_swap_is_rolled_back_by_promotes_watch(world: World) -> None:
    traffic, first = first_release(world)
    deploy_dev(world, D2)
    traffic.error_rates[revision(world, D2)] = 0.5
    traffic.bad_after = traffic.clock.now + 120 + 60  # healthy through the canary, bad a minute later
    with pytest.raises(GateFailed) as err:
        promote(world, traffic)
    assert err.value.code == "watch_failed"
    promotion = err.value.details["promotion"]
    assert promotion["status"] == "live"  # the release went live; then the watch took it back
    ledger = world.ledger("prod")
    assert world.hosts["prod"].apps["agent"].live == revision(world, D1)
    assert lg.last_known_good(ledger, "prod")["release"] == first["release"]  # names what serves
    latest = lg.history(ledger, "prod", 1)[0]
    assert (latest.operation, latest.status, latest.release_id) == (
        "watch",
        "rolled-back",
        promotion["release"],
    )
    assert lg.evidence_for(ledger, "prod", promotion["release"]) is None  # no longer promotable onwards
    assert lg.evidence_for(ledger, "prod", first["release"]) is not None


def test_no_watch_is_recorded(world: World) -> None:
    traffic, _ = first_release(world)
    deploy_dev(world, D2)
    result = promote(world, traffic, watch=False)
    assert result["watch"]["verdict"] == "skipped"
    latest = lg.history(world.ledger("prod"), "prod", 1)[0]
    assert (latest.operation, latest.status) == ("watch", "watch-skipped")
    assert latest.overrides[0]["reason"] == "--no-watch"


class BrokenMonitor:
    def __getattr__(self, name: str) -> Any:
        raise GenAIOpsError("AuthorizationFailed: no role to write alert rules", code="arm_error")


def test_a_failed_monitor_apply_after_promote_keeps_the_promotion_live(tmp_path: Path) -> None:
    world = World(tmp_path, CANARY.replace("    watch:", "    monitor: {apply_on: [promote]}\n    watch:"))
    traffic = Traffic(world, Clock())
    deploy_dev(world, D1)
    with pytest.raises(GenAIOpsError) as err:
        promote(world, traffic, monitor=BrokenMonitor)
    assert err.value.exit_code == ExitCode.PROVISION and err.value.code == "monitor_apply_failed"
    assert "succeeded" in err.value.message
    promotion = err.value.details["result"]
    assert promotion["status"] == "live" and promotion["watch"]["verdict"] == "pass"
    assert lg.last_known_good(world.ledger("prod"), "prod")["release"] == promotion["release"]


MONITORED = CANARY.replace(
    "    watch:",
    "    monitor:\n      apply_on: [promote]\n      action_groups:\n        ops:\n"
    '          webhooks: [{name: pager, url: "https://pager.example.com/hook"}]\n    watch:',
)


def test_monitor_apply_on_promote_applies_once_and_then_changes_nothing(tmp_path: Path) -> None:
    from tests.core.test_monitor_plan import FakeMonitor

    world, monitor = World(tmp_path, MONITORED), FakeMonitor()
    traffic = Traffic(world, Clock())
    deploy_dev(world, D1)
    first = promote(world, traffic, monitor=lambda: monitor)
    assert first["monitor"]["ok"] and first["monitor"]["applied"] == 1
    assert first["monitor"]["summary"]["Create"] == 1
    assert monitor.writes == [("put", "actionGroup", "ops")]
    deploy_dev(world, D2)
    second = promote(world, traffic, monitor=lambda: monitor)
    assert second["monitor"]["applied"] == 0 and second["monitor"]["summary"]["NoChange"] == 1
    assert len(monitor.writes) == 1
