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


def test_private_engine_stops_fast_with_a_container_that_ignores_sigterm(engine_host: str) -> None:
    """dockerd gives every container its 10 s stop timeout on shutdown; `sandbox down` stops the
    private engine's containers with a 2 s grace first (it took 16 s)."""
    import shutil
    import subprocess

    import docker

    from genaiops_sandbox.engine import _start_private_engine

    if os.geteuid() != 0 or not shutil.which("dockerd"):
        pytest.skip("a private dockerd needs root and dockerd")
    root = Path(tempfile.mkdtemp(prefix="gops-eng-", dir="/tmp"))  # short: unix sockets ≤ 108 bytes
    try:
        info = _start_private_engine(root, 20)
        shared = docker.DockerClient(base_url=engine_host)
        private = docker.DockerClient(base_url=info.docker_host)
        try:
            ensure_base_image(engine_host, CACHE / "debs")
            image = private.images.load(b"".join(shared.images.get(BASE_IMAGE).save()))[0]
            # PID 1 without a SIGTERM handler: only SIGKILL ends it
            private.containers.run(image.id, ["python3", "-c", "import time; time.sleep(600)"], detach=True)
        finally:
            shared.close()
            private.close()
        started = time.perf_counter()
        assert stop_engine(root) is True
        assert time.perf_counter() - started < 7.0
    finally:
        stop_engine(root)
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for point in sorted((m for m in mounts if m.startswith(str(root) + "/")), reverse=True):
            subprocess.run(["umount", "-l", point], check=False)
        shutil.rmtree(root, ignore_errors=True)
