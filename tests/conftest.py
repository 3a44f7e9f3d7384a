"""Shared fixtures: ONE Docker engine for the whole run, and the local Azure stand-in.

The engine is a reachable one (DOCKER_HOST / the default socket) or, on a fresh CI machine, a
private dockerd the sandbox code starts — the same path `genaiops sandbox up` takes for users.
Every module that needs an engine reuses it through GENAIOPS_TEST_DOCKER_HOST."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="gops-test-"))


@pytest.fixture(scope="session", autouse=True)
def shared_engine() -> Iterator[str | None]:
    """Start (or find) the engine once; tests that need none still run when Docker is absent."""
    from genaiops_sandbox.engine import ensure_engine, stop_engine
    from genaiops_sandbox.errors import SandboxError

    engine_dir = _SESSION_DIR / "engine-owner"
    host = os.environ.get("GENAIOPS_TEST_DOCKER_HOST")
    started = False
    if not host:
        try:
            info = ensure_engine(engine_dir)
        except SandboxError:
            info = None
        if info is not None:
            host, started = info.docker_host, info.started_by_us
            os.environ["GENAIOPS_TEST_DOCKER_HOST"] = host
    if host:
        os.environ["DOCKER_HOST"] = host
    yield host
    if started:
        stop_engine(engine_dir)
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


def require_engine(host: str | None) -> str:
    if not host:
        pytest.fail("no Docker engine: install docker.io (root) or start Docker; ./scripts/test does it")
    return host
