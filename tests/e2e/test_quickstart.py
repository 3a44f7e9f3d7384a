"""The README's main job, end to end: scripts/quickstart.py against its own stand-in, every step
through the real CLI. CI runs it at every landing, so the quickstart cannot silently rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_engine

REPO = Path(__file__).resolve().parents[2]


def test_quickstart_runs_the_whole_pipeline(shared_engine: str | None, tmp_path: Path) -> None:
    require_engine(shared_engine)
    state = tmp_path / "sandbox"
    env = {**os.environ, "GENAIOPS_SANDBOX_DIR": str(state), "NO_COLOR": "1", "COLUMNS": "160"}
    env.pop("GENAIOPS_SANDBOX_VALIDATE", None)  # its own stand-in; spec checks run in the other e2e tests
    try:
        proc = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "quickstart.py"), "--dir", str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:  # reset, not down: on a shared engine only reset removes the revisions it ran
        subprocess.run(
            [sys.executable, "-m", "genaiops_cli", "-y", "sandbox", "reset"],
            env=env,
            capture_output=True,
            timeout=120,
        )
    log = proc.stderr[-6000:]
    assert proc.returncode == 0, log
    for step in (
        "Provision prod",
        "Promote dev → staging",
        "Promote v1.1 staging → prod",
        "Deploy a regressed change to dev: its gate blocks it",
        "Roll prod back to v1.0",
    ):
        assert step in proc.stderr
    assert "blocked (exit 9)" in proc.stderr
    assert "release" in proc.stdout and "is live in prod" in proc.stdout
    assert "back on contoso-support-agent--" in proc.stdout
    assert "Roll the hosted agent back in prod" in proc.stderr and "agent: back on fa-" in proc.stdout
    # every status step (the last one after rolling back only the agent: a mixed state) finds
    # records that name what runs; the quickstart itself fails a status step that prints drift
    assert "drift:" not in proc.stdout
    assert "last known good: prod=mixed (agent " in proc.stdout
