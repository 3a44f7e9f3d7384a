"""One deploy/promote/swap/rollback per environment at a time, held on the Azure side.

Preferred: a **blob lease** on the environment's storage account (Azure Storage's own mutual
exclusion: acquiring a leased blob fails with 409, atomically, server-side). The lease is short
(LEASE_SECONDS) and renewed by a heartbeat thread while the command runs, so a killed holder's lock
frees within LEASE_SECONDS and two live holders are impossible by construction — no settle sleeps.
Owner, operation, reason and host are the lock blob's metadata, written under the lease.

Fallback, when an environment has no storage account to lease on (an Azure environment that was
not provisioned by genaiops): the ledger store (an OCI registry) has no compare-and-swap, so mutual
exclusion uses Fischer's timed algorithm: read the lock; if free (or stale), write our claim with a
fresh nonce; wait `settle` seconds, longer than any read→write gap of a competitor; read again — the
claim still being ours means we hold the lock. A competitor that wrote after us wins and we fail
with exit 11, having changed nothing."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from genaiops_cli.core.ledger import LedgerStore, actor, iso, lock_tag, now, origin, parse_iso
from genaiops_cli.errors import LockedError, UsageError

DEFAULT_TTL = 15 * 60.0
DEFAULT_SETTLE = 0.5
LEASE_SECONDS = 30  # Azure allows 15-60 s; a killed holder frees the environment within this


@dataclass
class LockRecord:
    environment: str
    owner: str
    nonce: str
    operation: str
    reason: str
    acquired_at: str
    expires_at: str
    host: str = ""
    state: str = "held"  # held | released
    broke: dict[str, Any] | None = None  # the lock this one broke, with the reason

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "lock", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LockRecord:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def is_active(self, at: float | None = None) -> bool:
        """Held and not expired (a stale lock is free to take)."""
        if self.state != "held":
            return False
        moment = at if at is not None else now().timestamp()
        return parse_iso(self.expires_at).timestamp() > moment

    def describe(self) -> str:
        return (
            f"{self.owner} ({self.operation} on {self.host or '?'}, since {self.acquired_at}, "
            f"expires {self.expires_at}{', reason: ' + self.reason if self.reason else ''})"
        )


def new_claim(env: str, operation: str, reason: str, ttl: float) -> LockRecord:
    start = now()
    import datetime as dt

    return LockRecord(
        environment=env,
        owner=actor(),
        nonce=secrets.token_hex(8),
        operation=operation,
        reason=reason,
        acquired_at=iso(start),
        expires_at=iso(start + dt.timedelta(seconds=ttl)),
        host=origin().get("host", ""),
    )


def read(store: LedgerStore, env: str) -> LockRecord | None:
    doc = store.get(lock_tag(env))
    return LockRecord.from_dict(doc) if doc else None


def locked_error(env: str, holder: LockRecord) -> LockedError:
    return LockedError(
        f"environment {env!r} is locked by {holder.describe()}",
        hint='wait for it to finish, or take over with --break-lock --reason "…" (recorded)',
        details={"lock": holder.to_dict()},
    )


@dataclass
class Held:
    store: LedgerStore
    claim: LockRecord
    ttl: float
    renewed: float

    def renew(self) -> None:
        """Push the expiry out during a long run (cheap: one write every ttl/3)."""
        if time.monotonic() - self.renewed < self.ttl / 3:
            return
        import datetime as dt

        self.claim.expires_at = iso(now() + dt.timedelta(seconds=self.ttl))
        self.store.put(lock_tag(self.claim.environment), "lock", self.claim.to_dict())
        self.renewed = time.monotonic()


def acquire(
    store: LedgerStore,
    env: str,
    operation: str,
    *,
    reason: str = "",
    break_lock: str | None = None,
    ttl: float = DEFAULT_TTL,
    settle: float = DEFAULT_SETTLE,
    sleep: Callable[[float], None] = time.sleep,
    lease: LeaseBackend | None = None,
    heartbeat: Heartbeat | None = None,
) -> Held | LeaseHeld:
    if break_lock is not None and not break_lock.strip():
        raise UsageError('--break-lock needs --reason "…"', hint="the reason is recorded in the ledger")
    if lease is not None:
        return acquire_lease(lease, env, operation, reason=reason, break_lock=break_lock, heartbeat=heartbeat)
    current = read(store, env)
    claim = new_claim(env, operation, reason, ttl)
    if current and current.is_active():
        if break_lock is None:
            raise locked_error(env, current)
        claim.broke = {"lock": current.to_dict(), "reason": break_lock, "by": claim.owner, "at": iso()}
    elif current and current.state == "held":
        claim.broke = {"lock": current.to_dict(), "reason": "expired", "by": claim.owner, "at": iso()}
    started = time.monotonic()
    store.put(lock_tag(env), "lock", claim.to_dict())
    wrote_in = time.monotonic() - started
    # Wait longer than a competitor's read→write gap (ours is the best estimate we have).
    sleep(max(settle, 4 * wrote_in))
    after = read(store, env)
    if after is None or after.nonce != claim.nonce:
        if after is not None:
            raise locked_error(env, after)
        raise LockedError(f"lost the race for environment {env!r}'s lock", hint="try again")
    return Held(store, claim, ttl, time.monotonic())


def release(held: Held | LeaseHeld) -> None:
    if isinstance(held, LeaseHeld):
        held.release()
        return
    current = read(held.store, held.claim.environment)
    if current is None or current.nonce != held.claim.nonce:
        return  # broken by someone else: theirs now
    held.claim.state = "released"
    held.store.put(lock_tag(held.claim.environment), "lock", held.claim.to_dict())


@contextmanager
def environment_lock(
    store: LedgerStore,
    env: str,
    operation: str,
    *,
    reason: str = "",
    break_lock: str | None = None,
    ttl: float = DEFAULT_TTL,
    settle: float = DEFAULT_SETTLE,
    lease: LeaseBackend | None = None,
) -> Iterator[Held | LeaseHeld]:
    """The helper deploy/swap/rollback can wrap their work in."""
    held = acquire(
        store, env, operation, reason=reason, break_lock=break_lock, ttl=ttl, settle=settle, lease=lease
    )
    try:
        yield held
    finally:
        release(held)


# ------------------------------------------------------------------------------ blob lease


class LeaseLost(Exception):
    """The lease is no longer ours (expired and taken, or broken)."""


class LeaseBackend(Protocol):
    """Where an environment's lock lives: one blob whose lease is the lock (providers implement it)."""

    location: str

    def try_acquire(self, claim: LockRecord, seconds: int, lease_id: str) -> str | None:
        """Lease the lock blob with `lease_id` (ours, proposed: a retried acquire whose first answer
        was lost is granted, as Azure grants an acquire by the id already holding the lease) and
        write `claim` as its metadata; the lease id, or None when someone else holds it."""
        ...

    def holder(self) -> LockRecord | None:
        """The current holder's record (None when the lock is free)."""
        ...

    def renew(self, lease_id: str) -> None:
        """Extend the lease by its duration; raises LeaseLost when it is no longer ours."""
        ...

    def release(self, lease_id: str) -> None:
        """End the lease `lease_id` (never anyone else's); raises LeaseLost when it is not held by it."""
        ...

    def break_lease(self) -> None:
        """End whoever's lease now (for --break-lock)."""
        ...


