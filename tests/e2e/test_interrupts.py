"""Real signals against the real CLI on the stand-in: `-o json smoke` against a slow URL, and a
promotion interrupted mid-way (its new revision staged at 0 %) — exit 130 with `interrupted`, live
traffic untouched, the lock free, and the re-run finishes the promotion."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.cli.test_interrupts import _Slow, assert_interrupted_envelope, slow_target  # noqa: F401

from .conftest import BASE_IMAGE, Project, Sandbox, make_project, own_project
from .test_promote import live, ok, promote, ship_dev


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return own_project(sandbox, tmp_path_factory.mktemp("interrupts"), ("dev", "staging"))


def start(project: Project, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "BASE_IMAGE": BASE_IMAGE}
    return subprocess.Popen(
        [sys.executable, "-m", "genaiops_cli", *args],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 240) -> list[str]:
    """Read stderr until a progress line contains `needle` (the point to interrupt at)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    proc.kill()
    raise AssertionError(f"never saw {needle!r}: {''.join(seen)[-2000:]}")


def test_smoke_json_interrupted(project: Project, slow_target: str) -> None:  # noqa: F811
    proc = start(project, "-o", "json", "smoke", "-e", "dev", "--url", slow_target, "--warmup", "0")
    assert _Slow.seen.wait(60), "smoke never reached the target"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert_interrupted_envelope(out, "smoke", "SIGINT")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_promote_interrupted_while_gating_staged_side(project: Project, sig: int) -> None:
    if not live(project, "staging").get("live"):
        ship_dev(project, "1.0.0")
        ok(promote(project, "staging"))
    before = live(project, "staging")
    ship_dev(project, f"2.{sig}.0")

    proc = start(project, "-o", "json", "-v", "-y", "promote", "--to", "staging", "--timeout", "60")
    wait_for_line(proc, "smoke against staged")  # the new revision is staged at 0 %, gates are running
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err[-2000:]
    assert_interrupted_envelope(out, "promote", signal.Signals(sig).name)
    assert "promote --to staging" in json.loads(out)["error"]["hint"]

    after = live(project, "staging")
    assert after["live"] == before["live"], "live traffic moved by an interrupted promotion"
    assert {r["name"]: r["traffic"] for r in after["revisions"]}[after["live"]] == 100

    resumed = ok(promote(project, "staging"))  # the lock was released: no exit 11
    assert resumed["status"] == "live" and resumed["resumed"]
    assert live(project, "staging")["live"] == resumed["services"]["agent"]["revision"] != before["live"]


def test_build_interrupted(sandbox: Sandbox, tmp_path) -> None:
    """While the engine runs a slow build step, SIGINT stops the CLI at once (the image cache makes
    the re-run cheap); nothing is recorded as built."""
    fresh = make_project(sandbox, tmp_path, ())  # builds only: no environment touched
    dockerfile = fresh.root / "src/agent/Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\nRUN sleep 60\n")
    proc = start(fresh, "-o", "json", "-v", "build")
    wait_for_line(proc, "RUN sleep 60")
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err[-2000:]
    assert time.monotonic() - started < 10
    assert_interrupted_envelope(out, "build", "SIGINT")
