# ruff: noqa: F811 - session fixtures are imported from conftest_registry and used by name
"""`sandbox up/status/env/down/reset` (control.py) with the real daemon on a real engine."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from conftest_registry import engine_host  # noqa: F401 - fixture used by name

from genaiops_sandbox import control
from genaiops_sandbox.errors import SandboxError

pytestmark = pytest.mark.e2e


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_is_idempotent_and_down_keeps_state(
    tmp_path: Path, engine_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine_host)  # use the session engine; `down` must leave it alone
    state = tmp_path / "sandbox"
    started = time.perf_counter()
    profile = control.up(state, retry_after=0)
    cold = time.perf_counter() - started
    assert cold < 10.0
    assert control.healthy(profile)
    assert profile.docker_host == engine_host

    started = time.perf_counter()
    again = control.up(state)
    assert time.perf_counter() - started < 2.0
    assert again.pid == profile.pid and again.arm_endpoint == profile.arm_endpoint

    report = control.status(state)
    assert report["running"] and report["healthy"]
    assert report["daemon_pid"] == profile.pid
    assert report["engine"]["started_by_us"] is False
    assert Path(report["log_file"]).exists()
    assert control.env(state).arm_endpoint == profile.arm_endpoint

    stopped = control.down(state)
    assert stopped == [f"daemon (pid {profile.pid})"]  # not the engine: we did not start it
    assert not _alive(profile.pid)
    assert control.status(state)["running"] is False
    with pytest.raises(SandboxError) as err:
        control.env(state)
    assert "sandbox up" in (err.value.hint or "")

    restarted = control.up(state)
    assert restarted.pid != profile.pid
    assert restarted.arm_endpoint == profile.arm_endpoint  # stable endpoints across down/up
    assert (state / "token-secret").read_bytes()  # state kept

    control.reset(state)
    assert not state.exists()
    assert not _alive(restarted.pid)


def test_a_daemon_that_dies_reports_its_log(
    tmp_path: Path, engine_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine_host)
    state = tmp_path / "broken"
    crash = [sys.executable, "-c", "import sys; print('cannot bind: port taken'); sys.exit(3)"]
    with pytest.raises(SandboxError) as err:
        control.up(state, daemon_argv=crash, timeout=10)
    assert "cannot bind: port taken" in err.value.message
    assert str(state / "logs" / "daemon.out") in (err.value.hint or "")
    assert not (state / "daemon.pid").exists()


def test_reset_refuses_a_folder_that_is_not_a_sandbox(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(SandboxError):
        control.reset(tmp_path)
    assert (tmp_path / "precious.txt").exists()