class Heartbeat(Protocol):
    """When a held lease is renewed: a clock, and a timer calling `beat` every `interval` seconds
    until the returned function stops it. A thread in the product; tests drive one by hand."""

    def now(self) -> float: ...

    def start(self, beat: Callable[[], None], interval: float) -> Callable[[], None]: ...


class ThreadHeartbeat:
    def now(self) -> float:
        return time.monotonic()

    def start(self, beat: Callable[[], None], interval: float) -> Callable[[], None]:
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(interval):
                beat()

        thread = threading.Thread(target=run, name="genaiops-lock-heartbeat", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join(timeout=5)

        return halt


@dataclass
class LeaseHeld:
    """A held lease plus the heartbeat that keeps it alive while this process runs."""

    backend: LeaseBackend
    claim: LockRecord
    lease_id: str
    seconds: int
    heartbeat: Heartbeat = field(default_factory=ThreadHeartbeat)
    lost: str | None = None
    valid_since: float | None = None  # when the last granted acquire/renew was asked
    _halt: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        if self.valid_since is None:
            self.valid_since = self.heartbeat.now()

    def start_heartbeat(self) -> None:
        self._halt = self.heartbeat.start(self.beat, max(1.0, self.seconds / 3))

    def beat(self) -> None:
        """One renewal. A transient failure is left to the next beat (renew() stops the run if the
        lease lapses meanwhile); only a kill or an interrupt landing here propagates."""
        if self.lost:
            return
        asked = self.heartbeat.now()
        try:
            self.backend.renew(self.lease_id)
        except LeaseLost as exc:
            self.lost = str(exc) or "the lease was broken or taken"
            return
        except Exception:
            return
        self.valid_since = asked

    def renew(self) -> None:
        """Called between steps: fail fast (exit 11) if the heartbeat lost the lease — or could not
        renew it for most of its duration (the storage unreachable), when it may have run out and
        been taken: one renew now tells (Azure renews an expired lease by its id unless someone
        leased the blob since), and going on unconfirmed could make two live holders."""
        if not self.lost and self._unconfirmed():
            self.beat()
            if not self.lost and self._unconfirmed():
                raise LockedError(
                    f"could not renew environment {self.claim.environment!r}'s lock for "
                    f"{self.heartbeat.now() - (self.valid_since or 0.0):.0f} s: it may have run out",
                    hint="the storage account was unreachable; re-run to resume",
                    code="lock_unavailable",
                )
        if self.lost:
            raise LockedError(
                f"lost environment {self.claim.environment!r}'s lock: {self.lost}",
                hint="someone broke the lock (--break-lock) or this run stalled past the lease; "
                "re-run to resume",
            )

    def _unconfirmed(self) -> bool:
        return self.heartbeat.now() - (self.valid_since or 0.0) >= self.seconds * 5 / 6

    def release(self) -> None:
        """Free the environment. Never fails the command that held it (its work is done or has
        failed on its own): a release that fails is tried once more — with our own lease id, so it
        can end no one else's lease (a break could: the first release may have landed, its answer
        lost, and a new holder got in since) — else the lease expires by itself within `seconds`.
        An interrupt arriving during the release still frees the environment, then propagates."""
        if self._halt is not None:
            self._halt()
        if self.lost:
            return
        interrupted: KeyboardInterrupt | None = None
        for _attempt in range(2):
            try:
                self.backend.release(self.lease_id)
                break
            except LeaseLost:
                break
            except KeyboardInterrupt as exc:
                interrupted = exc
            except Exception:
                continue
        if interrupted is not None:
            raise interrupted


def acquire_lease(
    backend: LeaseBackend,
    env: str,
    operation: str,
    *,
    reason: str = "",
    break_lock: str | None = None,
    seconds: int = LEASE_SECONDS,
    heartbeat: Heartbeat | None = None,
) -> LeaseHeld:
    heartbeat = heartbeat or ThreadHeartbeat()
    claim = new_claim(env, operation, reason, seconds)
    asked = heartbeat.now()
    lease_id = try_lease(backend, claim, seconds)
    if lease_id is None:
        holder = backend.holder() or LockRecord(env, "unknown", "", "", "", "", "")
        if break_lock is None:
            raise locked_error(env, holder)
        claim.broke = {"lock": holder.to_dict(), "reason": break_lock, "by": claim.owner, "at": iso()}
        backend.break_lease()
        asked = heartbeat.now()
        lease_id = try_lease(backend, claim, seconds)
        if lease_id is None:  # someone else took it between our break and acquire
            raise locked_error(env, backend.holder() or holder)
    held = LeaseHeld(backend, claim, lease_id, seconds, heartbeat, valid_since=asked)
    held.start_heartbeat()
    return held


def try_lease(backend: LeaseBackend, claim: LockRecord, seconds: int) -> str | None:
    """One acquire with a lease id of our own. When it fails the acquire may still have landed (its
    answer lost, or Ctrl-C while waiting for it): the environment would stay locked by nobody for
    `seconds`, so that id is released at once — a release by our own id ends no one else's lease."""
    proposed = str(uuid.uuid4())
    try:
        return backend.try_acquire(claim, seconds, proposed)
    except (Exception, KeyboardInterrupt):
        with contextlib.suppress(Exception):
            backend.release(proposed)
        raise
