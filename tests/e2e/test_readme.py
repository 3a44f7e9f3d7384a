"""README "Using it" runs as written: the block is extracted from README.md and executed by bash, line
by line with `set -e`, in a fresh directory with nothing but genaiops on PATH and a stand-in of its own.
Offline too: nothing in it may need a public registry."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_engine

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def using_it_block() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Using it", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    assert blocks, "README 'Using it' has no bash block"
    return blocks[0]


def test_the_block_is_the_release_path() -> None:
    block = using_it_block()
    for step in (
        "sandbox up",
        "init my-agent",
        "provision -e dev -y",
        "promote --to prod -y",
        "rollback -e prod",
    ):
        assert step in block


def test_readme_using_it_runs_verbatim(shared_engine: str | None, tmp_path: Path) -> None:
    require_engine(shared_engine)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    bin_dir = str(Path(sys.executable).parent)  # where the genaiops entry point is installed
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GENAIOPS_", "BASE_IMAGE", "AZURE_", "COLUMNS", "VIRTUAL_ENV"))
    }
    env.update(
        PATH=f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}",
        HOME=str(tmp_path / "home"),
        GENAIOPS_SANDBOX_DIR=str(tmp_path / "sandbox"),  # its own stand-in: no state from other tests
        NO_COLOR="1",
    )
    for keep in ("GENAIOPS_SANDBOX_VALIDATE", "GENAIOPS_AZURE_SPECS", "GENAIOPS_CACHE_DIR"):
        if keep in os.environ:
            env[keep] = os.environ[keep]
    (tmp_path / "home").mkdir()
    script = "set -euo pipefail\nset -x\n" + using_it_block()
    try:
        proc = subprocess.run(
            ["bash", "-c", script], cwd=fresh, env=env, capture_output=True, text=True, timeout=1500
        )
    finally:  # reset, not down: on a shared engine only reset removes the revisions it ran
        subprocess.run(
            [sys.executable, "-m", "genaiops_cli", "-y", "sandbox", "reset"],
            env=env,
            capture_output=True,
            timeout=120,
        )
    log = proc.stdout[-4000:] + "\n--- stderr ---\n" + proc.stderr[-8000:]
    assert proc.returncode == 0, log
    assert "is live in prod" in proc.stdout
    assert re.search(r"back on contoso-support-agent--\S+", proc.stdout), log
    assert (fresh / "my-agent" / "genaiops.yaml").is_file()
