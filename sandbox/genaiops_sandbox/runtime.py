"""The stand-in's container runtime: every active revision and every job execution is a real
container on a Docker engine. Implements runtime_api.Runtime; only the daemon imports this module
(docker-py is imported here, never on a command's path).

Truth lives in the engine, not in memory: containers are named `gops-<revision>` /
`gops-job-<execution>` and labelled, so a new DockerRuntime (daemon restart) adopts them and derives
their state again. Memory only caches what a container cannot tell (readiness verdicts, why a job
was stopped). The app routes are the one thing written to the state dir, so the router answers
right after a restart, before ARM re-sends them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

from genaiops_sandbox.job_executions import L_REPLICA, Execution, ExecutionSupervisor, derived_status
from genaiops_sandbox.runtime_api import (
    AppRoutes,
    ContainerSpec,
    JobExecutionSpec,
    JobExecutionStatus,
    ManagedIdentity,
    ReplicaStatus,
    RevisionSpec,
    RevisionStatus,
    TrafficRoute,
)

log = logging.getLogger("genaiops.sandbox.runtime")

LABEL = "genaiops.sandbox"
L_KIND, L_APP, L_REV, L_RG, L_DOMAIN = (
    "genaiops.kind",
    "genaiops.app",
    "genaiops.revision",
    "genaiops.resource-group",
    "genaiops.domain",
)
L_PORT, L_PROBE, L_JOB, L_EXEC, L_TIMEOUT = (
    "genaiops.target-port",
    "genaiops.probe",
    "genaiops.job",
    "genaiops.execution",
    "genaiops.timeout",
)
# Which stand-in owns a container: two stand-ins (two state dirs) may share one engine, and neither
# may adopt, route to or remove the other's containers.
L_INSTANCE = "genaiops.instance"
# Host reasons a container start fails for (a published port someone else took between our pick and
# docker's bind); the start is retried with fresh ports.
HOST_FAILURES = ("address already in use", "port is already allocated", "bind for")
START_ATTEMPTS = 5
# Crashed containers of a ready revision are restarted like Azure's replicas (Kubernetes
# CrashLoopBackOff): after 1 s, then doubling up to this cap.
RESTART_BACKOFF_CAP = 60.0
ACR_USER = "00000000-0000-0000-0000-000000000000"  # ACR's user name for refresh-token logins
DEFAULT_READY_TIMEOUT = 120.0
# SIGTERM → SIGKILL grace on restart/stop. Azure's default is 30 s; a PID 1 that ignores SIGTERM
# (most images without an init) would make every sandbox restart that slow.
DEFAULT_STOP_GRACE = 2
LOG_TAIL = 20
TRUST_MOUNT = "/etc/genaiops-sandbox/ca-bundle.pem"  # the stand-in CA + public roots, in every container
IDENTITY_HOST = "host.docker.internal"

# phases of a revision as this runtime sees it
PROVISIONING, READY, FAILED, STOPPED, RESTARTING = "provisioning", "ready", "failed", "stopped", "restarting"


def instance_id(state_dir: Path) -> str:
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]


def revision_container_name(revision: str, domain: str, instance: str) -> str:
    """Unique per stand-in and environment: same-named apps in two resource groups (or two
    stand-ins) have same-named revisions."""
    scope = hashlib.sha256(f"{instance}/{domain.lower()}".encode()).hexdigest()[:8]
    return f"gops-{revision}-{scope}"


def job_container_name(execution: str, instance: str) -> str:
    return f"gops-job-{instance}-{execution}"


def _key(revision: str, domain: str) -> str:
    return f"{revision.lower()}@{domain.lower()}"


def free_port() -> int:
    """A loopback port nothing listens on now (docker is then asked for exactly that one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_host_failure(exc: Exception) -> bool:
    text = _explain(exc).lower()
    return any(marker in text for marker in HOST_FAILURES)


def _route_key(app: str, domain: str) -> str:
    # Container app names are unique per resource group only: the environment domain tells apart
    # `contoso-agent` in staging from `contoso-agent` in prod.
    return f"{app}@{domain}"


@dataclass
class _Revision:
    revision: str
    app: str
    resource_group: str
    domain: str
    target_port: int | None
    probe: dict | None  # {"path": str | None, "port": int, "timeout": float}
    spec: RevisionSpec | None = None  # None when adopted after a restart
    phase: str = PROVISIONING
    reason: str | None = None
    container_id: str | None = None
    ports: dict[int, int] = field(default_factory=dict)  # container port → 127.0.0.1 port
    generation: int = 0  # bumps on restart/stop so a stale readiness thread stops caring
    container_name: str = ""
    restarts: int = 0  # platform restarts after crashes (Azure: the replica's restartCount)
    backoff: float = 1.0
    replica_name: str = ""

    @property
    def key(self) -> str:
        return _key(self.revision, self.domain)


# ---------------------------------------------------------------- small pure helpers


def parse_memory(text: str | None) -> int | None:
    """Azure's "0.5Gi" / "512Mi" / "1G" → bytes."""
    if not text:
        return None
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]i?)?B?\s*", text, re.IGNORECASE)
    if not m:
        return None
    unit = (m.group(2) or "").lower()
    scale = {
        "": 1,
        "k": 10**3,
        "m": 10**6,
        "g": 10**9,
        "t": 10**12,
        "ki": 2**10,
        "mi": 2**20,
        "gi": 2**30,
        "ti": 2**40,
    }[unit]
    return int(float(m.group(1)) * scale)


