"""Which Docker engine to talk to, and a low-level client for it."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

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
