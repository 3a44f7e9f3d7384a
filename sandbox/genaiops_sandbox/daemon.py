"""The stand-in daemon: `python -m genaiops_sandbox.daemon --state-dir D [--retry-after S]`.

Hosts every listener of the stand-in in one process — the ARM endpoint (with the token endpoint and
/sandbox admin routes), the registry fleet, the Docker runtime and its ingress router — then writes
`D/profile.json`, the contract `sandbox up` waits for. Ports are kept in `D/ports.json` so endpoints
stay stable across restarts. SIGTERM/SIGINT stop everything this process started."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .profile import Profile

log = logging.getLogger("genaiops.sandbox")
PORTS_FILE = "ports.json"
RETRY_AFTER_ENV = "GENAIOPS_SANDBOX_RETRY_AFTER"
VALIDATE_ENV = "GENAIOPS_SANDBOX_VALIDATE"
DNS_SUFFIX_PATTERN = "*.sandbox.genaiops.test"


def _setup_logging(state_dir: Path) -> Path:
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / "sandbox.log"
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(threadName)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return log_file


def _load_ports(state_dir: Path) -> dict[str, int]:
    path = state_dir / PORTS_FILE
    try:
        return {k: int(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _save_ports(state_dir: Path, ports: dict[str, int]) -> None:
    (state_dir / PORTS_FILE).write_text(json.dumps(ports, indent=2, sort_keys=True))


def _bind_with_fallback(start: Any, port: int) -> Any:
    """Reuse the remembered port; if another process took it, take any free one."""
    if port:
        try:
            return start(port)
        except OSError as exc:
            log.warning("port %d is taken (%s); picking a free one", port, exc)
    return start(0)


class Sandbox:
    def __init__(self, state_dir: Path, retry_after: int) -> None:
        self.state_dir = state_dir
        self.retry_after = retry_after
        self.tls_dir = state_dir / "tls"
        self.fleet: Any = None
        self.runtime: Any = None
        self.router: Any = None
        self.arm: Any = None
        self.foundry: Any = None
        self.alerts: Any = None
        self.monitor_data: Any = None
        self.blobs: Any = None
        self.vaults: Any = None
        self.identity: Any = None
        self.stopped = threading.Event()
        self.scheduler: Any = None  # starts scheduled jobs' executions (arm/job_schedule.py)

    def start(self, log_file: Path) -> Profile:
        from .arm import start_arm
        from .ca import ensure_ca
        from .tokens import TokenIssuer

        ca = ensure_ca(self.tls_dir)
        issuer = TokenIssuer(self.state_dir)
        ports = _load_ports(self.state_dir)
        from .faults import FaultTable

        self.faults = FaultTable()  # one table for every listener: ARM, Foundry, registries, blobs
        self.fleet = self._start_fleet(issuer)
        from .identity_endpoint import IdentityEndpoint

        # before the runtime: every container with an identity is told where it listens
        self.identity = _bind_with_fallback(
            lambda p: IdentityEndpoint(self.state_dir, issuer, port=p), ports.get("identity", 0)
        )
        runtime_error = self._start_runtime(issuer)
        if self.runtime is not None:
            self._start_router(ports.get("router", 0))

        validator, validation_log = None, None
        if os.environ.get(VALIDATE_ENV):
            from .specs import SpecValidator

            validator, validation_log = SpecValidator(), Path(os.environ[VALIDATE_ENV])
        self.arm = _bind_with_fallback(
            lambda p: start_arm(
                self.state_dir,
                self.tls_dir,
                port=p,
                issuer=issuer,
                runtime=self.runtime,
                fleet=self.fleet,
                runtime_error=runtime_error,
                retry_after=self.retry_after,
                validator=validator,
                validation_log=validation_log,
                faults=self.faults,
            ),
            ports.get("arm", 0),
        )
        self._reensure_registries()
        self._start_vaults(issuer)
        self._start_foundry(issuer, ports.get("foundry", 0))
        self._start_monitoring(str(ca.cert))
        self._start_monitor_data(issuer, ports.get("monitor", 0))
        from .blob_leases import BlobLeaseService

        self.blobs = _bind_with_fallback(
            lambda p: BlobLeaseService(self.tls_dir, issuer, port=p, faults=self.faults), ports.get("blob", 0)
        )

        ports = {
            "arm": self.arm.server.port,
            "blob": self.blobs.port,
            "monitor": self.monitor_data.port,
            "identity": self.identity.port,
        }
        if self.foundry is not None:
            ports["foundry"] = self.foundry.port
        resolve: dict[str, str] = {}
        router_addr = ""
        if self.router is not None:
            ports["router"] = self.router.port
            router_addr = f"127.0.0.1:{self.router.port}"
            resolve = {DNS_SUFFIX_PATTERN: router_addr, **self.router.resolve_map()}
        _save_ports(self.state_dir, ports)
        creds = self.arm.credentials
        profile = Profile(
            arm_endpoint=self.arm.url,
            authority_host=self.arm.url,
            tenant_id=creds.tenant_id,
            client_id=creds.client_id,
            client_secret_file=str(creds.secret_file),
            subscription_id=creds.subscription_id,
            ca_bundle=str(ca.cert),
            docker_host=os.environ.get("DOCKER_HOST", ""),
            router=router_addr,
            resolve=resolve,
            log_file=str(log_file),
            pid=os.getpid(),
            blob_endpoint=self.blobs.url,
            logs_endpoint=self.monitor_data.url,
        )
        profile.save(self.state_dir)
        log.info(
            "sandbox up: ARM %s, router %s, %d registries",
            self.arm.url,
            router_addr or "(none)",
            len(self.fleet.names()) if self.fleet is not None and hasattr(self.fleet, "names") else 0,
        )
        return profile

    def _start_fleet(self, issuer: Any) -> Any:
        try:
            from .registry import RegistryFleet
        except ImportError as exc:
            log.error("registry fleet unavailable: %s", exc)
            return None
        return RegistryFleet(self.state_dir, issuer, self.tls_dir, faults=self.faults)

    def _start_runtime(self, issuer: Any) -> str | None:
        try:
            from .runtime import DockerRuntime

            self.runtime = DockerRuntime(
                self.state_dir,
                issuer,
                self.fleet,
                self.tls_dir,
                docker_host=os.environ.get("DOCKER_HOST") or None,
                identity=self.identity,
            )
        except Exception as exc:
            log.error("container runtime unavailable: %s", exc)
            return f"{type(exc).__name__}: {exc}"
        return None

    def _start_router(self, port: int) -> None:
        try:
            from .router import Router
        except ImportError as exc:
            log.error("ingress router unavailable: %s", exc)
            return
        self.router = _bind_with_fallback(lambda p: Router(self.runtime, self.tls_dir, port=p).start(), port)

    def _start_foundry(self, issuer: Any, port: int) -> None:
        """The Foundry projects' data plane (hosted agents); project endpoints in ARM point at it."""
        from .foundry_server import start_foundry

        store = self.arm.api.store

        def project_exists(account: str, project: str) -> bool:
            wanted = f"{account}/{project}".lower()
            return any(
                r.get("type", "").lower() == "microsoft.cognitiveservices/accounts/projects"
                and str(r["body"].get("name", "")).lower() == wanted
                for r in store.all()
            )

        self.foundry = _bind_with_fallback(
            lambda p: start_foundry(
                self.state_dir,
                self.tls_dir,
                port=p,
                issuer=issuer,
                runtime=self.runtime,
                faults=self.faults,
                projects=project_exists,
            ),
            port,
        )
        self.arm.api.foundry_url = self.foundry.url

    def _start_monitoring(self, ca_file: str) -> None:
        """Metrics from the router's traffic; metric alerts evaluated against them."""
        from .monitor.alerts import DEFAULT_TICK, TICK_ENV, AlertEvaluator

        if self.router is not None:
            self.router.add_listener(self.arm.api.traffic.observe)
        tick = float(os.environ.get(TICK_ENV) or DEFAULT_TICK)
        self.alerts = AlertEvaluator(self.arm.api, tick=tick, ca_file=ca_file).start()
        from .arm.job_schedule import DEFAULT_TICK as JOB_TICK
        from .arm.job_schedule import TICK_ENV as JOB_TICK_ENV
        from .arm.job_schedule import JobScheduler

        self.scheduler = JobScheduler(self.arm.api, float(os.environ.get(JOB_TICK_ENV) or JOB_TICK)).start()

    def _start_vaults(self, issuer: Any) -> None:
        """Key Vault data planes: one listener per Microsoft.KeyVault/vaults resource, its vaultUri."""
        from .keyvault import VaultService

        creds = self.arm.credentials
        self.vaults = VaultService(self.state_dir, self.tls_dir, issuer, self.arm.url, creds.tenant_id)
        self.arm.api.vaults = self.vaults
        store = self.arm.api.store
        for record in store.all():
            if str(record.get("type", "")).lower() != "microsoft.keyvault/vaults":
                continue
            try:
                uri = self.vaults.ensure(record["body"]["name"])
            except OSError:
                log.exception("could not restart key vault %s", record["body"]["name"])
                continue
            if record["body"]["properties"].get("vaultUri") != uri:
                record["body"]["properties"]["vaultUri"] = uri
                store.put(record["id"], record)

    def _start_monitor_data(self, issuer: Any, port: int) -> None:
        """Application Insights ingestion + the Log Analytics query API, on the Docker bridge's
        gateway so revision containers can send telemetry (loopback when there is no runtime)."""
        from .monitor.dataplane import start_monitor_data

        host = (self.runtime.bridge_gateway() if self.runtime is not None else None) or "127.0.0.1"

        def start(p: int) -> Any:
            try:
                return start_monitor_data(
                    self.tls_dir, host=host, port=p, data=self.arm.api.monitor_data, issuer=issuer
                )
            except OSError:
                if host == "127.0.0.1":
                    raise
                log.warning("cannot listen on the bridge gateway %s; ingestion on loopback only", host)
                return start_monitor_data(
                    self.tls_dir, host="127.0.0.1", port=p, data=self.arm.api.monitor_data, issuer=issuer
                )

        self.monitor_data = _bind_with_fallback(start, port)
        self.arm.api.ingestion_url = self.monitor_data.url + "/"
        if self.runtime is not None:
            from .monitor.console_logs import TABLE, console_log_rows

            api, runtime = self.arm.api, self.runtime
            api.monitor_data.extra_tables[TABLE] = lambda scope: console_log_rows(api, runtime, scope)

    def _reensure_registries(self) -> None:
        """Registry resources in the ARM store get their processes back after a restart."""
        if self.fleet is None:
            return
        store = self.arm.api.store
        for record in store.all():
            if record.get("type") != "Microsoft.ContainerRegistry/registries":
                continue
            try:
                endpoint = self.fleet.ensure(record["body"]["name"].lower())
            except Exception:
                log.exception("could not restart registry %s", record["body"]["name"])
                continue
            if record["body"]["properties"].get("loginServer") != endpoint.login_server:
                record["body"]["properties"]["loginServer"] = endpoint.login_server
                store.put(record["id"], record)

    def close(self) -> None:
        for name, part in (
            ("scheduler", self.scheduler),
            ("alerts", self.alerts),
            ("monitor data", self.monitor_data),
            ("arm", self.arm),
            ("blob", self.blobs),
            ("keyvault", self.vaults),
            ("identity", self.identity),
            ("foundry", self.foundry),
            ("router", self.router),
            ("runtime", self.runtime),
            ("fleet", self.fleet),
        ):
            if part is None:
                continue
            try:
                part.close()
            except Exception:
                log.exception("closing %s failed", name)
        log.info("sandbox stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genaiops_sandbox.daemon")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument(
        "--retry-after",
        type=int,
        default=int(os.environ.get(RETRY_AFTER_ENV, "1")),
        help=f"Retry-After seconds on long-running operations (default ${RETRY_AFTER_ENV} or 1, as Azure: "
        "azure-core reads 0 as no header and then sleeps its own 30 s default)",
    )
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir.expanduser().resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    log_file = _setup_logging(state_dir)
    sandbox = Sandbox(state_dir, args.retry_after)

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: shutting down", signum)
        sandbox.stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        sandbox.start(log_file)
    except Exception:
        log.exception("sandbox failed to start")
        sandbox.close()
        return 1
    while not sandbox.stopped.wait(1.0):
        pass
    sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
