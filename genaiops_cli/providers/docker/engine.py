"""Which Docker engine to talk to, and a low-level client for it."""

from __future__ import annotations

import json
import os
import socket
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker

DEFAULT_SOCKET = "/var/run/docker.sock"


def engine_url() -> str:
    """DOCKER_HOST, else the default socket, else the engine the local stand-in runs."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    if os.path.exists(DEFAULT_SOCKET):
        return f"unix://{DEFAULT_SOCKET}"
    from genaiops_cli.core.sandbox_profile import SandboxProfile

    profile = SandboxProfile.load()
    if profile and profile.docker_host:
        return profile.docker_host
    return f"unix://{DEFAULT_SOCKET}"


@lru_cache(maxsize=4)
def api_client(url: str | None = None) -> docker.APIClient:
    import docker

    from genaiops_cli.errors import BuildError  # here: the no-op fast path imports this module

    base_url = url or engine_url()
    try:
        client = docker.APIClient(base_url=base_url, version="auto", timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        raise BuildError(
            f"no Docker engine answers at {base_url}",
            hint="start Docker (or `genaiops sandbox up`, which starts one as root), or set DOCKER_HOST",
        ) from exc
    return client


class EngineUnreachable(Exception):
    """The plain-HTTP path could not get an answer; the caller falls back to docker-py."""


def _dial(url: str, timeout: float) -> socket.socket:
    if url.startswith("unix://"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(url[len("unix://") :])
        except OSError:
            sock.close()
            raise
        return sock
    host, _, port = url.split("://", 1)[1].rstrip("/").rpartition(":")
    return socket.create_connection((host or "localhost", int(port or 2375)), timeout=timeout)


def engine_get_json(path: str, timeout: float = 10.0) -> tuple[int, Any]:
    """One GET against the engine API without docker-py (whose import alone costs ~0.1 s) and without
    http.client (which brings ssl and email, ~25 ms more): for the read-only probes of a no-op build.
    An HTTP/1.0 request, so the engine answers with a plain body and closes; the status line and the
    body are all that is read. Only plain unix:// and tcp:// (no TLS) engines; anything else (TLS,
    ssh://, npipe://) raises EngineUnreachable so the caller uses docker-py."""
    url = engine_url()
    plain_tcp = url.startswith(("tcp://", "http://")) and not os.environ.get("DOCKER_TLS_VERIFY")
    if not (url.startswith("unix://") or plain_tcp):
        raise EngineUnreachable(url)
    request = f"GET {path} HTTP/1.0\r\nHost: docker\r\nUser-Agent: genaiops\r\n\r\n".encode()
    chunks: list[bytes] = []
    try:
        with _dial(url, timeout) as sock:
            sock.sendall(request)
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except (OSError, ValueError) as exc:
        raise EngineUnreachable(str(exc)) from exc
    head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if (
        not sep
        or len(status_line) < 2
        or not status_line[0].startswith(b"HTTP/")
        or not status_line[1].isdigit()
    ):
        raise EngineUnreachable(f"not an HTTP answer from {url}")
    if b"transfer-encoding: chunked" in head.lower():
        raise EngineUnreachable("chunked answer to an HTTP/1.0 request")
    try:
        return int(status_line[1]), json.loads(body) if body else None
    except ValueError:
        return int(status_line[1]), None