def login_server_of(image: str) -> str | None:
    """The registry part of an image reference, as docker decides it (None = Docker Hub)."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def readiness_probe(container: ContainerSpec, target_port: int | None, default_timeout: float) -> dict | None:
    """What "ready" means: the template's Readiness (or Startup) httpGet/tcpSocket probe, else a TCP
    connect to the ingress target port, else nothing (ready once running)."""
    for probe in container.probes:
        if probe.get("type", "").lower() not in ("readiness", "startup"):
            continue
        timeout = default_timeout
        if "failureThreshold" in probe or "periodSeconds" in probe or "initialDelaySeconds" in probe:
            timeout = float(probe.get("initialDelaySeconds", 0)) + float(
                probe.get("periodSeconds", 10)
            ) * float(probe.get("failureThreshold", 3))
            timeout = max(timeout, 5.0)
        if "httpGet" in probe:
            get = probe["httpGet"]
            return {
                "path": get.get("path") or "/",
                "port": int(get.get("port") or target_port or 80),
                "scheme": (get.get("scheme") or "HTTP").lower(),
                "timeout": timeout,
            }
        if "tcpSocket" in probe:
            return {
                "path": None,
                "port": int(probe["tcpSocket"].get("port") or target_port),
                "timeout": timeout,
            }
    if target_port:
        return {"path": None, "port": int(target_port), "timeout": default_timeout}
    return None


def _iso(docker_time: str | None) -> str | None:
    """Docker's nanosecond RFC 3339 → ISO 8601 with microseconds; its zero time → None."""
    if not docker_time or docker_time.startswith("0001-"):
        return None
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", docker_time)
    if not m:
        return docker_time
    frac = (m.group(2) or ".0")[1:7].ljust(6, "0")
    tz = m.group(3) or "Z"
    return f"{m.group(1)}.{frac}{'+00:00' if tz == 'Z' else tz}"


def probe_once(port: int, path: str | None, host_header: str, scheme: str = "http") -> bool:
    """One readiness check against 127.0.0.1:port (a docker-published port)."""
    if path is None:
        # docker-proxy accepts every connection and resets it if the app does not listen yet, so a
        # bare connect proves nothing: wait briefly and count an early close as "not listening".
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                sock.settimeout(0.3)
                try:
                    return sock.recv(1) != b""
                except TimeoutError:
                    return True  # still open: something accepted it behind the proxy
        except OSError:
            return False
    import http.client

    conn: http.client.HTTPConnection
    if scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False  # the app's own cert is not ours to judge; Azure's probe doesn't
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=2.0, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2.0)
    try:
        conn.request("GET", path, headers={"Host": host_header, "User-Agent": "genaiops-sandbox-probe"})
        resp = conn.getresponse()
        resp.read()
        return 200 <= resp.status < 400
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


# ---------------------------------------------------------------- the runtime


