"""The lease lock's rules over an in-memory lease backend with Azure's semantics (our own port,
faked): racing acquirers → exactly one holder; the heartbeat keeps a lease alive past its duration;
a lease broken or taken is noticed (exit 11 at the next step); break-lock records who was broken."""

from __future__ import annotations

import threading

import pytest

from genaiops_cli.core import lock as locks
from genaiops_cli.errors import LockedError
from tests.core.fakes import MemoryLease


class Store:
    """The ledger store: unused when a lease is given (the timed lock would write here)."""


def test_racing_acquirers_exactly_one_holds() -> None:
    backend = MemoryLease()
    barrier = threading.Barrier(8)
    outcomes: list[object] = []

    def contend() -> None:
        barrier.wait()
        try:
            outcomes.append(locks.acquire(Store(), "prod", "promote", lease=backend))
        except LockedError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    held = [o for o in outcomes if isinstance(o, locks.LeaseHeld)]
    refused = [o for o in outcomes if isinstance(o, LockedError)]
    assert len(held) == 1 and len(refused) == 7
    assert all(e.exit_code == 11 and "locked by" in e.message for e in refused)
    locks.release(held[0])
    assert backend.holder() is None


def test_heartbeat_keeps_the_lease_and_release_frees_it() -> None:
    backend = MemoryLease()
    held = locks.acquire_lease(
        backend, "prod", "deploy", seconds=3, heartbeat=backend.clock
    )  # beats every 1 s
    backend.clock.advance(5)  # past the lease's duration
    assert backend.renewals == 5 and backend.holder() is not None
    held.renew()  # nothing lost: no error
    locks.release(held)
    assert backend.holder() is None


def test_a_lost_lease_stops_the_holder_at_its_next_step() -> None:
    backend = MemoryLease()
    held = locks.acquire_lease(backend, "prod", "promote", seconds=3, heartbeat=backend.clock)
    taker = locks.acquire_lease(backend, "prod", "promote", break_lock="holder hung", heartbeat=backend.clock)
    assert taker.claim.broke["reason"] == "holder hung" and taker.claim.broke["lock"]["owner"]
    backend.clock.advance(1)  # the holder's next beat finds the lease taken
    assert held.lost
    with pytest.raises(LockedError) as caught:
        held.renew()
    assert caught.value.exit_code == 11 and "lost" in caught.value.message
    locks.release(held)  # must not release the taker's lease
    assert backend.holder() is not None
    locks.release(taker)


def test_a_dead_holder_frees_when_its_lease_runs_out() -> None:
    backend = MemoryLease()
    backend.try_acquire(locks.new_claim("prod", "promote", "killed", 1), 1, "dead")  # no heartbeat: kill -9
    with pytest.raises(LockedError):
        locks.acquire_lease(backend, "prod", "promote", heartbeat=backend.clock)
    backend.clock.advance(1)
    held = locks.acquire_lease(backend, "prod", "promote", heartbeat=backend.clock)
    locks.release(held)


class FailingRelease(MemoryLease):
    """The storage fails every release (throttled or 5xx past the SDK's retries)."""

    def release(self, lease_id: str) -> None:
        raise LockedError("could not release the environment lock: ServerBusy", code="lock_unavailable")


def test_a_failed_release_never_fails_the_holder_and_the_lease_runs_out() -> None:
    backend = FailingRelease()
    held = locks.acquire(Store(), "prod", "promote", lease=backend, heartbeat=backend.clock)
    assert isinstance(held, locks.LeaseHeld)
    locks.release(held)  # no exception: the command's outcome is what it reports
    assert backend.holder() is not None  # not broken: it may no longer be ours to break
    backend.clock.advance(locks.LEASE_SECONDS)
    assert backend.holder() is None


@pytest.mark.parametrize("kind", ["429", "500", "drop"])
def test_a_release_failing_once_is_tried_again_and_frees_at_once(kind: str) -> None:
    backend = MemoryLease()
    held = locks.acquire(Store(), "prod", "promote", lease=backend, heartbeat=backend.clock)
    backend.faults.arm("lease.release", kind=kind)
    locks.release(held)
    assert backend.holder() is None  # the next run need not wait for the lease to run out


