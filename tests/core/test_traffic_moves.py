"""`swap` and `rollback` over several services are all or none (issue 14: a failed step never
leaves an environment worse than it found it), against in-memory fakes of our ports: when a later
service's move fails and did not land, the services moved before it go back to what they served,
read back; the attempt is in history as failed with `undone` per service; the error is exit 7 —
or, when an undo itself fails, says what serves where and points at `rollback` + `repair`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from genaiops_cli.core import ledger as lg
from genaiops_cli.core import reconcile, side_doors, traffic_moves
from genaiops_cli.errors import DeployError, ExitCode, GenAIOpsError
from tests.core.fakes import MANIFEST, World, with_service
from tests.core.test_promote_steps import D1, D2, events

SERVICES = ["agent", "helper"]
# dev: no gates, no promote_from (the ungated swap); prod: gated. Two services in each.
TWO_SERVICES = with_service(MANIFEST, "helper").replace(
    "    strategy: direct\n    gates: [smoke]\n", "    strategy: bluegreen\n"
)
PASSED = [{"name": "smoke", "kind": "smoke", "verdict": "pass"}]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, manifest=TWO_SERVICES)


def ship(world: World, env: str, digest: str) -> None:
    """Both services deployed with `digest` (created live, or staged beside live)."""
    for service in SERVICES:
        image = world.registries[f"cr{env}"].add(f"demo/{service}", digest, "v")
        world.hosts[env].deploy(service, image, 10, events())


def serving(world: World, env: str) -> dict[str, str | None]:
    return {s: world.hosts[env].apps[s].live for s in SERVICES}


def released_prod(world: World) -> str:
    """prod: release D1 live and recorded (history, last-known-good, tags), release D2 staged."""
    ship(world, "prod", D1)
    first, _ = side_doors.record(world.envs["prod"], "deploy", SERVICES, "live", PASSED, None)
    time.sleep(0.002)  # history tags are ordered by a millisecond stamp
    ship(world, "prod", D2)
    return first


def swap(world: World, env: str, **options) -> list[dict]:
    opened = world.envs[env]
    return traffic_moves.swap_all(opened, traffic_moves.plan_swap(opened, SERVICES), events(), **options)


def newest(world: World, env: str) -> lg.DeploymentRecord:
    return lg.history(world.ledger(env), env, 1)[0]


@pytest.mark.parametrize("kind", ["500", "drop", "error"])
def test_a_swap_failing_on_the_second_service_puts_the_first_back_and_records_it(
    world: World, kind: str
) -> None:
    first = released_prod(world)
    before = serving(world, "prod")
    tags = {s: dict(world.hosts["prod"].apps[s].tags) for s in SERVICES}
    world.faults.arm("swap", kind=kind, skip=1)  # agent swaps, helper's write fails
    with pytest.raises(DeployError) as failed:
        swap(world, "prod", gates=PASSED)
    error = failed.value
    assert error.exit_code == ExitCode.DEPLOY and error.code == "swap_failed"
    assert "helper" in error.message and "every service serves what it served before" in error.message
    assert "genaiops swap -e prod" in str(error.hint) and "deploy" not in str(error.hint)
    assert error.details["undone"] == {"agent": "rolled back"}
    assert error.details["serving"] == before
    assert serving(world, "prod") == before, "no mixed release: both back on the first"
    assert {s: world.hosts["prod"].apps[s].tags for s in SERVICES} == tags, "release tags as found"
    entry = newest(world, "prod")
    assert (entry.operation, entry.status) == ("swap", "failed")
    assert entry.error["details"]["undone"] == {"agent": "rolled back"}
    assert entry.services["agent"]["digest"] == D2, "the attempt names what it tried"
    assert error.details["ledger"] and error.details["release"] == entry.release_id
    assert lg.last_known_good(world.ledger("prod"), "prod")["release"] == first
    assert reconcile.drift(world.envs["prod"]) == []
    staged = {s: world.hosts["prod"].apps[s].staged for s in SERVICES}
    assert staged == {s: f"{s}--{D2[7:15]}" for s in SERVICES}, "staged again, as the swap found it"
    assert [s["live"] for s in swap(world, "prod")] == list(staged.values()), "the re-run swaps at once"


def test_a_swap_undone_after_the_configuration_changed_leaves_the_release_for_deploy_to_stage(
    world: World,
) -> None:
    """Restaging would create another revision (the image no longer gives the swapped one): the
    service stays moved back with nothing staged, and the hint says to deploy first."""
    released_prod(world)
    before = serving(world, "prod")
    deploys = world.hosts["prod"].deploys
    prod = world.envs["prod"]
    move = traffic_moves.plan_swap(prod, SERVICES)
    move.wanted["agent"] = "agent--elsewhere"  # as if the manifest changed since the deploy
    world.faults.arm("swap", kind="500", skip=1)
    with pytest.raises(DeployError) as failed:
        traffic_moves.swap_all(prod, move, events())
    assert serving(world, "prod") == before and world.hosts["prod"].deploys == deploys
    assert "genaiops deploy -e prod" in str(failed.value.hint)


def test_a_swap_whose_write_landed_though_its_answer_was_lost_is_read_back_as_done(world: World) -> None:
    released_prod(world)
    world.faults.arm("swap:after", kind="drop", skip=1)  # helper's traffic write landed, answer lost
    swaps = swap(world, "prod")
    assert [s["live"] for s in swaps] == [f"{s}--{D2[7:15]}" for s in SERVICES]
    assert "read_back" in swaps[1] and world.hosts["prod"].apps["helper"].live == swaps[1]["live"]


def test_an_undo_that_fails_says_what_serves_and_how_to_fix_it(world: World) -> None:
    released_prod(world)
    world.faults.arm("swap", kind="500", skip=1)
    world.faults.arm("rollback", kind="500", times=traffic_moves.UNDO_ATTEMPTS)
    with pytest.raises(DeployError) as failed:
        swap(world, "prod")
    error = failed.value
    assert error.exit_code == ExitCode.DEPLOY and error.code == "undo_failed"
    new_agent = f"agent--{D2[7:15]}"
    assert f"agent serves {new_agent} (before: agent--{D1[7:15]})" in error.message
    assert "genaiops rollback -e prod SERVICE" in str(error.hint) and "genaiops repair -e prod" in str(
        error.hint
    )
    assert error.details["undone"] == {"agent": "undo failed"}
    assert error.details["serving"]["agent"] == new_agent == world.hosts["prod"].apps["agent"].live
    assert newest(world, "prod").status == "failed"


def test_one_retry_of_the_undo_absorbs_a_transient_failure(world: World) -> None:
    released_prod(world)
    before = serving(world, "prod")
    world.faults.arm("swap", kind="500", skip=1)
    world.faults.arm("rollback", kind="500", times=1)
    with pytest.raises(DeployError) as failed:
        swap(world, "prod")
    assert failed.value.code == "swap_failed" and serving(world, "prod") == before


def test_a_first_service_failing_moves_nothing_and_keeps_its_error(world: World) -> None:
    released_prod(world)
    before = serving(world, "prod")
    world.faults.arm("swap", kind="drop")
    with pytest.raises(DeployError) as failed:
        swap(world, "prod")
    assert failed.value.code == "outcome_unknown" and failed.value.details["undone"] == {}
    assert serving(world, "prod") == before
    assert (newest(world, "prod").operation, newest(world, "prod").status) == ("swap", "failed")


def test_an_ungated_swap_is_all_or_none_too_and_its_failure_is_in_history(world: World) -> None:
    dev = world.envs["dev"]
    assert not side_doors.is_gated(dev.resolved)
    ship(world, "dev", D1)
    ship(world, "dev", D2)
    before = serving(world, "dev")
    world.faults.arm("swap", kind="500", skip=1)
    with pytest.raises(DeployError) as failed:
        swap(world, "dev")
    assert failed.value.code == "swap_failed" and serving(world, "dev") == before
    entry = newest(world, "dev")
    assert (entry.operation, entry.status) == ("swap", "failed")
    assert entry.error["details"]["undone"] == {"agent": "rolled back"}


def test_ctrl_c_between_two_swaps_puts_the_first_back(world: World) -> None:
    released_prod(world)
    before = serving(world, "prod")
    world.faults.arm("swap", kind="sigint", skip=1)
    with pytest.raises(KeyboardInterrupt):
        swap(world, "prod")
    assert serving(world, "prod") == before
    entry = newest(world, "prod")
    assert (entry.operation, entry.status, entry.error["code"]) == ("swap", "failed", "interrupted")


def test_a_forced_swap_that_fails_part_way_is_undone_and_its_override_recorded(world: World) -> None:
    released_prod(world)
    before = serving(world, "prod")
    world.faults.arm("swap", kind="500", skip=1)
    with pytest.raises(DeployError) as failed:
        swap(world, "prod", forced="hotfix at 3am")
    assert failed.value.code == "swap_failed" and serving(world, "prod") == before
    entry = newest(world, "prod")
    assert entry.status == "failed" and entry.overrides[0]["reason"] == "hotfix at 3am"


def test_a_swap_after_a_canary_sends_the_services_not_moved_back_to_stable(world: World) -> None:
    released_prod(world)
    prod = world.envs["prod"]
    unsplit: list[str] = []
    move = traffic_moves.plan_swap(prod, SERVICES)
    move.unsplit = unsplit.append
    world.faults.arm("swap", kind="500", skip=1)
    with pytest.raises(DeployError):
        traffic_moves.swap_all(prod, move, events())
    assert unsplit == ["helper"], "agent was rolled back in one write; helper still split"


def test_a_rollback_failing_on_the_second_service_returns_the_first_forward(world: World) -> None:
    released_prod(world)
    prod = world.envs["prod"]
    swap(world, "prod")  # D2 live on both, D1 previous
    before = serving(world, "prod")
    world.faults.arm("rollback", kind="500", skip=1)
    with pytest.raises(DeployError) as failed:
        traffic_moves.rollback_all(prod, traffic_moves.plan_rollback(prod, SERVICES), 10, events())
    error = failed.value
    assert error.code == "rollback_failed" and error.exit_code == ExitCode.DEPLOY
    assert error.details["undone"] == {"agent": "rolled back"}
    assert serving(world, "prod") == before
    assert (newest(world, "prod").operation, newest(world, "prod").status) == ("rollback", "failed")
    back = traffic_moves.rollback_all(prod, traffic_moves.plan_rollback(prod, SERVICES), 10, events())
    assert [r["live"] for r in back] == [f"{s}--{D1[7:15]}" for s in SERVICES], "the re-run completes"


def test_an_exception_that_is_not_ours_still_ends_as_a_deploy_error(world: World) -> None:
    released_prod(world)
    prod = world.envs["prod"]
    before = serving(world, "prod")
    move = traffic_moves.plan_swap(prod, SERVICES)
    calls: list[str] = []

    def step(name: str) -> dict:
        calls.append(name)
        if name == "helper":
            raise ValueError("a bug in a provider")
        return world.hosts["prod"].swap(name, events())

    with pytest.raises(GenAIOpsError) as failed:
        traffic_moves.move_all(prod, move, step, events())
    assert failed.value.exit_code == ExitCode.DEPLOY and "ValueError" in failed.value.message
    assert serving(world, "prod") == before and calls == SERVICES
