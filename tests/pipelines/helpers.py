"""A sample project in a git work tree, and the linters that prove generated pipelines valid."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "templates" / "agent"


def sample_repo(tmp: Path, edit=None) -> Path:
    """templates/agent copied into a fresh git work tree; `edit(data)` may reshape the manifest."""
    root = tmp / "repo"
    shutil.copytree(SAMPLE, root)
    (root / ".git").mkdir()  # the generator only looks for the work tree's root marker
    if edit is not None:
        manifest = root / "genaiops.yaml"
        data = yaml.safe_load(manifest.read_text())
        edit(data)
        manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def tool(name: str) -> str:
    """A linter from the dev extra: beside this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is missing: pip install -e '.[dev]' (./scripts/test installs it)")
    return found


def lint(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=120)
