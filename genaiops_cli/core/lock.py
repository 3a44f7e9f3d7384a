"""One deploy/promote/swap/rollback per environment at a time, held on the Azure side.

The ledger store (an OCI registry) has no compare-and-swap, and neither the Container Apps nor the
registry API defines ETag/If-Match, so mutual exclusion uses Fischer's timed algorithm: read the
lock; if free (or stale), write our claim with a fresh nonce; wait `settle` seconds, longer than any
read→write gap of a competitor; read again — the claim still being ours means we hold the lock.
A competitor that wrote after us wins and we fail with exit 11, having changed nothing."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from genaiops_cli.core.ledger import LedgerStore, actor, iso, lock_tag, now, origin, parse_iso
from genaiops_cli.errors import LockedError, UsageError

DEFAULT_TTL = 15 * 60.0
DEFAULT_SETTLE = 0.5


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
) -> Held:
    if break_lock is not None and not break_lock.strip():
        raise UsageError('--break-lock needs --reason "…"', hint="the reason is recorded in the ledger")
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


def release(held: Held) -> None:
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
) -> Iterator[Held]:
    """The helper deploy/swap/rollback can wrap their work in."""
    held = acquire(store, env, operation, reason=reason, break_lock=break_lock, ttl=ttl, settle=settle)
    try:
        yield held
    finally:
        release(held)
