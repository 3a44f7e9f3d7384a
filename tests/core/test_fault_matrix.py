"""The fault/crash matrix of a promotion (issue 14, "Done when"), exhaustive over the in-memory
fakes of our ports: every port call each step makes × every way it can fail — 429 and 500 (after
the SDK's retries gave up), a dropped connection before the call landed or after (the answer lost:
outcome unknown), kill -9, and Ctrl-C/SIGTERM — then at most one re-run of the promotion.

After every case: prod serves exactly one release, never nothing, and after the re-run it is the
new one while history's newest live entry, last-known-good and the release tags name exactly
what serves (no drift); no failure is ever exit 1; every attempt that was not killed is in history.
The e2e counterpart (real signals, real HTTP faults on the stand-in) is tests/e2e/test_crash_windows.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from genaiops_cli.core import ledger as lg
from genaiops_cli.core import lock as locks
from genaiops_cli.core import reconcile
from genaiops_cli.errors import ExitCode, GenAIOpsError
from tests.core.fakes import Killed, MemoryLease, World
from tests.core.test_promote_steps import D1, D2, deploy_dev, promote_dev_evidence
from tests.core.test_promote_steps import promote as promote_with

HEARTBEAT = locks.LEASE_SECONDS / 3  # the lease's renew interval
BEFORE = ("429", "500", "drop", "kill", "sigint")  # the call did not land
AFTER = ("drop", "kill", "sigint")  # the call landed; its answer (or the process) was lost

# (step, port call, calls let through first, kinds): every port call a step makes, in order
POINTS = [
    ("start", "lease.acquire", 0, BEFORE),  # the environment lock (a blob lease), before any step
    ("start", "lease.acquire:after", 0, AFTER),
    ("deploy:agent", "lease.renew", 0, BEFORE),  # the heartbeat falls due during the deploy
    ("deploy:agent", "lease.renew:after", 0, AFTER),
    ("evidence", "ledger.get:crdev:lkg", 0, BEFORE),
    ("evidence", "ledger.put:crprod:release", 0, BEFORE),
    ("evidence", "ledger.put:crprod:release:after", 0, AFTER),
    ("copy:agent", "copy", 0, BEFORE),
    ("copy:agent", "copy:after", 0, AFTER),
    ("deploy:agent", "deploy", 0, BEFORE),
    ("deploy:agent", "deploy:after", 0, AFTER),
    ("gates", "http", 0, BEFORE),
    ("swap:agent", "swap", 0, BEFORE),
    ("swap:agent", "swap:after", 0, AFTER),
    ("record", "ledger.put:crprod:deploy", 0, BEFORE),
    ("record", "ledger.put:crprod:deploy:after", 0, AFTER),
    ("record", "ledger.put:crprod:lkg", 0, BEFORE),
    ("record", "ledger.put:crprod:lkg:after", 0, AFTER),
    ("record", "ledger.put:crprod:promote", 5, BEFORE),  # the journal, written last (the commit mark)
    ("record", "ledger.put:crprod:promote:after", 5, AFTER),
    # the journal save after each step (between steps)
    *[("journal", "ledger.put:crprod:promote", n, BEFORE) for n in range(5)],
    *[("journal", "ledger.put:crprod:promote:after", n, AFTER) for n in range(5)],
    ("release", "lease.release", 0, BEFORE),  # the lock freed once the promotion is recorded
    ("release", "lease.release:after", 0, AFTER),
]
CASES = [
    pytest.param(step, call, skip, kind, id=f"{step}-{call}{f'#{skip}' if skip else ''}-{kind}")
    for step, call, skip, kinds in POINTS
    for kind in kinds
]


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = World(tmp_path)
    host, clock = world.hosts["prod"], world.lease_clock
    deploy = host.deploy

    def deploy_while_the_heartbeat_beats(*args: Any, **kwargs: Any) -> Any:
        clock.advance(HEARTBEAT)  # a deploy takes a while: the lock's heartbeat renews meanwhile
        return deploy(*args, **kwargs)

    host.deploy = deploy_while_the_heartbeat_beats  # type: ignore[method-assign]
    return world


def promote(world: World) -> dict[str, Any]:
    return promote_with(world, lock_heartbeat=world.lease_clock)


def lock_of(world: World) -> MemoryLease:
    return world.envs["prod"].lock


def assert_records_name_what_runs(world: World, digest: str) -> None:
    prod, store = world.envs["prod"], world.ledger("prod")
    now = world.hosts["prod"].current("agent")
    assert now.digest == digest and now.live is not None and now.staged is None
    assert reconcile.drift(prod) == []
    newest = next(r for r in lg.history(store, "prod", 50) if r.status == "live")
    pointer = lg.last_known_good(store, "prod")
    assert pointer is not None
    lkg = lg.load_deployment(store, pointer["record"])
    assert lkg is not None and lkg.services["agent"]["digest"] == newest.services["agent"]["digest"] == digest
    assert now.release == newest.release_id == pointer["release"]


@pytest.mark.parametrize(("step", "call", "skip", "kind"), CASES)
def test_a_fault_at_each_port_call_of_each_step_then_one_rerun(
    world: World, step: str, call: str, skip: int, kind: str
) -> None:
    deploy_dev(world, D1)
    first = promote(world)
    deploy_dev(world, D2)
    assert promote_dev_evidence(world)  # dev's gates passed for D2 (its lkg is read as evidence)
    attempts_before = len(lg.history(world.ledger("prod"), "prod", 50))

    world.faults.arm(call, kind=kind, skip=skip)
    outcome: str
    try:
        result = promote(world)
        outcome = result["status"]  # absorbed (e.g. a landed swap read back)
    except Killed:
        outcome = "killed"
        world.lease_clock.kill()  # the process is gone, its heartbeat with it
    except KeyboardInterrupt:
        outcome = "interrupted"
    except GenAIOpsError as exc:
        assert exc.exit_code != ExitCode.INTERNAL, exc.to_dict()
        outcome = "failed"
    assert world.faults.armed[call] == 0, f"{call} was never reached"
    world.faults.armed.clear()

    # in between: prod serves one release — the old or the new one — never nothing
    assert world.hosts["prod"].current("agent").digest in (D1, D2)
    # the environment is left locked only by a killed holder, and only until its lease runs out
    if outcome != "killed":
        assert lock_of(world).holder() is None, outcome
    world.lease_clock.advance(locks.LEASE_SECONDS)
    assert lock_of(world).holder() is None
    history = lg.history(world.ledger("prod"), "prod", 50)
    if outcome in ("failed", "interrupted") and step != "release":  # each attempt that could say so
        assert len(history) > attempts_before and history[0].status == "failed", outcome
        assert history[0].error and history[0].error["step"] in (step, *[s.name for s in history[0].steps])
    if step == "release":  # after the promotion was recorded: its outcome stands, failed release or not
        assert outcome in ("live", "killed", "interrupted") and history[0].status == "live", outcome
    if outcome != "live":
        again = promote(world)  # the one re-run
        assert again["status"] in ("live", "unchanged"), again
    assert_records_name_what_runs(world, D2)
    assert first["release"] != world.hosts["prod"].current("agent").release
    assert lock_of(world).holder() is None


def test_the_matrix_covers_every_step_of_a_promotion() -> None:
    from genaiops_cli.core.promote_steps import promotion_steps

    covered = {step for step, _, _, _ in POINTS}
    assert {"start", "release"} <= covered  # the lock's acquire and release around the steps
    assert {s.name for s in promotion_steps(["agent"])} <= covered


def with_a_new_release_to_promote(world: World) -> None:
    deploy_dev(world, D1)
    promote(world)
    deploy_dev(world, D2)
    assert promote_dev_evidence(world)


def test_a_heartbeat_that_cannot_renew_for_a_whole_lease_stops_the_run_then_one_rerun(world: World) -> None:
    """The storage unreachable for a whole lease while a deploy runs: the run must not go on
    unconfirmed (another run may hold the lock by now) — exit 11 at the next step, recorded, and
    one re-run finishes it."""
    host, deploy = world.hosts["prod"], world.hosts["prod"].deploy

    def slow_deploy(*args: Any, **kwargs: Any) -> Any:
        if world.faults.armed.get("lease.renew"):
            world.lease_clock.advance(locks.LEASE_SECONDS)  # 3 more beats, all failing
        return deploy(*args, **kwargs)

    host.deploy = slow_deploy  # type: ignore[method-assign]
    with_a_new_release_to_promote(world)
    world.faults.arm("lease.renew", times=5, kind="500")  # and the confirming renew after the step
    with pytest.raises(GenAIOpsError) as caught:
        promote(world)
    assert caught.value.exit_code == ExitCode.LOCKED and caught.value.code == "lock_unavailable"
    assert world.faults.armed["lease.renew"] == 0
    newest = lg.history(world.ledger("prod"), "prod", 1)[0]
    assert newest.status == "failed" and newest.error["code"] == "lock_unavailable"
    assert world.hosts["prod"].current("agent").digest == D1  # still the old release, not split
    assert lock_of(world).holder() is None
    assert promote(world)["status"] == "live"
    assert_records_name_what_runs(world, D2)


def test_a_release_that_keeps_failing_after_a_recorded_promotion_leaves_it_live(world: World) -> None:
    """Both release attempts fail: the promotion's outcome stands (live, exit 0), and the lock runs
    out by itself within its lease (never broken: it may no longer be ours)."""
    with_a_new_release_to_promote(world)
    world.faults.arm("lease.release", times=2, kind="500")
    assert promote(world)["status"] == "live"
    assert lock_of(world).holder() is not None
    world.lease_clock.advance(locks.LEASE_SECONDS)
    assert lock_of(world).holder() is None
    assert promote(world)["status"] == "unchanged"
    assert_records_name_what_runs(world, D2)
