"""Every attempt is in history, the ones that failed before their promotion journal opened too (the
lock held or unavailable, the source unreadable): the target's ledger gets a `failed` entry with the
error's code — unless that ledger is itself what failed (no entry is invented there) or the
failure is a usage error (nothing was attempted). In-memory fakes of our ports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from genaiops_cli.core import ledger as lg
from genaiops_cli.core import lock as locks
from genaiops_cli.core import promote as core
from genaiops_cli.errors import GenAIOpsError, LockedError, UsageError
from tests.core.fakes import World
from tests.core.test_promote_steps import D1, D2, deploy_dev, events, promote


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = World(tmp_path)
    deploy_dev(world, D1)
    promote(world)
    deploy_dev(world, D2)
    return world


def entries(world: World) -> list[lg.DeploymentRecord]:
    return lg.history(world.ledger("prod"), "prod", 50)


def promote_release(world: World, release: str) -> dict[str, Any]:
    env = world.envs
    return core.promote(
        world.manifest, env["dev"], env["prod"], release, core.Options(lock_settle=0), events()
    )


def test_a_held_lock_is_a_failed_entry_with_its_code(world: World) -> None:
    before = len(entries(world))
    held = locks.acquire(world.ledger("prod"), "prod", "deploy", lease=world.envs["prod"].lock)
    try:
        with pytest.raises(LockedError):
            promote(world)
    finally:
        locks.release(held)
    after = entries(world)
    assert len(after) == before + 1
    newest = after[0]
    assert (newest.status, newest.error["code"], newest.error["step"]) == ("failed", "locked", "start")
    assert newest.source == "dev" and newest.release_id != "unknown"  # the release it was about
    assert lg.last_known_good(world.ledger("prod"), "prod")["release"] != newest.release_id
    shown = core.history(world.manifest, [world.envs["prod"]], 1)[0]  # what `genaiops history` lists
    assert (shown["status"], shown["error"]) == ("failed", "locked")


def test_a_lock_that_cannot_be_reached_is_a_failed_entry(world: World) -> None:
    lease = world.envs["prod"].lock

    def unreachable(claim: Any, seconds: int, lease_id: str) -> str | None:
        raise LockedError(
            "could not acquire the environment lock: ServiceRequestError", code="lock_unavailable"
        )

    lease.try_acquire = unreachable  # our own port's fake, failing as the provider reports it
    with pytest.raises(LockedError):
        promote(world)
    assert entries(world)[0].error["code"] == "lock_unavailable"


def test_an_interrupt_while_taking_the_lock_is_a_failed_entry(world: World) -> None:
    """Ctrl-C/SIGTERM while the lock is being acquired (before the journal opens): the attempt is in
    history as `interrupted`, like an interrupt during any step — and the lock is left free."""
    before = len(entries(world))
    world.faults.arm("lease.acquire", kind="sigint")
    with pytest.raises(KeyboardInterrupt):
        promote(world)
    after = entries(world)
    assert len(after) == before + 1
    assert (after[0].status, after[0].error["code"], after[0].error["step"]) == (
        "failed",
        "interrupted",
        "start",
    )
    assert after[0].release_id != "unknown"
    assert world.envs["prod"].lock.holder() is None


def test_a_source_read_failing_is_a_failed_entry_naming_the_wanted_release(world: World) -> None:
    release = entries(world)[0].release_id
    world.faults.arm("ledger.get:crdev:release", kind="500")
    with pytest.raises(GenAIOpsError) as raised:
        promote_release(world, release)
    newest = entries(world)[0]
    assert newest.status == "failed" and newest.release_id == release
    assert newest.error["code"] == raised.value.code


def test_no_entry_is_invented_when_the_target_ledger_is_what_failed(world: World) -> None:
    before = [e.to_dict() for e in entries(world)]
    world.faults.arm("ledger.get:crprod:promote", kind="500")  # the journal read
    with pytest.raises(GenAIOpsError):
        promote(world)
    assert [e.to_dict() for e in entries(world)] == before


def test_a_usage_error_is_not_an_attempt(world: World) -> None:
    before = len(entries(world))
    with pytest.raises(UsageError):
        promote_release(world, "0" * 12)  # not in dev's ledger
    assert len(entries(world)) == before
