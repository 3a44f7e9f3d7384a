"""Fixtures for the ARM endpoint tests: the real ARM server in-process on a temp state dir, the real
azure-identity credential against its token endpoint, the real management SDK clients, and small
fakes for OUR runtime and registry-fleet seams (not SDKs: these are the project's own interfaces).

Every request/response is validated against the Azure specs; a test fails on any violation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from genaiops_sandbox.arm import ArmEndpoint, start_arm
from genaiops_sandbox.faults import FaultTable
from genaiops_sandbox.runtime_api import (
    AppRoutes,
    JobExecutionSpec,
    JobExecutionStatus,
    ReplicaStatus,
    RevisionSpec,
    RevisionStatus,
)
from tests.conftest import maybe_spec_validator


class FakeRuntime:
    """Revisions report Provisioning on the first status poll after start, then Running/Healthy;
    an image containing "crash" fails with a reason. Job executions run for one poll, then succeed
    (or fail when the image contains "crash")."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.revisions: dict[str, RevisionSpec] = {}
        self.polls: dict[str, int] = {}
        self.stopped: set[str] = set()
        self.restarts: list[str] = []
        self.routes: dict[str, AppRoutes] = {}
        self.executions: dict[str, JobExecutionSpec] = {}
        self.exec_polls: dict[str, int] = {}
        self.removed: list[str] = []
        self.removed_in: list[tuple[str, str | None]] = []  # (app, environment domain)
        self.crash_restarts: dict[str, int] = {}  # revision → platform restarts after crashes

    def ensure_revision(self, spec: RevisionSpec) -> None:
        with self.lock:
            if spec.revision not in self.revisions or spec.revision in self.stopped:
                self.polls[spec.revision] = 0
            self.revisions[spec.revision] = spec
            self.stopped.discard(spec.revision)

    def stop_revision(self, revision: str, default_domain: str | None = None) -> None:
        with self.lock:
            self.stopped.add(revision)

    def restart_revision(self, revision: str, default_domain: str | None = None) -> None:
        with self.lock:
            self.restarts.append(revision)
            self.polls[revision] = 0

    def revision_status(self, revision: str, default_domain: str | None = None) -> RevisionStatus:
        with self.lock:
            spec = self.revisions.get(revision)
            if spec is None or revision in self.stopped:
                return RevisionStatus("Stopped", "None", "Deprovisioned")
            if spec.failure:  # the platform could not start it (e.g. a Key Vault secret unreadable)
                return RevisionStatus("Failed", "Unhealthy", "Failed", spec.failure)
            if any("crash" in c.image for c in spec.containers):
                return RevisionStatus("Failed", "Unhealthy", "Failed", "container 'main' exited with code 3")
            self.polls[revision] = self.polls.get(revision, 0) + 1
            if self.polls[revision] <= 1:
                return RevisionStatus("Processing", "None", "Provisioning")
            return RevisionStatus("Running", "Healthy", "Provisioned")

    def revision_replicas(self, revision: str, default_domain: str | None = None) -> list[ReplicaStatus]:
        status = self.revision_status(revision, default_domain)
        if status.running_state == "Stopped":
            return []
        ready = status.running_state == "Running"
        return [
            ReplicaStatus(
                name=f"{revision}-5d8f9c7b6-abcde",
                created_time="2026-01-01T00:00:00Z",
                running=ready,
                ready=ready,
                restart_count=self.crash_restarts.get(revision, 0),
                container="main",
                container_id="0" * 64,
                details=None if ready else status.reason,
            )
        ]

    def set_routes(self, routes: AppRoutes) -> None:
        with self.lock:
            self.routes[routes.app] = routes

    def remove_app(self, app: str, default_domain: str | None = None) -> None:
        with self.lock:
            self.removed.append(app)
            self.removed_in.append((app, default_domain))
            self.routes.pop(app, None)

    def start_job_execution(self, spec: JobExecutionSpec) -> None:
        with self.lock:
            self.executions[spec.execution] = spec
            self.exec_polls[spec.execution] = 0

    def job_execution_status(self, execution: str) -> JobExecutionStatus:
        with self.lock:
            spec = self.executions[execution]
            self.exec_polls[execution] += 1
            if self.exec_polls[execution] <= 1:
                return JobExecutionStatus("Running", start_time="2026-01-01T00:00:00Z")
            if any("crash" in c.image for c in spec.containers):
                return JobExecutionStatus(
                    "Failed", "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z", "exit code 3"
                )
            return JobExecutionStatus("Succeeded", "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z")

    def stop_job_execution(self, execution: str) -> None:
        with self.lock:
            self.exec_polls[execution] = 99


@dataclass(frozen=True)
class FakeEndpoint:
    name: str
    login_server: str
    backend_url: str