class DockerRuntime:
    def __init__(
        self,
        state_dir: Path,
        tokens: Any,
        fleet: Any,
        tls_dir: Path,
        docker_host: str | None = None,
        *,
        ready_timeout: float = DEFAULT_READY_TIMEOUT,
        stop_grace: int = DEFAULT_STOP_GRACE,
        identity: Any = None,
    ) -> None:
        self._state_dir = state_dir / "runtime"
        self._instance = instance_id(state_dir)
        self._state_dir.mkdir(parents=True, exist_ok=True)
        self._tokens = tokens
        self._fleet = fleet
        self._tls_dir = tls_dir
        self._bundle: Path | None = None  # the CA bundle mounted into containers (_trust_bundle)
        self._bundle_lock = threading.Lock()  # revisions start on threads of their own
        self._ready_timeout = ready_timeout
        self._stop_grace = stop_grace
        self._client = (
            docker.DockerClient(base_url=docker_host, timeout=120)
            if docker_host
            else docker.from_env(timeout=120)
        )
        self._lock = threading.RLock()
        self._revisions: dict[str, _Revision] = {}
        self._routes: dict[str, AppRoutes] = self._load_routes()
        self._executions: dict[str, ExecutionSupervisor] = {}  # started by this daemon
        self._identity = identity
        self._pulls: dict[str, threading.Lock] = {}
        self._closed = threading.Event()
        self._listeners: list[Callable[[], None]] = []
        self._adopt()
        self._watcher = threading.Thread(target=self._watch_events, name="runtime-events", daemon=True)
        self._watcher.start()

    # ------------------------------------------------------------ revisions

    def ensure_revision(self, spec: RevisionSpec) -> None:
        if not spec.containers:
            raise ValueError(f"revision {spec.revision} has no containers")
        key = _key(spec.revision, spec.default_domain)
        with self._lock:
            rev = self._revisions.get(key)
            if rev and rev.phase != STOPPED:
                rev.spec = rev.spec or spec
                return  # idempotent: running, starting, or failed (a failed revision stays failed)
            probe = readiness_probe(spec.containers[0], spec.target_port, self._ready_timeout)
            rev = _Revision(
                revision=spec.revision,
                app=spec.app,
                resource_group=spec.resource_group,
                domain=spec.default_domain,
                target_port=spec.target_port,
                probe=probe,
                spec=spec,
                generation=(rev.generation + 1) if rev else 0,
                container_name=revision_container_name(spec.revision, spec.default_domain, self._instance),
            )
            self._revisions[key] = rev
            gen = rev.generation
            if spec.failure:
                rev.phase, rev.reason = FAILED, spec.failure
        if spec.failure:
            log.info("revision %s failed before start: %s", spec.revision, spec.failure.splitlines()[0])
            self._notify()
            return
        threading.Thread(
            target=self._guarded,
            args=(rev, gen, self._start_revision, rev, gen),
            name=f"start-{spec.revision}",
            daemon=True,
        ).start()

    def _find(self, revision: str, default_domain: str | None) -> _Revision | None:
        """The revision in that environment; without a domain, the only one of that name."""
        with self._lock:
            if default_domain is not None:
                return self._revisions.get(_key(revision, default_domain))
            found = [r for r in self._revisions.values() if r.revision.lower() == revision.lower()]
            return found[0] if len(found) == 1 else None

    def revision_status(self, revision: str, default_domain: str | None = None) -> RevisionStatus:
        rev = self._find(revision, default_domain)
        if rev is None or rev.phase == STOPPED:
            return RevisionStatus("Stopped", "None", "Deprovisioned", None)
        if rev.phase == READY:
            self._check_alive(rev)  # a crash after readiness must not read as Running
        if rev.phase == PROVISIONING:
            return RevisionStatus("Processing", "None", "Provisioning", None)
        if rev.phase == READY:
            return RevisionStatus("Running", "Healthy", "Provisioned", None)
        if rev.phase == RESTARTING:  # Azure: a replica in CrashLoopBackOff degrades the revision
            return RevisionStatus("Degraded", "Unhealthy", "Provisioned", rev.reason)
        return RevisionStatus("Failed", "Unhealthy", "Failed", rev.reason)

    def revision_restarts(self, revision: str, default_domain: str | None = None) -> int:
        rev = self._find(revision, default_domain)
        return rev.restarts if rev else 0

    def revision_replicas(self, revision: str, default_domain: str | None = None) -> list[ReplicaStatus]:
        """The revision's replica (one container) as Azure's Replicas API reports it."""
        rev = self._find(revision, default_domain)
        if rev is None or rev.phase == STOPPED:
            return []
        ctr = self._container(rev.container_name)
        if ctr is None:
            return []
        state = ctr.attrs.get("State", {})
        main = rev.spec.containers[0].name if rev.spec else rev.app
        return [
            ReplicaStatus(
                name=rev.replica_name or _env_of(ctr).get("CONTAINER_APP_REPLICA_NAME", rev.revision),
                created_time=_iso(ctr.attrs.get("Created")),
                running=bool(state.get("Running")),
                ready=rev.phase == READY,
                restart_count=rev.restarts,
                container=main,
                container_id=ctr.id,
                details=None if rev.phase == READY else (rev.reason or rev.phase),
            )
        ]

    def stop_revision(self, revision: str, default_domain: str | None = None) -> None:
        rev = self._find(revision, default_domain)
        if rev is None:
            return
        with self._lock:
            rev.phase, rev.reason, rev.ports = STOPPED, None, {}
            rev.generation += 1
        self._remove_container(rev.container_name)
        self._notify()

    def restart_revision(self, revision: str, default_domain: str | None = None) -> None:
        rev = self._find(revision, default_domain)
        if rev is None:
            raise KeyError(revision)
        if rev.phase == STOPPED or self._container(rev.container_name) is None:
            if rev.spec is None:
                raise KeyError(f"{revision}: no container and no spec to recreate it from")
            with self._lock:
                rev.phase = STOPPED
            self.ensure_revision(rev.spec)
            return
        with self._lock:
            rev.phase, rev.reason = PROVISIONING, None
            rev.generation += 1
            gen = rev.generation
        self._notify()

        def restart() -> None:
            try:
                ctr = self._client.containers.get(rev.container_name)
                ctr.restart(timeout=self._stop_grace)
                self._record_ports(rev, ctr)
                self._await_ready(rev, gen, ctr.id)
            except docker.errors.DockerException as exc:
                self._fail(rev, gen, f"restart failed: {exc}")

        threading.Thread(target=restart, name=f"restart-{revision}", daemon=True).start()

    def remove_app(self, app: str, default_domain: str | None = None) -> None:
        """Remove an app's revisions and routes; with `default_domain`, only in that environment
        (apps in different resource groups may share a name, as in Azure)."""
        with self._lock:
            keys = [
                k for k, r in self._revisions.items() if r.app == app and default_domain in (None, r.domain)
            ]
            for key in keys:
                gone = self._revisions.pop(key)
                gone.generation += 1  # a pending restart of it must not bring it back
            for key in [
                k
                for k, r in self._routes.items()
                if r.app == app and default_domain in (None, r.default_domain)
            ]:
                self._routes.pop(key, None)
            self._save_routes()
        extra = {L_APP: app} if default_domain is None else {L_APP: app, L_DOMAIN: default_domain}
        for ctr in self._labelled(kind="revision", extra=extra):
            self._remove_container(ctr.name)
        self._notify()

    def revision_endpoint(self, revision: str, default_domain: str | None = None) -> tuple[str, int] | None:
        """Where the router sends a request for `revision`: 127.0.0.1 and the published target port,
        only while the revision is ready."""
        rev = self._find(revision, default_domain)
        with self._lock:
            if rev is None or rev.phase != READY or rev.target_port is None:
                return None
            port = rev.ports.get(rev.target_port)
        return ("127.0.0.1", port) if port else None

    def revision_phase(self, revision: str, default_domain: str | None = None) -> str | None:
        rev = self._find(revision, default_domain)
        return rev.phase if rev else None

    # ------------------------------------------------------------ routes

    # ------------------------------------------------------------ job logs (the log stream reads these)

    def job_execution_replicas(self, execution: str) -> list[dict[str, Any]]:
        """The replicas (containers) an execution started, oldest first: {name, created, running,
        exit_code}. The replica name is the CONTAINER_APP_REPLICA_NAME the container was given."""
        out = []
        for ctr in self._labelled(kind="job", extra={L_EXEC: execution}):
            state = ctr.attrs.get("State", {})
            out.append(
                {
                    "name": _env_of(ctr).get("CONTAINER_APP_REPLICA_NAME") or ctr.name,
                    "created": _iso(ctr.attrs.get("Created")),
                    "running": bool(state.get("Running")),
                    "exit_code": None if state.get("Running") else state.get("ExitCode"),
                }
            )
        return sorted(out, key=lambda r: str(r["created"] or ""))

    def job_replica_logs(self, execution: str, replica: str, tail: int) -> list[tuple[str, str]] | None:
        """(timestamp, line) of one replica's console output (stdout and stderr, as the engine
        interleaved them), the last `tail` lines; None when there is no such replica."""
        for ctr in self._labelled(kind="job", extra={L_EXEC: execution}):
            if (_env_of(ctr).get("CONTAINER_APP_REPLICA_NAME") or ctr.name) != replica:
                continue
            raw = ctr.logs(stdout=True, stderr=True, timestamps=True, tail=tail).decode(errors="replace")
            lines = []
            for entry in raw.splitlines():
                stamp, _, text = entry.partition(" ")
                lines.append((stamp, text))
            return lines
        return None

    def set_routes(self, routes: AppRoutes) -> None:
        with self._lock:
            self._routes[_route_key(routes.app, routes.default_domain)] = routes
            self._save_routes()
        self._notify()

    def all_routes(self) -> list[AppRoutes]:
        with self._lock:
            return list(self._routes.values())

    def on_change(self, callback: Callable[[], None]) -> None:
        """Called (from any thread) after routes or revision readiness change; the router uses it
        to refresh its certificates and caches."""
        self._listeners.append(callback)

    # ------------------------------------------------------------ jobs

    def start_job_execution(self, spec: JobExecutionSpec) -> None:
        with self._lock:
            if spec.execution in self._executions or self._labelled(
                kind="job", extra={L_EXEC: spec.execution}
            ):
                return  # idempotent
            supervisor = ExecutionSupervisor(self, Execution(spec))
            self._executions[spec.execution] = supervisor
        supervisor.start()  # Running at once, even while its image is pulled

    def job_execution_status(self, execution: str) -> JobExecutionStatus:
        with self._lock:
            supervisor = self._executions.get(execution)
        if supervisor is not None:
            return supervisor.status()
        replicas = self._labelled(kind="job", extra={L_EXEC: execution})
        if not replicas:
            return JobExecutionStatus("Unknown", reason="no such execution on this engine")
        return derived_status(replicas, _exit_reason)

    def stop_job_execution(self, execution: str) -> None:
        with self._lock:
            supervisor = self._executions.get(execution)
        if supervisor is not None:
            supervisor.stop()
            return
        for ctr in self._labelled(kind="job", extra={L_EXEC: execution}):  # adopted after a restart
            if ctr.attrs.get("State", {}).get("Running"):
                try:
                    ctr.stop(timeout=self._stop_grace)
                except docker.errors.DockerException as exc:
                    log.warning("stopping job execution %s: %s", execution, exc)

    def job_replica_containers(self, execution: str) -> list[Any]:
        """The execution's replica containers, oldest first (for logs)."""
        return sorted(
            self._labelled(kind="job", extra={L_EXEC: execution}),
            key=lambda c: int(c.labels.get(L_REPLICA, "0")),
        )

    def remove_job(self, job: str) -> None:
        """Drop every execution container of `job` (the ARM job was deleted)."""
        for ctr in self._labelled(kind="job", extra={L_JOB: job}):
            self._remove_container(ctr.name)

    def _ca_file(self) -> Path | None:
        """The stand-in CA certificate (job replicas trust it), if this state dir has one."""
        path = self._tls_dir / "ca.pem"
        return path if path.exists() else None

    def _identity_env(self, identity: ManagedIdentity | None, owner: str) -> dict[str, str]:
        """IDENTITY_ENDPOINT/IDENTITY_HEADER for a container whose app or job has an identity."""
        if identity is None or self._identity is None:
            return {}
        return self._identity.env_for(identity, owner)

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Leave every container running (as Azure keeps apps up when a client goes away)."""
        self._closed.set()
        try:
            self._client.close()
        except Exception:  # closing during shutdown: nothing useful to do with an error
            pass

    def remove_all(self) -> None:
        """Remove every container this runtime family labelled (sandbox reset)."""
        for ctr in self._labelled():
            self._remove_container(ctr.name)
        with self._lock:
            self._revisions.clear()
            self._routes.clear()
            for supervisor in self._executions.values():
                supervisor.stop()
            self._executions.clear()
            self._save_routes()
        self._notify()

    # ------------------------------------------------------------ internals: revisions

    def _start_revision(self, rev: _Revision, gen: int) -> None:
        spec = rev.spec
        assert spec is not None
        main = spec.containers[0]
        try:
            self._ensure_image(main.image)
            if not self._current(rev, gen):
                return
            for attempt in range(START_ATTEMPTS):
                try:
                    ctr = self._create_revision_container(rev, spec, main)
                    break
                except docker.errors.APIError as exc:
                    if not is_host_failure(exc) or attempt == START_ATTEMPTS - 1:
                        raise
                    log.info("revision %s: start failed for a host reason (%s); retrying", rev.revision, exc)
                    time.sleep(0.1 * (attempt + 1))
            if not self._current(rev, gen):
                self._remove_container(ctr.name)
                return
            with self._lock:
                rev.container_id = ctr.id
            self._record_ports(rev, ctr)
        except docker.errors.ImageNotFound as exc:
            self._fail(rev, gen, f"image {main.image} not found: {_explain(exc)}")
            return
        except docker.errors.DockerException as exc:
            self._fail(rev, gen, f"could not start container for {main.image}: {_explain(exc)}")
            return
        self._await_ready(rev, gen, ctr.id)

    def _create_revision_container(self, rev: _Revision, spec: RevisionSpec, main: ContainerSpec) -> Any:
        name = rev.container_name
        self._remove_container(name)  # a leftover from an earlier activation or a failed start
        labels = {
            LABEL: "1",
            L_INSTANCE: self._instance,
            L_KIND: "revision",
            L_APP: spec.app,
            L_REV: spec.revision,
            L_RG: spec.resource_group,
            L_DOMAIN: spec.default_domain,
        }
        if spec.target_port:
            labels[L_PORT] = str(spec.target_port)
        if rev.probe:
            labels[L_PROBE] = json.dumps(rev.probe)
        ports: dict[str, tuple[str, int]] = {}
        for port in {p for p in (spec.target_port, rev.probe and rev.probe["port"]) if p}:
            # a port free on the host now, not docker's next one: a second engine (another
            # stand-in's private dockerd) hands out the same range without knowing ours
            ports[f"{port}/tcp"] = ("127.0.0.1", free_port())
        rev.replica_name = f"{spec.revision}-{_replica_suffix()}"
        platform = {
            "CONTAINER_APP_NAME": spec.app,
            "CONTAINER_APP_REVISION": spec.revision,
            "CONTAINER_APP_REPLICA_NAME": rev.replica_name,
            "CONTAINER_APP_HOSTNAME": f"{spec.revision}.{spec.default_domain}",
            "CONTAINER_APP_ENV_DNS_SUFFIX": spec.default_domain,
        }
        if spec.target_port:
            platform["CONTAINER_APP_PORT"] = str(spec.target_port)
        extra_hosts: dict[str, str] = {}
        if spec.identity is not None and self._identity is not None:
            # a bridge-networked revision reaches the host's identity listener through the gateway
            platform.update(self._identity.env_for(spec.identity, f"app {spec.app}", host=IDENTITY_HOST))
            extra_hosts[IDENTITY_HOST] = "host-gateway"
        return self._client.containers.run(
            main.image,
            detach=True,
            name=name,
            labels=labels,
            ports=ports,
            extra_hosts=extra_hosts or None,
            **self._with_trust(_run_options(main, platform)),
        )

    def console_logs(self, app: str, default_domain: str, since: float) -> list[dict[str, Any]]:
        """What the app's revision containers wrote since `since` (epoch seconds), one entry per line:
        {time, stream, log, revision, replica, container_id, image} — the stand-in's
        ContainerAppConsoleLogs_CL. Containers removed since are gone with their logs."""
        out: list[dict[str, Any]] = []
        for ctr in self._labelled(kind="revision", extra={L_APP: app, L_DOMAIN: default_domain}):
            labels = ctr.labels or {}
            env = _env_of(ctr)
            for stream in ("stdout", "stderr"):
                try:
                    raw = ctr.logs(
                        stdout=stream == "stdout",
                        stderr=stream == "stderr",
                        timestamps=True,
                        since=int(since),
                    )
                except docker.errors.DockerException:
                    continue
                for line in raw.decode("utf-8", "replace").splitlines():
                    stamp, _, text = line.partition(" ")
                    out.append(
                        {
                            "time": stamp,
                            "stream": stream,
                            "log": text,
                            "revision": labels.get(L_REV, ""),
                            "replica": env.get("CONTAINER_APP_REPLICA_NAME", ""),
                            "container_id": ctr.id,
                            "image": (ctr.attrs.get("Config") or {}).get("Image", ""),
                        }
                    )
        return out

    def bridge_gateway(self) -> str | None:
        """The host's address on the engine's default bridge: where revision containers reach
        the stand-in's own endpoints (Application Insights ingestion)."""
        try:
            configs = self._client.networks.get("bridge").attrs.get("IPAM", {}).get("Config") or []
        except docker.errors.DockerException:
            return None
        return next((c["Gateway"] for c in configs if c.get("Gateway") and ":" not in c["Gateway"]), None)

    def _with_trust(self, opts: dict[str, Any]) -> dict[str, Any]:
        """Containers trust the stand-in CA next to the usual public roots, as Azure's endpoints are
        trusted by any image: a bundle (the host's roots + the CA) mounted read-only and named by
        SSL_CERT_FILE / REQUESTS_CA_BUNDLE unless the app sets them itself."""
        bundle = self._trust_bundle()
        if bundle is None:
            return opts
        env = opts["environment"]
        for var in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
            env.setdefault(var, TRUST_MOUNT)
        opts["volumes"] = {str(bundle): {"bind": TRUST_MOUNT, "mode": "ro"}}
        return opts

    def _trust_bundle(self) -> Path | None:
        """Written once per daemon (the CA does not change while it runs), not at every start. Two
        revisions starting at once both wrote one fixed temporary file and both renamed it: the
        second rename found nothing and failed its revision's start."""
        with self._bundle_lock:
            if self._bundle is not None:
                return self._bundle
            ca = self._tls_dir / "ca.pem"
            if not ca.exists():
                return None
            bundle = self._state_dir / "ca-bundle.pem"
            roots = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")
            text = (roots.read_text() if roots.is_file() else "") + "\n" + ca.read_text()
            if not bundle.exists() or bundle.read_text() != text:
                fd, tmp = tempfile.mkstemp(dir=self._state_dir, prefix=".ca-bundle-")
                with os.fdopen(fd, "w") as fh:
                    fh.write(text)
                os.chmod(tmp, 0o644)  # mounted read-only into containers that may not run as root
                os.replace(tmp, bundle)
            self._bundle = bundle
            return bundle

    def _record_ports(self, rev: _Revision, ctr: Any) -> None:
        ctr.reload()
        published: dict[int, int] = {}
        for key, binds in (ctr.attrs.get("NetworkSettings", {}).get("Ports") or {}).items():
            if binds:
                published[int(key.split("/")[0])] = int(binds[0]["HostPort"])
        with self._lock:
            rev.ports = published

    def _await_ready(self, rev: _Revision, gen: int, container_id: str) -> None:
        timeout = rev.probe["timeout"] if rev.probe else self._ready_timeout
        deadline = time.monotonic() + timeout
        host_header = f"{rev.revision}.{rev.domain}"
        delay = 0.05
        while not self._closed.is_set():
            if not self._current(rev, gen):
                return
            try:
                ctr = self._client.containers.get(container_id)
            except docker.errors.NotFound:
                self._fail(rev, gen, "container disappeared")
                return
            except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
                # a busy engine answering slowly or 500: ask again until the readiness deadline
                if time.monotonic() > deadline:
                    self._fail(rev, gen, f"the engine did not report the container's state: {exc}")
                    return
                time.sleep(delay)
                continue
            state = ctr.attrs.get("State", {})
            if not state.get("Running"):
                if state.get("Status") == "created":
                    pass  # not started yet
                elif rev.phase == RESTARTING:
                    self._crashed(rev, gen, self._with_logs(_exit_reason(state), ctr))
                    return
                else:
                    self._fail(rev, gen, self._with_logs(_exit_reason(state), ctr))
                    return
            elif rev.probe is None:
                time.sleep(0.5)  # no port to check: running and not crashing at once is ready
                ctr.reload()
                if ctr.attrs.get("State", {}).get("Running"):
                    self._mark_ready(rev, gen)
                    return
                continue
            else:
                port = rev.ports.get(rev.probe["port"])
                if port and probe_once(port, rev.probe["path"], host_header, rev.probe.get("scheme", "http")):
                    self._mark_ready(rev, gen)
                    return
            if time.monotonic() > deadline:
                what = (
                    f"GET {rev.probe['path']} on port {rev.probe['port']}"
                    if rev.probe and rev.probe["path"]
                    else f"TCP port {rev.probe and rev.probe['port']}"
                )
                self._fail(rev, gen, self._with_logs(f"not ready after {timeout:.0f} s ({what})", ctr))
                return
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)  # readiness is what LRO polls wait for: notice it soon

    def _mark_ready(self, rev: _Revision, gen: int) -> None:
        with self._lock:
            if rev.generation != gen or rev.phase == STOPPED:
                return
            if rev.phase == RESTARTING:
                rev.backoff = 1.0
            rev.phase, rev.reason = READY, None
        self._notify()

    def _crashed(self, rev: _Revision, gen: int, reason: str) -> None:
        """A ready revision's container died: Azure restarts the replica with back-off, the
        revision reads Degraded meanwhile, and the restart is counted."""
        with self._lock:
            if rev.generation != gen or rev.phase == STOPPED or self._revisions.get(rev.key) is not rev:
                return
            rev.generation += 1
            gen = rev.generation
            delay = rev.backoff
            rev.backoff = min(rev.backoff * 2, RESTART_BACKOFF_CAP)
            rev.phase = RESTARTING
            rev.reason = f"{reason}\nrestarting (restart count {rev.restarts + 1}, back-off {delay:.0f} s)"
        log.info("revision %s crashed; restarting in %.0f s", rev.revision, delay)
        self._notify()

        def restart() -> None:
            if self._closed.wait(delay) or not self._current(rev, gen):
                return
            try:
                ctr = self._client.containers.get(rev.container_name)
                ctr.start()
                with self._lock:
                    rev.restarts += 1
                self._record_ports(rev, ctr)
            except docker.errors.DockerException as exc:
                self._fail(rev, gen, f"restart failed: {_explain(exc)}")
                return
            self._await_ready(rev, gen, ctr.id)

        threading.Thread(target=restart, name=f"crash-restart-{rev.revision}", daemon=True).start()

    def _guarded(self, rev: _Revision, gen: int, work: Callable[..., None], *args: Any) -> None:
        """A revision's start thread must end with the revision Running or Failed: an error nobody
        expected (an engine API timeout under load, say) used to end the thread and leave the
        revision Provisioning for ever, with every poller waiting on it."""
        try:
            work(*args)
        except Exception as exc:  # the revision's state is the only place this error can go
            log.exception("revision %s: start thread failed", rev.revision)
            self._fail(rev, gen, f"the platform could not start the revision: {type(exc).__name__}: {exc}")

    def _fail(self, rev: _Revision, gen: int, reason: str) -> None:
        with self._lock:
            if rev.generation != gen or rev.phase == STOPPED:
                return
            rev.phase, rev.reason = FAILED, reason
        log.info("revision %s failed: %s", rev.revision, reason.splitlines()[0])
        self._notify()

    def _current(self, rev: _Revision, gen: int) -> bool:
        with self._lock:
            return rev.generation == gen and rev.phase != STOPPED and self._revisions.get(rev.key) is rev

    def _check_alive(self, rev: _Revision) -> None:
        ctr = self._container(rev.container_name)
        with self._lock:
            gen = rev.generation
            if rev.phase != READY:
                return
        if ctr is None:
            self._fail(rev, gen, "container is gone")
        elif not ctr.attrs.get("State", {}).get("Running"):
            self._crashed(rev, gen, self._with_logs(_exit_reason(ctr.attrs.get("State", {})), ctr))

    # ------------------------------------------------------------ internals: engine

    def _ensure_image(self, image: str) -> None:
        """Pull only when the engine lacks the image (local tags and earlier pulls are reused)."""
        with self._lock:
            lock = self._pulls.setdefault(image, threading.Lock())
        with lock:
            try:
                self._client.images.get(image)
                return
            except docker.errors.ImageNotFound:
                pass
            repo, tag = _split_ref(image)
            auth = self._auth_for(image)
            # low-level pull: errors arrive as events in a 200 stream (RIG.md), so read them all
            for event in self._client.api.pull(repo, tag=tag, stream=True, decode=True, auth_config=auth):
                if "error" in event:
                    raise docker.errors.ImageNotFound(f"pull {image}: {event['error']}")
            self._client.images.get(image)

    def _auth_for(self, image: str) -> dict[str, str] | None:
        server = login_server_of(image)
        if server is None or self._fleet is None:
            return None
        name = _fleet_name_for(self._fleet, server)
        if name is None:
            return None
        return {
            "username": ACR_USER,
            "password": self._fleet.mint_refresh_token(name),
            "serveraddress": server,
        }

    def _container(self, name: str) -> Any | None:
        try:
            return self._client.containers.get(name)
        except docker.errors.NotFound:
            return None

    def _remove_container(self, name: str) -> None:
        try:
            self._client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: removal already in progress
                raise

    def _labelled(self, kind: str | None = None, extra: dict[str, str] | None = None) -> list[Any]:
        labels = [f"{LABEL}=1", f"{L_INSTANCE}={self._instance}"] + ([f"{L_KIND}={kind}"] if kind else [])
        labels += [f"{k}={v}" for k, v in (extra or {}).items()]
        return self._client.containers.list(all=True, filters={"label": labels})

    def _with_logs(self, reason: str, ctr: Any) -> str:
        try:
            tail = ctr.logs(tail=LOG_TAIL, stdout=True, stderr=True).decode(errors="replace").rstrip()
        except docker.errors.DockerException:
            tail = ""
        return f"{reason}; last log lines:\n{tail}" if tail else f"{reason} (no log output)"

    def _adopt(self) -> None:
        """Rebuild state from labelled containers left by an earlier daemon."""
        for ctr in self._labelled(kind="revision"):
            labels = ctr.labels
            revision = labels.get(L_REV)
            if not revision:
                continue
            port = labels.get(L_PORT)
            rev = _Revision(
                revision=revision,
                app=labels.get(L_APP, ""),
                resource_group=labels.get(L_RG, ""),
                domain=labels.get(L_DOMAIN, ""),
                target_port=int(port) if port else None,
                probe=json.loads(labels[L_PROBE]) if labels.get(L_PROBE) else None,
                container_id=ctr.id,
                container_name=ctr.name,
            )
            self._revisions[rev.key] = rev
            self._record_ports(rev, ctr)
            threading.Thread(
                target=self._guarded,
                args=(rev, 0, self._await_ready, rev, 0, ctr.id),
                name=f"adopt-{revision}",
                daemon=True,
            ).start()
        for ctr in self._labelled(kind="job"):
            if ctr.attrs.get("State", {}).get("Running"):
                timeout = int(ctr.labels.get(L_TIMEOUT, "1800"))
                threading.Thread(target=_kill_after, args=(ctr, timeout), daemon=True).start()

    def _watch_events(self) -> None:
        """Crashes after readiness become Failed at once (not only when someone asks)."""
        while not self._closed.is_set():
            try:
                stream = self._client.events(
                    decode=True,
                    filters={
                        "type": "container",
                        "event": "die",
                        "label": [f"{LABEL}=1", f"{L_INSTANCE}={self._instance}"],
                    },
                )
                for event in stream:
                    if self._closed.is_set():
                        return
                    attrs = event.get("Actor", {}).get("Attributes") or {}
                    with self._lock:
                        rev = self._revisions.get(_key(attrs.get(L_REV, ""), attrs.get(L_DOMAIN, "")))
                    if rev is not None and rev.phase == READY:
                        self._check_alive(rev)
            except Exception:  # engine restarting or client closed: retry unless closing
                if self._closed.wait(1.0):
                    return

    def _notify(self) -> None:
        for callback in list(self._listeners):
            try:
                callback()
            except Exception:  # a listener's bug must not break the runtime
                log.exception("runtime change listener failed")

    # ------------------------------------------------------------ routes persistence

    def _routes_file(self) -> Path:
        return self._state_dir / "routes.json"

    def _save_routes(self) -> None:
        data = {app: asdict(r) for app, r in self._routes.items()}
        tmp = self._routes_file().with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(self._routes_file())

    def _load_routes(self) -> dict[str, AppRoutes]:
        try:
            data = json.loads(self._routes_file().read_text())
        except (OSError, json.JSONDecodeError):
            return {}
        routes = [
            AppRoutes(
                app=r["app"],
                default_domain=r["default_domain"],
                traffic=[TrafficRoute(**t) for t in r["traffic"]],
                revisions=list(r["revisions"]),
            )
            for r in data.values()
        ]
        return {_route_key(r.app, r.default_domain): r for r in routes}


