"""The environment lock as a blob lease on the stand-in, through azure-storage-blob over HTTPS:
a holder killed with SIGKILL frees the environment within the lease duration (no 15-minute wait),
and while it lives nobody else gets in (exit 11)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from genaiops_cli.core import lock as locks
from genaiops_cli.errors import LockedError

from .conftest import Sandbox

HOLDER = textwrap.dedent(
    """
    import sys, time
    from genaiops_cli.core import lock as locks
    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure.blob_lock import BlobLeaseLock, sandbox_account

    target = target_for("sandbox", None)

    lease = BlobLeaseLock(target, sandbox_account(target, "rg-locktest"), "prod")
    held = locks.acquire(None, "prod", "promote", reason="about to be killed", lease=lease)
    print("held", flush=True)
    time.sleep(600)
    """
)


def backend():
    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure.blob_lock import BlobLeaseLock, sandbox_account

    target = target_for("sandbox", None)
    return BlobLeaseLock(target, sandbox_account(target, "rg-locktest"), "prod")


def test_killed_holder_frees_within_the_lease(sandbox: Sandbox) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(LockedError) as caught:
            locks.acquire_lease(backend(), "prod", "deploy")
        assert caught.value.exit_code == 11 and "about to be killed" in caught.value.message
        time.sleep(locks.LEASE_SECONDS / 3 + 2)  # at least one heartbeat renewed it: still held
        with pytest.raises(LockedError):
            locks.acquire_lease(backend(), "prod", "deploy")
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        while True:
            try:
                held = locks.acquire_lease(backend(), "prod", "deploy")
                break
            except LockedError:
                assert time.monotonic() - killed_at < locks.LEASE_SECONDS + 5, (
                    "lock not freed within the lease"
                )
                time.sleep(1)
        freed_after = time.monotonic() - killed_at
        locks.release(held)
        print(f"lock free {freed_after:.1f}s after kill -9 (lease {locks.LEASE_SECONDS}s)")
        assert freed_after <= locks.LEASE_SECONDS + 2
    finally:
        proc.kill()