class FakeImportError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FakeFleet:
    """Registry fleet seam: login servers are made-up loopback ports; images are a dict
    (login_server, "repo:tag") → digest so import semantics (Force/NoForce, missing source) can be tested."""

    def __init__(self) -> None:
        self.endpoints: dict[str, FakeEndpoint] = {}
        self.images: dict[tuple[str, str], str] = {}
        self.imports: list[dict[str, Any]] = []
        self.deleted: list[str] = []

    def ensure(self, name: str) -> FakeEndpoint:
        if name not in self.endpoints:
            port = 15000 + len(self.endpoints)
            self.endpoints[name] = FakeEndpoint(name, f"127.0.0.1:{port}", f"https://127.0.0.1:{port + 500}")
        return self.endpoints[name]

    def get(self, name: str) -> FakeEndpoint | None:
        return self.endpoints.get(name)

    def delete(self, name: str) -> None:
        self.deleted.append(name)
        self.endpoints.pop(name, None)

    def close(self) -> None:
        pass

    def import_image(
        self, target: str, source_login_server: str, source_image: str, target_tags: list[str], force: bool
    ) -> str:
        self.imports.append(
            {
                "target": target,
                "source": source_login_server,
                "image": source_image,
                "tags": target_tags,
                "force": force,
            }
        )
        digest = self.images.get((source_login_server, source_image))
        if digest is None:
            raise FakeImportError("ImageNotFound", f"Image {source_image} not found in {source_login_server}")
        login = self.endpoints[target].login_server
        for tag in target_tags:
            if not force and (login, tag) in self.images and self.images[(login, tag)] != digest:
                raise FakeImportError("TagAlreadyExists", f"Tag {tag} already exists in {target}")
        for tag in target_tags:
            self.images[(login, tag)] = digest
        return digest


@dataclass
class ArmEnv:
    endpoint: ArmEndpoint
    runtime: FakeRuntime
    fleet: FakeFleet
    faults: FaultTable
    state_dir: Path
    violations: Path

    @property
    def url(self) -> str:
        return self.endpoint.url

    @property
    def ca(self) -> str:
        return str(self.endpoint.ca_bundle)

    @property
    def subscription_id(self) -> str:
        return self.endpoint.credentials.subscription_id

    def credential(self) -> Any:
        from azure.identity import ClientSecretCredential

        creds = self.endpoint.credentials
        return ClientSecretCredential(
            creds.tenant_id,
            creds.client_id,
            creds.secret(),
            authority=self.url,
            disable_instance_discovery=True,
            connection_verify=self.ca,
        )

    def apps_client(self, **kwargs: Any) -> Any:
        from azure.mgmt.appcontainers import ContainerAppsAPIClient

        return ContainerAppsAPIClient(
            self.credential(),
            self.subscription_id,
            base_url=self.url,
            connection_verify=self.ca,
            polling_interval=0,
            **kwargs,
        )

    def acr_client(self, **kwargs: Any) -> Any:
        from azure.mgmt.containerregistry import ContainerRegistryManagementClient

        return ContainerRegistryManagementClient(
            self.credential(),
            self.subscription_id,
            base_url=self.url,
            connection_verify=self.ca,
            polling_interval=0,
            **kwargs,
        )

    def recorded_violations(self) -> list[dict[str, Any]]:
        if not self.violations.exists():
            return []
        return [json.loads(line) for line in self.violations.read_text().splitlines() if line.strip()]


def start_env(tmp: Path, retry_after: int = 0) -> ArmEnv:
    state = tmp / "state"
    runtime, fleet, faults = FakeRuntime(), FakeFleet(), FaultTable()
    violations = tmp / "violations.jsonl"
    endpoint = start_arm(
        state,
        state / "tls",
        runtime=runtime,
        fleet=fleet,
        faults=faults,
        retry_after=retry_after,
        validator=maybe_spec_validator(),
        validation_log=violations,
    )
    return ArmEnv(endpoint, runtime, fleet, faults, state, violations)


@pytest.fixture
def arm_env(tmp_path: Path) -> Iterator[ArmEnv]:
    env = start_env(tmp_path)
    try:
        yield env
    finally:
        env.endpoint.close()
    found = env.recorded_violations()
    assert not found, "spec violations:\n" + "\n".join(json.dumps(v) for v in found)


def create_rg(env: ArmEnv, name: str = "rg-test", location: str = "eastus2") -> None:
    """Resource groups via raw HTTPS (azure-mgmt-resource's ResourceManagementClient works the same,
    but importing it costs time and nothing here depends on it)."""
    import ssl
    import urllib.request

    token = env.credential().get_token("https://management.azure.com/.default").token
    req = urllib.request.Request(
        f"{env.url}/subscriptions/{env.subscription_id}/resourcegroups/{name}?api-version=2024-11-01",
        data=json.dumps({"location": location}).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, context=ssl.create_default_context(cafile=env.ca)) as resp:
        assert resp.status in (200, 201)
