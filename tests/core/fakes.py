"""In-memory fakes of core's ports (core/ports.py), for unit tests of core with no Docker, no
stand-in and no network. Each fake keeps the state a real implementation would change, counts the
changing calls, and can be told to fail the next call of an operation (`Faults.arm`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.core.environment import Environment, open_environment
from genaiops_cli.core.lock import LeaseLost, LockRecord
from genaiops_cli.core.ports import (
    CopyResult,
    DeployOutcome,
    Endpoint,
    LiveService,
)
from genaiops_cli.core.release import canonical_json, digest_of
from genaiops_cli.errors import DeployError, GenAIOpsError, LockedError

MANIFEST = """\
version: 1
name: demo
services:
  agent:
    build: {context: src/agent}
    repository: demo/agent
    ingress: {port: 8080, health: /healthz}
    smoke:
      - name: health
        request: {path: /healthz}
        expect: {status: 200}
environments:
  dev:
    cloud: azure
    subscription: 00000000-0000-0000-0000-000000000000
    resource_group: rg-dev
    location: eastus2
    registry: crdev
    containerapps_environment: cae-dev
    strategy: direct
    gates: [smoke]
  prod:
    cloud: azure
    subscription: 00000000-0000-0000-0000-000000000000
    resource_group: rg-prod
    location: eastus2
    registry: crprod
    containerapps_environment: cae-prod
    promote_from: dev
    strategy: bluegreen
    gates: [smoke]
"""


def with_service(manifest: str, name: str, *, smoke: bool = False) -> str:
    """`manifest` with one more service `name`, built from the same context into demo/<name>, with
    the same health smoke check as `agent` when `smoke`."""
    check = (
        "    smoke:\n      - name: health\n        request: {path: /healthz}\n        expect: {status: 200}\n"
        if smoke
        else ""
    )
    service = (
        f"  {name}:\n    build: {{context: src/agent}}\n    repository: demo/{name}\n"
        f"    ingress: {{port: 8080, health: /healthz}}\n{check}"
    )
    return manifest.replace("environments:\n", service + "environments:\n", 1)


class Killed(BaseException):
    """kill -9 modelled in-process: nothing in the product catches a BaseException of its own, so
    no journal save, no failed entry, no history write happens after it (as with a real SIGKILL)."""


class Faults:
    """`arm("copy")` makes the next call of that operation raise (once). `kind` says how it fails,
    as the providers report it: "429"/"500" (after the SDK's retries gave up), "drop" (the connection
    dropped: outcome unknown), "kill" (kill -9), "sigint" (Ctrl-C/SIGTERM); "error" (default) is a
    plain DeployError. `skip`: let that many calls through first. An operation ending in ":after"
    is checked once the call's effect landed (its answer was lost)."""

    def __init__(self) -> None:
        self.armed: dict[str, int] = {}
        self.kinds: dict[str, str] = {}
        self.skips: dict[str, int] = {}

    def arm(self, operation: str, times: int = 1, kind: str = "error", skip: int = 0) -> None:
        self.armed[operation], self.kinds[operation], self.skips[operation] = times, kind, skip

    def check(self, operation: str) -> None:
        if self.armed.get(operation, 0) > 0:
            if self.skips.get(operation, 0) > 0:
                self.skips[operation] -= 1
                return
            self.armed[operation] -= 1
            raise self.error(operation, self.kinds.get(operation, "error"))

    def after(self, operation: str) -> None:
        self.check(f"{operation}:after")

    @staticmethod
    def error(operation: str, kind: str) -> BaseException:
        if kind == "kill":
            return Killed(operation)
        if kind == "sigint":
            return KeyboardInterrupt("SIGINT")
        if kind == "drop":
            return DeployError(
                f"{operation}: the connection dropped before Azure answered; the outcome is unknown",
                code="outcome_unknown",
            )
        if kind in ("429", "500"):
            return DeployError(f"{operation}: HTTP{kind}", details={"status": int(kind)})
        return DeployError(f"injected failure in {operation}", code="injected")


class MemoryLedger:
    def __init__(self, location: str, faults: Faults) -> None:
        self.location = location
        self.name = location.split(".", 1)[0]
        self.docs: dict[str, bytes] = {}
        self.faults = faults
        self.writes: list[str] = []
        self.reads: list[str] = []  # tags read, and "tags:<prefix>" for each listing

    def put(self, tag: str, kind: str, document: dict[str, Any]) -> str:
        operation = f"ledger.put:{self.name}:{tag.split('-', 1)[0]}"
        self.faults.check(operation)
        self.docs[tag] = canonical_json(document)
        self.writes.append(tag)
        self.faults.after(operation)
        return tag

    def get(self, tag: str) -> dict[str, Any] | None:
        self.faults.check(f"ledger.get:{self.name}:{tag.split('-', 1)[0]}")
        self.reads.append(tag)
        return json.loads(self.docs[tag]) if tag in self.docs else None

    def tags(self, prefix: str = "") -> list[str]:
        self.reads.append(f"tags:{prefix}")
        return [t for t in self.docs if t.startswith(prefix)]


