"""Which Docker engine to talk to, and a low-level client for it."""

from __future__ import annotations

import http.client
import json
import os
import socket
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from genaiops_cli.errors import BuildError

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


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class EngineUnreachable(Exception):
    """The plain-HTTP path could not get an answer; the caller falls back to docker-py."""


def engine_get_json(path: str, timeout: float = 10.0) -> tuple[int, Any]:
    """One GET against the engine API without docker-py (whose import alone costs ~0.1 s): for the
    read-only probes of a no-op build. Only plain unix:// and tcp:// (no TLS) engines; anything else
    (TLS, ssh://, npipe://) raises EngineUnreachable so the caller uses docker-py."""
    url = engine_url()
    if url.startswith("unix://"):
        conn: http.client.HTTPConnection = _UnixHTTPConnection(url[len("unix://") :], timeout)
    elif url.startswith(("tcp://", "http://")) and not os.environ.get("DOCKER_TLS_VERIFY"):
        host_port = url.split("://", 1)[1].rstrip("/")
        conn = http.client.HTTPConnection(host_port, timeout=timeout)
    else:
        raise EngineUnreachable(url)
    try:
        conn.request("GET", path, headers={"Host": "docker"})
        response = conn.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise EngineUnreachable(str(exc)) from exc
    finally:
        conn.close()
    try:
        return response.status, json.loads(body) if body else None
    except ValueError:
        return response.status, None
