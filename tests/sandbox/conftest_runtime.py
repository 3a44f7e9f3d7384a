"""Fixtures for the runtime/router tests: a private Docker engine and a tiny offline test image.

Import explicitly (`from conftest_runtime import ...`). Until tests/conftest.py has shared session
fixtures, the engine is a private dockerd on bridge `gops-rt0` / 10.213.77.0/24 (distinct from the
other sandbox tests' engines), started once per session and stopped by its own pid. Set
GENAIOPS_TEST_DOCKER_HOST to reuse an engine that is already running instead.

The test image is built without pulling anything: busybox-static (from `apt-get download`, cached)
imported as a rootfs. `busybox httpd` serves /www; /cgi-bin/version answers with $APP_VERSION so
each revision can be told apart; commands override it for crashing and job containers."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BRIDGE = "gops-rt0"
BRIDGE_ADDR = "10.213.77.1/24"
TEST_IMAGE = "gops-rt-test/web:1"
CACHE_DIR = Path(os.environ.get("GENAIOPS_TEST_CACHE", Path(tempfile.gettempdir()) / "gops-rt-cache"))

_VERSION_CGI = """#!/bin/sh
echo "Content-Type: text/plain"
echo ""
echo "version=${APP_VERSION:-none} method=$REQUEST_METHOD query=$QUERY_STRING"
if [ -n "$CONTENT_LENGTH" ]; then echo "body=$(head -c "$CONTENT_LENGTH")"; fi
"""
_APPLETS = ["sh", "httpd", "false", "true", "sleep", "echo", "cat", "head", "env", "ls"]


def _busybox_binary() -> Path:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    binary = CACHE_DIR / "busybox"
    if binary.exists():
        return binary
    debs = list(CACHE_DIR.glob("busybox-static_*.deb"))
    if not debs:
        subprocess.run(
            ["apt-get", "-o", "APT::Sandbox::User=root", "download", "busybox-static"],
            cwd=CACHE_DIR,
            check=True,
            capture_output=True,
        )
        debs = list(CACHE_DIR.glob("busybox-static_*.deb"))
    extract = CACHE_DIR / "x"
    subprocess.run(["dpkg", "-x", str(debs[0]), str(extract)], check=True)
    shutil.copy2(extract / "bin" / "busybox", binary)
    shutil.rmtree(extract, ignore_errors=True)
    return binary


def _rootfs_tar() -> bytes:
    buf = io.BytesIO()
    busybox = _busybox_binary().read_bytes()

    def add(name: str, data: bytes = b"", mode: int = 0o644, kind: bytes = tarfile.REGTYPE, link: str = ""):
        info = tarfile.TarInfo(name)
        info.mode, info.type, info.linkname = mode, kind, link
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "tmp", "www", "www/cgi-bin"):
            add(d, mode=0o1777 if d == "tmp" else 0o755, kind=tarfile.DIRTYPE)
        add("bin/busybox", busybox, 0o755)
        for applet in _APPLETS:
            add(f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox")
        add("etc/passwd", b"root:x:0:0:root:/:/bin/sh\n")
        add("www/index.html", b"hello from the test image\n")
        add("www/healthz", b"ok\n")
        add("www/cgi-bin/version", _VERSION_CGI.encode(), 0o755)
    return buf.getvalue()


def _start_private_engine(root: Path) -> tuple[str, subprocess.Popen]:
    if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode != 0:
        subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", BRIDGE_ADDR, "dev", BRIDGE], check=True)
    subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True)
    sock = root / "docker.sock"
    log = open(root / "dockerd.log", "wb")
    proc = subprocess.Popen(
        [
            "dockerd",
            "-H",
            f"unix://{sock}",
            "--data-root",
            str(root / "data"),
            "--exec-root",
            str(root / "exec"),
            "--pidfile",
            str(root / "dockerd.pid"),
            "--iptables=false",
            "--ip-masq=false",
            "--bridge",
            BRIDGE,
            "--storage-driver",
            "overlay2",
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    import docker

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((root / "dockerd.log").read_text()[-2000:])
        if sock.exists():
            try:
                if docker.DockerClient(base_url=f"unix://{sock}", timeout=2).ping():
                    return f"unix://{sock}", proc
            except Exception:
                pass
        time.sleep(0.1)
    raise RuntimeError("private dockerd did not answer in 20 s")


# Each test module that imports these fixtures gets its own "session" fixture instance, so the engine
# itself is a process-wide singleton with a user count: started once, stopped when the last user ends.
_ENGINE: dict[str, object] = {}


@pytest.fixture(scope="session")
def rt_docker_host() -> Iterator[str]:
    if os.environ.get("GENAIOPS_TEST_DOCKER_HOST"):
        yield os.environ["GENAIOPS_TEST_DOCKER_HOST"]
        return
    if not shutil.which("dockerd"):
        pytest.skip("no dockerd installed")
    if not _ENGINE:
        root = Path(tempfile.mkdtemp(prefix="gops-rt-", dir="/tmp"))  # short: unix sockets ≤ 108 bytes
        host, proc = _start_private_engine(root)
        _ENGINE.update(host=host, proc=proc, root=root, users=0)
    _ENGINE["users"] = int(_ENGINE["users"]) + 1  # type: ignore[call-overload]
    try:
        yield str(_ENGINE["host"])
    finally:
        _ENGINE["users"] = int(_ENGINE["users"]) - 1  # type: ignore[call-overload]
        if _ENGINE["users"] == 0:
            _stop_private_engine(_ENGINE["proc"], _ENGINE["root"])  # type: ignore[arg-type]
            _ENGINE.clear()


def _stop_private_engine(proc: subprocess.Popen, root: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def rt_docker(rt_docker_host):
    import docker

    client = docker.DockerClient(base_url=rt_docker_host, timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="session")
def rt_image(rt_docker) -> str:
    """The busybox test image, imported once per engine."""
    try:
        rt_docker.images.get(TEST_IMAGE)
    except Exception:
        repo, tag = TEST_IMAGE.rsplit(":", 1)
        rt_docker.api.import_image_from_data(
            _rootfs_tar(),
            repository=repo,
            tag=tag,
            changes=['CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]', "EXPOSE 8080"],
        )
    return TEST_IMAGE


class NoFleet:
    """Stands for S2's RegistryFleet where no registry auth is involved (local images only)."""

    def mint_refresh_token(self, name: str) -> str:
        raise LookupError(name)

    def by_login_server(self, login_server: str) -> str | None:
        return None


@pytest.fixture
def rt_state(tmp_path) -> dict[str, Path]:
    state = tmp_path / "state"
    tls = tmp_path / "tls"
    state.mkdir()
    tls.mkdir()
    return {"state_dir": state, "tls_dir": tls}