# ---------------------------------------------------------------- module helpers


def _env_of(ctr: Any) -> dict[str, str]:
    return dict(e.split("=", 1) for e in ctr.attrs.get("Config", {}).get("Env") or [] if "=" in e)


def _kill_after(ctr: Any, timeout_seconds: int) -> None:
    """replicaTimeout for a replica adopted after a daemon restart (its supervisor is gone)."""
    try:
        ctr.wait(timeout=timeout_seconds)
    except Exception:  # requests' ReadTimeout: the replica timeout elapsed
        try:
            ctr.kill()
        except docker.errors.DockerException:
            pass


def _replica_suffix() -> str:
    return hashlib.sha256(str(time.monotonic_ns()).encode()).hexdigest()[:10]


def _run_options(main: ContainerSpec, platform: dict[str, str] | None = None) -> dict[str, Any]:
    # the platform's built-in variables (Azure: CONTAINER_APP_NAME, ...) win over the template's
    opts: dict[str, Any] = {"environment": {**main.env, **(platform or {})}}
    # Azure: `command` replaces the ENTRYPOINT, `args` the CMD
    if main.command:
        opts["entrypoint"] = list(main.command)
        opts["command"] = list(main.args or [])
    elif main.args:
        opts["command"] = list(main.args)
    if main.cpu:
        opts["nano_cpus"] = int(main.cpu * 1e9)
    mem = parse_memory(main.memory)
    if mem:
        opts["mem_limit"] = mem
    return opts


def _split_ref(image: str) -> tuple[str, str | None]:
    if "@" in image:
        repo, digest = image.split("@", 1)
        return repo, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = image.rsplit(":", 1)
        return repo, tag
    return image, "latest"


def _fleet_name_for(fleet: Any, login_server: str) -> str | None:
    """The registry resource whose ACR front listens on `login_server` (None: not one of ours,
    e.g. a public registry — pulled anonymously)."""
    return fleet.by_login_server(login_server)


def _exit_reason(state: dict) -> str:
    code = state.get("ExitCode")
    oom = " (out of memory)" if state.get("OOMKilled") else ""
    err = f": {state['Error']}" if state.get("Error") else ""
    return f"container exited with code {code}{oom}{err}"


def _explain(exc: Exception) -> str:
    return getattr(exc, "explanation", None) or str(exc)


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()
