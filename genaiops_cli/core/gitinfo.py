"""Git facts for image labels and tags. Missing git or no checkout is normal, never an error."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GitInfo:
    commit: str
    short: str
    clean: bool  # no uncommitted change under the path asked about
    remote: str | None


def _git(cwd: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_info(path: Path) -> GitInfo | None:
    if shutil.which("git") is None or not path.exists():
        return None
    commit = _git(path, "rev-parse", "HEAD")
    if not commit:
        return None
    dirty = _git(path, "status", "--porcelain", "--", ".")
    remote = _git(path, "config", "--get", "remote.origin.url")
    return GitInfo(commit=commit, short=commit[:12], clean=dirty == "", remote=remote or None)
