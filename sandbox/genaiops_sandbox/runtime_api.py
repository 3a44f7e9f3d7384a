"""The seam between the ARM emulation (which decides *what* runs) and the runtime (which runs it
as real containers on the Docker engine and routes traffic to them).

arm/ calls a Runtime; runtime.py implements it over docker; router.py serves the ingress.
Kept as plain dataclasses so arm/ never imports docker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str  # as written in the template: "<loginServer>/<repo>@sha256:…" or ":tag"
    env: dict[str, str] = field(default_factory=dict)
    command: list[str] | None = None
    args: list[str] | None = None
    cpu: float | None = None
    memory: str | None = None  # "1Gi"
    # readiness/liveness probes from the template: {"type": "Readiness", "httpGet": {"path", "port"}, ...}
    probes: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class RevisionSpec:
    app: str  # container app name
    revision: str  # full revision name "<app>--<suffix>"
    resource_group: str
    default_domain: str  # of the managed / connected environment
    containers: list[ContainerSpec]
    target_port: int | None  # ingress.targetPort; None = no ingress
    # Why the platform cannot start it at all (e.g. a Key Vault secret it cannot read): the revision
    # goes straight to Failed with this reason and no container is created.
    failure: str | None = None


@dataclass(frozen=True)
class RevisionStatus:
    running_state: (
        str  # Azure RevisionRunningState: Running | Processing | Stopped | Degraded | Failed | Unknown
    )
    health_state: str  # Healthy | Unhealthy | None
    provisioning_state: str  # Provisioning | Provisioned | Failed | Deprovisioning | Deprovisioned
    reason: str | None = None  # why Failed/Unhealthy (exit code, last log lines)


@dataclass(frozen=True)
class ReplicaStatus:
    """One replica of a revision as Azure's Replicas API shows it (the stand-in runs one)."""

    name: str
    created_time: str | None
    running: bool
    ready: bool
    restart_count: int
    container: str  # the template's container name
    container_id: str | None
    details: str | None = None


@dataclass(frozen=True)
class TrafficRoute:
    revision: str
    weight: int
    label: str | None = None


@dataclass(frozen=True)
class AppRoutes:
    """Everything the router needs for one app: `<app>.<domain>` picks by weight,
    `<app>---<label>.<domain>` goes to the labelled revision, `<revision>.<domain>` to that revision."""

    app: str
    default_domain: str
    traffic: list[TrafficRoute]
    revisions: list[str]  # active revisions reachable by their own FQDN


@dataclass(frozen=True)
class JobExecutionSpec:
    job: str
    execution: str  # execution name
    resource_group: str
    containers: list[ContainerSpec]
    timeout_seconds: int = 1800


@dataclass(frozen=True)
class JobExecutionStatus:
    status: str  # Running | Processing | Stopped | Degraded | Failed | Unknown | Succeeded
    start_time: str | None = None  # ISO 8601
    end_time: str | None = None
    reason: str | None = None


class Runtime(Protocol):
    def ensure_revision(self, spec: RevisionSpec) -> None:
        """Start the revision's container(s) if not running. Idempotent; returns at once."""

    def stop_revision(self, revision: str) -> None: ...

    def restart_revision(self, revision: str) -> None: ...

    def revision_status(self, revision: str) -> RevisionStatus: ...

    def set_routes(self, routes: AppRoutes) -> None: ...

    def remove_app(self, app: str, default_domain: str | None = None) -> None: ...

    def start_job_execution(self, spec: JobExecutionSpec) -> None: ...

    def job_execution_status(self, execution: str) -> JobExecutionStatus: ...

    def stop_job_execution(self, execution: str) -> None: ...
