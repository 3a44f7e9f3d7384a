"""A finished run leaves without the interpreter's teardown (interrupts.exit_finished) — and loses
nothing by it: the exit code, every byte of output, the exit handlers' work; a run whose
non-daemon threads still work exits normally, waiting for them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

from genaiops_cli.interrupts import exit_finished
from tests.cli.helpers import REPO


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True, timeout=60
    )


def test_exit_code_output_and_exit_handlers_survive_the_fast_exit(tmp_path) -> None:
    marker = tmp_path / "handler-ran"
    proc = _python(
        f"""
        import atexit, sys
        from pathlib import Path
        from genaiops_cli.interrupts import exit_finished
        atexit.register(lambda: Path({str(marker)!r}).write_text("yes"))
        sys.stdout.write("x" * 200_000)  # more than any pipe buffer: must be flushed, not dropped
        sys.stderr.write("done")
        exit_finished(7)
        print("not reached")
        """
    )
    assert proc.returncode == 7
    assert proc.stdout == "x" * 200_000
    assert proc.stderr == "done"
    assert marker.read_text() == "yes"


def test_a_running_non_daemon_thread_keeps_the_normal_exit() -> None:
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, daemon=False)
    worker.start()
    try:
        exit_finished(3)  # returns: this process is still here to say so
    finally:
        stop.set()
        worker.join()


def test_the_cli_process_ends_with_its_command_exit_code(tmp_path) -> None:
    """Through the launcher (the fast exit's only caller): a manifest error is still exit 3 with its
    message, and a good command still exit 0 with its output."""
    (tmp_path / "genaiops.yaml").write_text("version: 1\nproject: {name: x\n")
    bad = subprocess.run(
        [sys.executable, "-m", "genaiops_cli", "validate"], cwd=tmp_path, capture_output=True, text=True
    )
    assert bad.returncode == 3, bad.stderr
    assert "genaiops.yaml" in bad.stderr
    good = subprocess.run(
        [sys.executable, "-m", "genaiops_cli", "--version"], cwd=tmp_path, capture_output=True, text=True
    )
    assert good.returncode == 0 and good.stdout.startswith("genaiops ")
