"""Fixtures for the registry / ACR front tests: a real Docker engine (engine.py: a reachable one, else
a private dockerd started and stopped by pid) and a RegistryFleet running in-process on a temp state
dir with two registries. Import explicitly: `from conftest_registry import ...`.

Until tests/conftest.py has shared session fixtures these are session-scoped here."""

from __future__ import annotations

import io
import os
import secrets
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from genaiops_sandbox.acr_front import ACR_USER
from genaiops_sandbox.engine import ensure_engine, stop_engine
from genaiops_sandbox.registry import RegistryEndpoint, RegistryFleet
from genaiops_sandbox.tokens import TokenIssuer

ACR_AUDIENCE = "https://containerregistry.azure.net"


class IssuerCredential:
    """A minimal azure-core TokenCredential over the stand-in's TokenIssuer: the token an Entra
    endpoint would hand out for the requested scope's audience."""

    def __init__(self, tokens: TokenIssuer, subject: str = "test-principal") -> None:
        self.tokens = tokens
        self.subject = subject

    def get_token(self, *scopes: str, **_: Any) -> Any:
        from azure.core.credentials import AccessToken

        audience = scopes[0].removesuffix("/.default") if scopes else ACR_AUDIENCE
        token, expires_on = self.tokens.issue({"aud": audience, "sub": self.subject, "oid": self.subject})
        return AccessToken(token, expires_on)


@dataclass
class FleetEnv:
    state_dir: Path
    tokens: TokenIssuer
    fleet: RegistryFleet
    ca: Path
    docker_host: str
    src: RegistryEndpoint
    dst: RegistryEndpoint
    start_seconds: float

    def credential(self) -> IssuerCredential:
        return IssuerCredential(self.tokens)

    def acr_client(self, endpoint: RegistryEndpoint) -> Any:
        from azure.containerregistry import ContainerRegistryClient

        return ContainerRegistryClient(
            endpoint=f"https://{endpoint.login_server}",
            credential=self.credential(),
            audience=ACR_AUDIENCE,
            connection_verify=str(self.ca),
        )

    def docker(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.docker_host, timeout=120)

    def docker_login(self, client: Any, endpoint: RegistryEndpoint) -> None:
        client.login(
            username=ACR_USER,
            password=self.fleet.mint_refresh_token(endpoint.name, subject="test-docker"),
            registry=endpoint.login_server,
            reauth=True,
        )


@pytest.fixture(scope="session")
def engine_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    explicit = os.environ.get("GENAIOPS_TEST_DOCKER_HOST")
    if explicit:
        yield explicit
        return
    state = tmp_path_factory.mktemp("engine")
    info = ensure_engine(state)
    yield info.docker_host
    if info.started_by_us:
        stop_engine(state)


@pytest.fixture(scope="session")
def fleet_env(tmp_path_factory: pytest.TempPathFactory, engine_host: str) -> Iterator[FleetEnv]:
    state = tmp_path_factory.mktemp("registry-state")
    tokens = TokenIssuer(state)
    fleet = RegistryFleet(state, tokens, state / "tls")
    started = time.perf_counter()
    src = fleet.ensure("src")
    start_seconds = time.perf_counter() - started
    dst = fleet.ensure("dst")
    try:
        yield FleetEnv(state, tokens, fleet, state / "tls" / "ca.pem", engine_host, src, dst, start_seconds)
    finally:
        fleet.close()


def tiny_rootfs_tar(payload: bytes | None = None) -> bytes:
    """A one-file root filesystem: enough for an image to push and pull, unique per call."""
    payload = payload if payload is not None else secrets.token_bytes(2048)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("payload.bin")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def import_tiny_image(docker_client: Any, repository: str, tag: str) -> str:
    """`docker import` of a tiny tarball; returns the image id."""
    result = docker_client.api.import_image_from_data(tiny_rootfs_tar(), repository=repository, tag=tag)
    assert "error" not in str(result).lower(), result
    return docker_client.images.get(f"{repository}:{tag}").id


def push(docker_client: Any, repository: str, tag: str) -> list[dict[str, Any]]:
    """Push and return the event stream; failures arrive as an `error` event inside a 200 stream."""
    return list(docker_client.api.push(repository, tag=tag, stream=True, decode=True))


def push_error(events: list[dict[str, Any]]) -> str | None:
    for event in events:
        if "error" in event:
            return str(event["error"])
    return None


def pushed_digest(events: list[dict[str, Any]]) -> str | None:
    for event in events:
        aux = event.get("aux") or {}
        if aux.get("Digest"):
            return str(aux["Digest"])
    return None
