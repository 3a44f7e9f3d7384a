"""kill -9 (a real SIGKILL, no handler runs) at chosen points of a promotion on the stand-in, then
the re-run (issue 14: crash windows). After every case: staging is 100 % on one healthy revision,
and history's newest live entry, last-known-good and the app's release tag all name what staging
serves; no exit code is ever 1. The lease of the killed holder frees within LEASE_SECONDS."""

from __future__ import annotations

import signal
import time

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, own_project
from .test_interrupts import start, wait_for_line
from .test_promote import live, ok, promote, ship_dev


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = own_project(sandbox, tmp_path_factory.mktemp("crash"), ("dev", "staging"), prefix="crash")
    project.edit("genaiops.yaml", "name: contoso-support\n", "name: contoso-crash\n")
    return project


def rerun(project: Project, *args: str) -> dict:
    """The command again, waiting out the killed holder's lease (exit 11) — never exit 1."""
    deadline = time.monotonic() + 90
    while True:
        run = project.run(*args)
        assert run.code != ExitCode.INTERNAL, run.stdout + run.stderr
        if run.code != ExitCode.LOCKED or time.monotonic() > deadline:
            return ok(run)
        time.sleep(3)


def assert_records_name_what_runs(project: Project) -> None:
    now = live(project, "staging")
    serving = [r for r in now["revisions"] if r["traffic"]]
    assert [(r["name"], r["traffic"], r["health_state"]) for r in serving] == [(now["live"], 100, "Healthy")]
    status = ok(project.run("-o", "json", "status", "-e", "staging"))
    assert status["drift"] == [], status["drift"]
    history = ok(project.run("-o", "json", "history", "-e", "staging"))
    newest = next(e for e in history["entries"] if e["status"] == "live")
    assert (
        newest["release"]
        == now["release"]
        == (history["last_known_good"] or {}).get("release", now["release"])
    )


@pytest.mark.parametrize(
    ("kill_at", "then_rollback"),
    [("smoke against staged", False), ("swapping traffic", False), ("swapping traffic", True)],
    ids=["while-gating", "at-swap", "at-swap-then-rollback"],
)
def test_kill_9_at_a_promotion_step_then_rerun(project: Project, kill_at: str, then_rollback: bool) -> None:
    if not live(project, "staging").get("live"):
        ship_dev(project, "1.0.0")
        ok(promote(project, "staging"))
    ship_dev(project, f"2.{time.time_ns() % 100000}.0")

    proc = start(project, "-o", "json", "-v", "-y", "promote", "--to", "staging", "--timeout", "60")
    wait_for_line(proc, kill_at)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    if then_rollback:  # an operator rolls back (if the swap landed) before anyone re-runs
        st = live(project, "staging")
        if st.get("previous"):
            rerun(project, "-o", "json", "-y", "rollback", "-e", "staging")
    resumed = rerun(project, "-o", "json", "-y", "promote", "--to", "staging", "--timeout", "60")
    assert resumed["status"] in ("live", "unchanged")
    now = live(project, "staging")
    assert now["live"] == (resumed.get("services") or {}).get("agent", {}).get("revision", now["live"])
    assert_records_name_what_runs(project)