class MemoryRegistry:
    def __init__(self, login_server: str, faults: Faults) -> None:
        self.login_server = login_server
        self.images: dict[tuple[str, str], str] = {}  # (repository, tag or digest) → digest
        self.faults = faults
        self.copies = 0
        self._ledger = MemoryLedger(f"{login_server}/genaiops/ledger", faults)

    def add(self, repository: str, digest: str, tag: str | None = None) -> str:
        self.images[(repository, digest)] = digest
        if tag:
            self.images[(repository, tag)] = digest
        return f"{self.login_server}/{repository}@{digest}"

    def digest(self, repository: str, tag: str) -> str | None:
        return self.images.get((repository, tag))

    def has(self, repository: str, digest: str) -> bool:
        return (repository, digest) in self.images

    def copy_from(
        self,
        source: Any,
        repository: str,
        digest: str,
        tag: str | None,
        method: str = "auto",
        source_server: str | None = None,
    ) -> CopyResult:
        self.faults.check("copy")
        if self.has(repository, digest):
            self.add(repository, digest, tag)
            return CopyResult(repository, digest, "present", tag=tag)
        if not source.has(repository, digest):
            raise DeployError(f"{repository}@{digest} not in {source.login_server}")
        self.copies += 1
        self.add(repository, digest, tag)
        self.faults.after("copy")
        return CopyResult(repository, digest, "blobs", blobs_copied=2, tag=tag)

    def ledger(self) -> MemoryLedger:
        return self._ledger

    def push_auth(self) -> dict[str, str]:
        return {"username": "fake", "password": "fake", "serveraddress": self.login_server}


@dataclass
class App:
    live: str | None = None
    staged: str | None = None
    previous: str | None = None
    revisions: dict[str, str] = field(default_factory=dict)  # revision → image
    active: set[str] = field(default_factory=set)
    tags: dict[str, str] = field(default_factory=dict)


