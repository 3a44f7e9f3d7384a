"""The stand-in a benchmark runs against: its state and caches in the benchmark's temporary folder,
started as users start it, and reset at the end (reset, not down: on a shared engine only reset
removes the revision and replica containers the run started)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_IMAGE = "genaiops/python-base:3.11"


def standin_env(work: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "GENAIOPS_SANDBOX_DIR": str(work / "sandbox"),
        "GENAIOPS_CACHE_DIR": str(work / "cache"),  # lookup, manifest and token caches start empty
        "NO_COLOR": "1",
        "BASE_IMAGE": BASE_IMAGE,
        **extra,
    }
    env.pop("GENAIOPS_SANDBOX_VALIDATE", None)  # spec checks belong to the tests, not to timings
    return env


def standin_up(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "genaiops_cli", "sandbox", "up"], env=env, check=True, capture_output=True
    )


def standin_reset(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "genaiops_cli", "-y", "sandbox", "reset"], env=env, capture_output=True
    )
