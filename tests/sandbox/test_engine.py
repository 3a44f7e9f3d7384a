# ruff: noqa: F811 - session fixtures are imported from conftest_registry and used by name
"""The Docker engine finder and the offline Python base image."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from conftest_registry import engine_host  # noqa: F401 - fixture used by name

from genaiops_sandbox.baseimage import BASE_IMAGE, ensure_base_image
from genaiops_sandbox.engine import engine_answers, ensure_engine, stop_engine

pytestmark = pytest.mark.e2e

CACHE = Path(os.environ.get("GENAIOPS_TEST_CACHE", Path(tempfile.gettempdir()) / "genaiops-test-cache"))


def test_reachable_engine_is_used_and_never_stopped(
    tmp_path: Path, engine_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine_host)
    info = ensure_engine(tmp_path)
    assert info.docker_host == engine_host and info.started_by_us is False
    assert stop_engine(tmp_path) is False  # nothing of ours to stop
    assert engine_answers(engine_host)


def test_nothing_answers_at_a_dead_socket(tmp_path: Path) -> None:
    assert engine_answers(f"unix://{tmp_path}/nothing.sock", timeout=0.5) is False


def test_base_image_builds_runs_python_and_is_reused(engine_host: str) -> None:
    import docker

    client = docker.DockerClient(base_url=engine_host)
    try:
        image_id = ensure_base_image(engine_host, CACHE / "debs")
        started = time.perf_counter()
        assert ensure_base_image(engine_host, CACHE / "debs") == image_id
        assert time.perf_counter() - started < 1.0  # warm: just a lookup
        out = client.containers.run(
            BASE_IMAGE,
            ["python3", "-c", "import http.server, json, ssl, sqlite3; print('py-ok')"],
            remove=True,
        )
        assert out.strip() == b"py-ok"
        assert client.containers.run(BASE_IMAGE, ["sh", "-c", "echo sh-ok"], remove=True).strip() == b"sh-ok"
    finally:
        client.close()