class ReleaseAnswerLostWhileAnotherGetsIn(MemoryLease):
    """The release lands, a waiting run acquires the free lock at once, then the release's answer
    is lost (past the SDK's retries): the first holder cannot tell it is no longer its lease."""

    def release(self, lease_id: str) -> None:
        super().release(lease_id)
        if self.holder() is None:
            self.try_acquire(locks.new_claim("prod", "promote", "the next run", 30), 30, "next-run")
        raise LockedError(
            "could not release the environment lock: ServiceResponseError", code="lock_unavailable"
        )


def test_a_release_whose_answer_was_lost_never_ends_the_next_holder_s_lease() -> None:
    backend = ReleaseAnswerLostWhileAnotherGetsIn()
    held = locks.acquire(Store(), "prod", "promote", lease=backend, heartbeat=backend.clock)
    assert isinstance(held, locks.LeaseHeld)
    locks.release(held)
    holder = backend.holder()
    assert holder is not None and holder.reason == "the next run"  # two holders would follow a break


def test_an_interrupt_during_the_release_still_frees_the_environment() -> None:
    backend = MemoryLease()
    held = locks.acquire(Store(), "prod", "promote", lease=backend, heartbeat=backend.clock)
    backend.faults.arm("lease.release", kind="sigint")
    with pytest.raises(KeyboardInterrupt):
        locks.release(held)  # the interrupt still ends the command (exit 130)
    assert backend.holder() is None


@pytest.mark.parametrize("kind", ["drop", "sigint"])
def test_an_acquire_whose_answer_was_lost_leaves_the_environment_free(kind: str) -> None:
    """The acquire landed (the lease is ours) but its answer never came back (past the SDK's
    retries, or Ctrl-C while waiting): the environment must not stay locked by nobody for a lease."""
    backend = MemoryLease()
    backend.faults.arm("lease.acquire:after", kind=kind)
    with pytest.raises((LockedError, KeyboardInterrupt)):
        locks.acquire_lease(backend, "prod", "promote", heartbeat=backend.clock)
    assert backend.holder() is None
    locks.release(locks.acquire_lease(backend, "prod", "promote", heartbeat=backend.clock))


def lapsed_holder(backend: MemoryLease, failed_beats: int) -> locks.LeaseHeld:
    """A holder whose heartbeat failed (storage unreachable) for a whole lease."""
    held = locks.acquire_lease(backend, "prod", "promote", heartbeat=backend.clock)
    backend.faults.arm("lease.renew", times=failed_beats, kind="500")
    backend.clock.advance(locks.LEASE_SECONDS)  # three beats, each one failed: the lease ran out
    return held


def test_a_lease_that_ran_out_and_was_taken_stops_the_holder_at_its_next_step() -> None:
    backend = MemoryLease()
    held = lapsed_holder(backend, 3)
    taker = locks.acquire_lease(backend, "prod", "promote", heartbeat=backend.clock)  # the lock was free
    with pytest.raises(LockedError) as caught:
        held.renew()  # between two steps: going on would make two live holders
    assert caught.value.exit_code == 11
    locks.release(held)
    assert backend.holder() is taker.claim
    locks.release(taker)


def test_a_lease_that_ran_out_while_the_storage_was_down_is_renewed_before_the_next_step() -> None:
    backend = MemoryLease()
    held = lapsed_holder(backend, 3)
    held.renew()  # storage back, nobody took it: Azure renews an expired lease by its id
    assert backend.holder() is held.claim
    locks.release(held)


def test_a_lease_that_cannot_be_renewed_for_a_whole_lease_stops_the_holder() -> None:
    backend = MemoryLease()
    held = lapsed_holder(backend, 4)  # still unreachable at the next step
    with pytest.raises(LockedError) as caught:
        held.renew()
    assert caught.value.exit_code == 11 and caught.value.code == "lock_unavailable"
    locks.release(held)
