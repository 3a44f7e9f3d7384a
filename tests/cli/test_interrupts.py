"""Ctrl-C and SIGTERM, sent as real signals to the real CLI process while it works: the run ends
with exit 130, error code `interrupted` (one JSON envelope in -o json) and how to resume — quickly,
even while requests to a slow target are still in flight."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli.helpers import REPO

SLOW_SECONDS = 20.0


class _Slow(BaseHTTPRequestHandler):
    """A target that takes far longer to answer than the test waits, and counts what it got."""

    seen = threading.Event()

    def _answer(self) -> None:
        _Slow.seen.set()
        time.sleep(SLOW_SECONDS)
        body = b'{"answer": "5 business days"}'
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the interrupted client is gone

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_target() -> Iterator[str]:
    _Slow.seen.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(REPO / "templates" / "agent", root)
    return root


def start(root: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.Popen(
        [sys.executable, "-m", "genaiops_cli", *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def interrupt(proc: subprocess.Popen[str], sig: int, *, within: float = 10.0) -> tuple[int, str, str, float]:
    started = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=within)
    return proc.returncode, out, err, time.monotonic() - started


def assert_interrupted_envelope(out: str, command: str, signal_name: str) -> None:
    doc = json.loads(out)  # exactly one JSON document
    assert doc["ok"] is False and doc["command"] == command
    assert doc["error"]["code"] == "interrupted"
    assert doc["error"]["details"]["signal"] == signal_name
    assert "re-run `genaiops" in doc["error"]["hint"] and "resume" in doc["error"]["hint"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_eval_interrupted_mid_run(project: Path, slow_target: str, sig: int) -> None:
    proc = start(
        project, "-o", "json", "eval", "quality", "--url", slow_target, "--concurrency", "2", "--retries", "0"
    )
    assert _Slow.seen.wait(30), "eval never reached the target"
    code, out, err, took = interrupt(proc, sig)
    assert code == 130, err
    assert took < 5, f"took {took:.1f}s to stop with requests still in flight"
    assert_interrupted_envelope(out, "eval", signal.Signals(sig).name)


def test_text_mode_says_how_to_resume(project: Path, slow_target: str) -> None:
    proc = start(project, "eval", "quality", "--url", slow_target, "--retries", "0")
    assert _Slow.seen.wait(30)
    code, out, err, _ = interrupt(proc, signal.SIGTERM)
    assert code == 130
    assert "interrupted by SIGTERM" in err
    assert "re-run `genaiops eval quality --url" in err
    assert "Traceback" not in err


def test_no_signal_no_interrupt_and_inprocess_keyboardinterrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    """KeyboardInterrupt raised without a signal (an in-process runner) is still `interrupted`."""
    from tests.cli.helpers import run_inprocess

    def boom(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("genaiops_cli.cli.app", boom)
    run = run_inprocess("-o", "json", "status")
    assert run.code == 130
    assert json.loads(run.stdout)["error"]["code"] == "interrupted"