class MemoryHost:
    """A blue/green host: revisions named after the image digest; swap and rollback as one write."""

    kind = "containerapp"
    capabilities = frozenset({"revisions", "labels"})

    def __init__(self, strategy: str, faults: Faults) -> None:
        self.strategy = strategy
        self.faults = faults
        self.apps: dict[str, App] = {}
        self.deploys = 0  # revisions created
        self.traffic_writes = 0
        self.restarts: list[str] = []

    def expected_revision(self, service: str, image: str) -> str:
        return f"{service}--{str(digest_of(image))[7:15]}"

    def current(self, service: str) -> LiveService:
        app = self.apps.get(service)
        if app is None:
            return LiveService(service, service, False)
        image = app.revisions.get(app.live or "")
        return LiveService(
            service,
            service,
            True,
            app.live,
            app.staged,
            image,
            digest_of(image),
            app.tags.get("genaiops-release") or None,
            bool(image) and app.live == self.expected_revision(service, str(image)),
            "blue" if app.live else None,
            app.previous,
            app.tags.get("genaiops-release-previous") or None,
        )

    def has_revision(self, service: str, revision: str) -> bool:
        return revision in self.apps.get(service, App()).revisions

    def deploy(self, service: str, image: str, timeout: float, on_event: Any) -> DeployOutcome:
        self.faults.check("deploy")
        revision = self.expected_revision(service, image)
        app = self.apps.setdefault(service, App())
        outcome = DeployOutcome(service, service, revision, image, "unchanged", self.strategy)
        if revision in (app.live, app.staged):
            return outcome
        if revision not in app.revisions:
            self.deploys += 1
        app.revisions[revision] = image
        app.active.add(revision)
        self.traffic_writes += 1
        if app.live is None:
            app.live, outcome.action = revision, "created"
        elif self.strategy in ("bluegreen", "canary"):
            app.staged, outcome.action, outcome.label = revision, "staged", "green"
        else:
            app.previous, app.live, outcome.action = app.live, revision, "live"
        self.faults.after("deploy")
        return outcome

    def swap(self, service: str, on_event: Any, tags: Mapping[str, str] | None = None) -> dict[str, Any]:
        self.faults.check("swap")
        app = self.apps[service]
        if not app.staged:
            raise DeployError("nothing staged", code="nothing_staged")
        app.previous, app.live, app.staged = app.live, app.staged, None
        app.tags.update(tags or {})
        self.traffic_writes += 1
        self.faults.check("swap:after")  # the write landed, the answer was lost (outcome unknown)
        return {"service": service, "app": service, "live": app.live, "previous": app.previous}

    def record_live(self, service: str, tags: Mapping[str, str]) -> dict[str, Any]:
        self.faults.check("swap")
        self.apps[service].tags.update(tags)
        self.faults.after("record_live")
        return {"live": self.apps[service].live, "note": "already live"}

    def rollback_plan(self, service: str) -> dict[str, Any]:
        app = self.apps.get(service)
        if app is None or not app.previous:
            raise DeployError("no previous revision", code="no_previous")
        return {"service": service, "live": app.live, "previous": app.previous}

    def rollback(self, service: str, timeout: float, on_event: Any) -> dict[str, Any]:
        self.faults.check("rollback")
        app = self.apps[service]
        if not app.previous:
            raise DeployError("no previous revision", code="no_previous")
        app.live, app.previous, app.staged = app.previous, app.live, None
        release, before = app.tags.get("genaiops-release", ""), app.tags.get("genaiops-release-previous", "")
        app.tags.update({"genaiops-release": before, "genaiops-release-previous": release})  # as Azure's host
        self.traffic_writes += 1
        return {
            "service": service,
            "app": service,
            "live": app.live,
            "rolled_back_from": app.previous,
            "release": before or None,
            "rolled_back_release": release or None,
        }

    def remove(self, service: str, on_event: Any) -> dict[str, Any]:
        self.faults.check("remove")
        found = self.apps.pop(service, None) is not None
        return {"service": service, "app": service, "removed": found}

    def restart(self, service: str, revision: str | None, timeout: float, on_event: Any) -> dict[str, Any]:
        self.faults.check("restart")
        app = self.apps[service]
        revision = revision or app.live
        app.active.add(str(revision))
        self.restarts.append(str(revision))
        return {"service": service, "app": service, "revision": revision, "role": "live"}

    def status(self, service: str) -> dict[str, Any]:
        app = self.apps.get(service)
        roles = {} if app is None else {app.live: "live", app.staged: "staged", app.previous: "previous"}
        revisions = [
            {"name": r, "image": image, "role": roles.get(r), "traffic": 100 if r == app.live else 0}
            for r, image in (app.revisions.items() if app else [])
        ]
        return {
            "service": service,
            "deployed": app is not None,
            "live": app.live if app else None,
            "revisions": revisions,
        }

    def observe(self, service: str) -> tuple[dict[str, Any], LiveService]:
        return self.status(service), self.current(service)

    def endpoint(self, service: str, label: str) -> Endpoint:
        app = self.apps.get(service)
        revision = None if app is None else (app.staged if label == "staged" else app.live)
        if revision is None:
            raise DeployError(f"no {label} side of {service!r}")
        return Endpoint(f"https://{revision}.fake.test", label)


class FakeResponse:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b'{"ok": true}'
        self.text = self.content.decode()


class MemoryHttp:
    """Answers smoke checks for the hosts' revisions: 500 for an image marked broken."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.requests: list[str] = []

    @contextmanager
    def client(self, resolve: Any, ca_bundle: Any, timeout: float, **options: Any) -> Any:
        yield self

    def row_client(self, resolve: Any, ca_bundle: Any, timeout: float) -> Any:
        raise NotImplementedError

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        import httpx

        self.requests.append(url)
        if self.world.faults.armed.get("http", 0) > 0:  # the target's answer (or no answer)
            kind = self.world.faults.kinds.get("http", "500")
            if kind in ("429", "500"):
                self.world.faults.armed["http"] -= 1
                return FakeResponse(int(kind))
            if kind == "drop":
                self.world.faults.armed["http"] -= 1
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            self.world.faults.check("http")
        revision = url.split("://", 1)[1].split(".", 1)[0]
        images = [a.revisions.get(revision) for h in self.world.hosts.values() for a in h.apps.values()]
        broken = any(i and digest_of(i) in self.world.broken for i in images)
        return FakeResponse(500 if broken else 200)


class LeaseClock:
    """The lock's time in tests (core.lock.Heartbeat): leases expire and heartbeats fall due only
    when a test advances it — no sleeping. A due beat runs in the advancing thread, so a kill or an
    interrupt injected into a renew ends the run there, as a real signal would end the process."""

    def __init__(self) -> None:
        self.t = 1000.0
        self._timers: list[dict[str, Any]] = []

    def now(self) -> float:
        return self.t

    def start(self, beat: Any, interval: float) -> Any:
        timer = {"due": self.t + interval, "interval": interval, "beat": beat, "on": True}
        self._timers.append(timer)
        return lambda: timer.update(on=False)

    def advance(self, seconds: float) -> None:
        end = self.t + seconds
        while due := [t for t in self._timers if t["on"] and t["due"] <= end]:
            timer = min(due, key=lambda t: t["due"])
            self.t, timer["due"] = timer["due"], timer["due"] + timer["interval"]
            timer["beat"]()
        self.t = end

    def kill(self) -> None:
        """The holding process died (kill -9): its heartbeats stop with it, the lease runs out."""
        for timer in self._timers:
            timer["on"] = False


class MemoryLease:
    """One blob's lease with Azure's semantics (Lease Blob): acquire is atomic and takes the id the
    caller proposes — granted when the lease is free (never leased, released, broken or expired) or
    already held by that same id (the acquire is then a renew: a retried acquire whose first answer
    was lost), refused (None: 409) when another id holds it; renew and release only by the holding
    id (LeaseLost: 409), break by anyone. Fault points as the provider fails (`lease.acquire`,
    `lease.renew`, `lease.release`, each also `:after` once the call landed): 429/500/drop surface as
    LockedError `lock_unavailable` (its SDK retries spent), kill/sigint as for every port."""

    location = "memory://lock"

    def __init__(self, faults: Faults | None = None, clock: LeaseClock | None = None) -> None:
        self._mutex = threading.Lock()
        self.faults = faults or Faults()
        self.clock = clock or LeaseClock()
        self.lease_id: str | None = None
        self.expires = 0.0
        self.record: LockRecord | None = None
        self.renewals = 0
        self.seconds = 0

    def _check(self, operation: str) -> None:
        try:
            self.faults.check(operation)
        except DeployError as exc:
            what = operation.split(".", 1)[1].split(":", 1)[0]
            raise LockedError(
                f"could not {what} the environment lock: {exc.message}",
                hint="the storage account was unreachable; nothing was changed — try again",
                code="lock_unavailable",
            ) from None

    def _held(self) -> bool:
        return self.lease_id is not None and self.clock.now() < self.expires

    def try_acquire(self, claim: LockRecord, seconds: int, lease_id: str) -> str | None:
        self._check("lease.acquire")
        with self._mutex:
            if self._held() and self.lease_id != lease_id:
                return None
            self.lease_id, self.expires, self.record = lease_id, self.clock.now() + seconds, claim
            self.seconds = seconds
        self._check("lease.acquire:after")
        return lease_id

    def holder(self) -> LockRecord | None:
        with self._mutex:
            return self.record if self._held() else None

    def renew(self, lease_id: str) -> None:
        self._check("lease.renew")
        with self._mutex:
            if lease_id != self.lease_id:  # taken, released or broken (an expired one still renews)
                raise LeaseLost("LeaseIdMismatchWithLeaseOperation")
            self.expires = self.clock.now() + self.seconds
            self.renewals += 1
        self._check("lease.renew:after")

    def release(self, lease_id: str) -> None:
        self._check("lease.release")
        with self._mutex:
            if lease_id != self.lease_id:
                raise LeaseLost("LeaseIdMismatchWithLeaseOperation")
            self.lease_id = None
        self._check("lease.release:after")

    def break_lease(self) -> None:
        with self._mutex:
            self.lease_id = None


class MemoryCloud:
    def __init__(self, world: World) -> None:
        self.world = world
        self.leases: dict[str, MemoryLease] = {}
        self.dataset_store = MemoryDatasets()
        self.dataset_registry_fake = MemoryDatasetRegistry()
        self.registry_endpoint: str | None = None

    def datasets(self, target: Any, resource_group: str, account: str | None) -> MemoryDatasets:
        return self.dataset_store

    def dataset_registry(self, target: Any, project_endpoint: str) -> MemoryDatasetRegistry:
        self.registry_endpoint = project_endpoint
        return self.dataset_registry_fake

    def lock(self, target: Any, resource_group: str, environment: str, account: str | None) -> MemoryLease:
        if environment not in self.leases:  # one lease per environment, as on its storage account
            self.leases[environment] = MemoryLease(self.world.faults, self.world.lease_clock)
        return self.leases[environment]

    def provisioned(self, target: Any, resource_group: str, deployment: str) -> None:
        raise GenAIOpsError("not provisioned here")

    def sign_in_ahead(self, target: Any) -> None:
        self.world.sign_ins_ahead += 1

    def registry(self, target: Any, resource_group: str, registry: str) -> MemoryRegistry:
        return self.world.registries[registry]

    def http(self) -> MemoryHttp:
        return self.world.http


class World:
    """Two environments (dev: direct, prod: blue/green) with their registries, ledgers and hosts."""

    def __init__(self, tmp_path: Path, prod_extra: str = "", manifest: str = MANIFEST) -> None:
        """`prod_extra`: more YAML for prod's section (e.g. `strategy: canary` and its steps);
        `manifest`: another project (its services build from src/agent)."""
        from genaiops_cli.core.manifest.loader import load_manifest

        (tmp_path / "src" / "agent").mkdir(parents=True)
        (tmp_path / "src" / "agent" / "Dockerfile").write_text("FROM scratch\n")
        if "strategy:" in prod_extra:
            manifest = manifest.replace(
                "    strategy: bluegreen\n    gates: [smoke]\n", "    gates: [smoke]\n"
            )
        (tmp_path / "genaiops.yaml").write_text(manifest + prod_extra)
        self.manifest = load_manifest(tmp_path / "genaiops.yaml")
        self.faults = Faults()
        self.lease_clock = LeaseClock()
        self.broken: set[str] = set()
        self.sign_ins_ahead = 0
        self.registries = {
            "crdev": MemoryRegistry("crdev.azurecr.io", self.faults),
            "crprod": MemoryRegistry("crprod.azurecr.io", self.faults),
        }
        prod_strategy = self.manifest.environments["prod"].strategy
        self.hosts = {
            "dev": MemoryHost(self.manifest.environments["dev"].strategy, self.faults),
            "prod": MemoryHost(prod_strategy, self.faults),
        }
        self.http = MemoryHttp(self)
        self.envs = {name: self.open(name) for name in ("dev", "prod")}

    def open(self, name: str) -> Environment:
        cloud = MemoryCloud(self)
        env = open_environment(
            self.manifest, name, cloud, {"containerapp": lambda e, t: self.hosts[name]}, provisioned=None
        )
        assert isinstance(env.target, AzureTarget)
        return env

    def ledger(self, env: str) -> MemoryLedger:
        return self.registries[f"cr{env}"].ledger()


class MemoryDatasets:
    """DatasetStore in memory: files and records per (name, version); `tamper` changes stored bytes
    after the push, as a writer with access to the account could."""

    location = "memory://datasets"

    def __init__(self) -> None:
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.puts = 0

    def names(self) -> list[str]:
        return sorted({n for n, _ in self.records})

    def versions(self, name: str) -> list[Mapping[str, Any]]:
        found = [r for (n, _), r in self.records.items() if n == name]
        return [{k: v for k, v in r.items() if k != "files"} for r in found]

    def put(self, name: str, version: str, files: Mapping[str, bytes], record: Mapping[str, Any]) -> bool:
        if (name, version) in self.records:
            return False
        self.puts += 1
        for rel, data in files.items():
            self.files[(name, version, rel)] = bytes(data)
        self.records[(name, version)] = json.loads(json.dumps(dict(record)))
        return True

    def record(self, name: str, version: str) -> Mapping[str, Any]:
        return self.records[(name, version)]

    def read(self, name: str, version: str, path: str) -> bytes:
        return self.files[(name, version, path)]

    def tamper(self, name: str, version: str, path: str, data: bytes) -> None:
        self.files[(name, version, path)] = data

    def url(self, name: str, version: str, path: str = "") -> str:
        return f"https://memory.blob/datasets/{name}/{version}/files/{path}".rstrip("/")


class MemoryDatasetRegistry:
    """DatasetRegistry in memory (a Foundry project's datasets): wire-shaped versions per name;
    `registrations` counts create_or_update calls."""

    location = "https://memory.services.ai.azure.com/api/projects/p"

    def __init__(self) -> None:
        self.sets: dict[str, dict[str, dict[str, Any]]] = {}
        self.registrations = 0

    def names(self) -> list[str]:
        return sorted(n for n, v in self.sets.items() if v)

    def versions(self, name: str) -> list[dict[str, Any]]:
        return [dict(v) for v in self.sets.get(name, {}).values()]

    def register(self, name: str, version: str, data_uri: str, folder: bool, tags: Mapping[str, str]) -> None:
        self.registrations += 1
        self.sets.setdefault(name, {})[version] = {
            "name": name,
            "version": version,
            "type": "uri_folder" if folder else "uri_file",
            "dataUri": data_uri,
            "tags": dict(tags),
        }
