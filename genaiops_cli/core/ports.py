"""The ports: everything core asks of the world outside it, as small Protocols and the plain data
that crosses them. Providers implement these (providers/azure, providers/docker, providers/http);
genaiops_cli/wiring.py is the one module that picks an implementation for each, and core never
imports a provider. Unit tests of core use in-memory fakes of these same Protocols.

Stability: other host kinds implement `Host`; changes to these Protocols are additive only (a new
optional method or field), and each method's docstring is its contract."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

EventFn = Callable[[str, str], None]
"""Progress callback: (service, message). Never receives secrets."""

# Release bookkeeping a host records on a deployed unit (the `tags` of Host.swap / record_live).
RELEASE_TAG = "genaiops-release"  # the release live there (written by promote)
PREVIOUS_RELEASE_TAG = "genaiops-release-previous"  # the one it replaced (rollback swaps the two)


# ------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Endpoint:
    """Where smoke checks and evaluations send requests for one side (label) of one service.

    `protocol` says how to talk to it: "http" is a plain HTTPS base URL that manifest paths are
    joined to (Container Apps); another host kind may define its own protocol (e.g. an agent API) and
    put what a client needs in `headers` / `token`. `resolve` and `ca_bundle` apply to every request
    (the stand-in's name map and CA); verification is never off."""

    url: str
    label: str = "live"
    resolve: Mapping[str, str] = field(default_factory=dict)
    ca_bundle: str | None = None
    protocol: str = "http"
    headers: Mapping[str, str] = field(default_factory=dict)
    token: Callable[[], str] | None = field(default=None, compare=False)  # bearer token, when needed
    query: Mapping[str, str] = field(default_factory=dict)  # added to every request (e.g. api-version)
    body: Mapping[str, Any] = field(default_factory=dict)  # merged into every JSON object body

    def prepare(
        self, headers: Mapping[str, str], json_body: Any
    ) -> tuple[dict[str, str], Any, dict[str, str]]:
        """(headers, JSON body, query) of one request to this endpoint: its own headers and bearer
        token added, its body fields merged into a JSON object body (e.g. the agent session that pins
        a hosted-agent version). The manifest's own values win over the endpoint's headers."""
        out = {**self.headers, **headers}
        if self.token is not None and not any(k.lower() == "authorization" for k in out):
            out["Authorization"] = f"Bearer {self.token()}"
        if self.body and isinstance(json_body, dict):
            json_body = {**json_body, **self.body}
        return out, json_body, dict(self.query)


@dataclass
class LiveService:
    """What one service runs now in one environment (as far as its host can tell)."""

    service: str
    app: str  # the host's name for the deployed unit (Container App name, agent name, …)
    deployed: bool
    live: str | None = None  # live revision / version
    staged: str | None = None
    image: str | None = None  # image of the live revision (…@sha256:… when deployed by digest)
    digest: str | None = None
    release: str | None = None  # release id recorded on the deployed unit
    matches_manifest: bool = False  # live == what this manifest would deploy for that image
    live_label: str | None = None  # the label the live side answers on (baseline for A/B gates)
    previous: str | None = None  # the revision a rollback returns to (None: nothing to go back to)
    previous_release: str | None = None  # the release recorded on the unit as the previous one


@dataclass
class DeployOutcome:
    """What `Host.deploy` did for one service."""

    service: str
    app: str
    revision: str
    image: str
    action: str  # created | staged | live | unchanged
    strategy: str
    app_url: str | None = None
    label: str | None = None
    label_url: str | None = None
    deactivated: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CopyResult:
    """What `Registry.copy_from` did."""

    repository: str
    digest: str
    method: str  # present | retag | blobs | import
    blobs_copied: int = 0
    bytes_copied: int = 0
    seconds: float = 0.0
    tag: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ------------------------------------------------------------------------------------------ ports


class LedgerStore(Protocol):
    """JSON documents under tags in one environment's ledger (an OCI repository on Azure)."""

    location: str  # human-readable place, e.g. "<login server>/genaiops/ledger"

    def put(self, tag: str, kind: str, document: dict[str, Any]) -> str:
        """Write `document` under `tag` (replacing what was there); `kind` is a key of
        core/ledger.ARTIFACT_TYPES. Returns the stored document's digest."""
        ...

    def get(self, tag: str) -> dict[str, Any] | None:
        """The document under `tag`, or None when there is none."""
        ...

    def tags(self, prefix: str = "") -> list[str]:
        """Every tag starting with `prefix` (any order)."""
        ...


class Lease(Protocol):
    """A held environment lock (core/lock.Held satisfies it)."""

    def renew(self) -> None:
        """Push the lock's expiry out; cheap to call after every step."""
        ...


@runtime_checkable
class Registry(Protocol):
    """One environment's container registry: images by digest, and its ledger."""

    @property
    def login_server(self) -> str:
        """The registry's host name (`<name>.azurecr.io`); image references start with it."""
        ...

    def digest(self, repository: str, tag: str) -> str | None:
        """The digest `repository:tag` points at, or None when the tag does not exist."""
        ...

    def has(self, repository: str, digest: str) -> bool:
        """Whether `repository@digest` is present."""
        ...

    def copy_from(
        self,
        source: Registry,
        repository: str,
        digest: str,
        tag: str | None,
        method: str = "auto",
        source_server: str | None = None,
    ) -> CopyResult:
        """Ensure this registry holds `repository@digest` from `source` (tagged `tag`), never
        changing the digest. Idempotent: a digest already present is only (re)tagged. `method`:
        auto | blobs | import. `source_server` overrides the source's login server (an image
        deployed from another server of the same registry)."""
        ...

    def ledger(self) -> LedgerStore:
        """The ledger kept in this registry (repository genaiops/ledger)."""
        ...

    def push_auth(self) -> dict[str, str]:
        """What a container engine pushes with: {username, password, serveraddress}, the password
        a short-lived token (never printed)."""
        ...


@runtime_checkable
class Host(Protocol):
    """Where one host kind (manifest `host:`) runs services of one environment.

    All methods take the manifest's service name; the host maps it to its own unit (app, agent).
    Every method that changes something is idempotent: calling it again with the same arguments
    converges on the same state and creates nothing twice. A method that cannot do what it is asked
    raises a GenAIOpsError (DeployError for deploy/swap/rollback, exit 7) with a hint, and leaves
    live traffic where it was."""

    kind: str
    capabilities: frozenset[str]  # e.g. {"revisions", "labels", "traffic_split", "label_urls"}

    def expected_revision(self, service: str, image: str) -> str:
        """The revision (version) name `deploy(service, image)` would produce with this
        environment's configuration, without calling anything that changes state. Deterministic."""
        ...

    def current(self, service: str) -> LiveService:
        """What runs now: live/staged revision, the live image and digest, the release recorded on
        it, and whether the live revision is what this manifest would deploy for that image."""
        ...

    def has_revision(self, service: str, revision: str) -> bool:
        """Whether `revision` exists (active or not)."""
        ...

    def deploy(self, service: str, image: str, timeout: float, on_event: EventFn) -> DeployOutcome:
        """Put `image` (pinned by digest) on the service. With nothing live, or strategy direct, it
        takes 100 % once healthy; with strategy bluegreen and something live, it is staged at 0 %
        on a label and live traffic is untouched. A revision that fails is deactivated and the
        error raised; live keeps 100 %. Re-deploying what is live or staged changes nothing."""
        ...

    def swap(self, service: str, on_event: EventFn, tags: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Move 100 % of traffic to the staged revision in one write (the old live stays warm for
        rollback); `tags` (release bookkeeping) ride on the same write. Raises when nothing healthy
        is staged. Returns {service, app, live, previous, deactivated}."""
        ...

    def record_live(self, service: str, tags: Mapping[str, str]) -> dict[str, Any]:
        """Write release bookkeeping `tags` on a service whose live revision is already the wanted
        one, moving no traffic. Returns {live, note}."""
        ...

    def rollback_plan(self, service: str) -> dict[str, Any]:
        """What `rollback` would do, changing nothing: {service, live, previous}. Raises DeployError
        (code no_previous / not_deployed) when it cannot happen, so callers check before they ask."""
        ...

    def rollback(self, service: str, timeout: float, on_event: EventFn) -> dict[str, Any]:
        """Back to the previous live revision in one write (re-activated and waited for if needed).
        Returns {service, app, live, rolled_back_from, release, rolled_back_release}."""
        ...

    def remove(self, service: str, on_event: EventFn) -> dict[str, Any]:
        """Delete the service's unit (app, job, agent) with every revision in it, so nothing of it
        serves. Only for undoing a first release that this very command created and that failed its
        gates (there is no previous revision to roll back to): the environment had no such unit.
        Nothing to delete is not an error. Returns {service, app, removed}."""
        ...

    def restart(
        self, service: str, revision: str | None, timeout: float, on_event: EventFn
    ) -> dict[str, Any]:
        """Restart `revision` (default: the live one) in place — same name, same traffic — and wait
        until it is healthy again; an inactive one is activated. For a revision that failed for a
        transient reason. Returns {service, app, revision, role}. A host that cannot restart raises
        DeployError (code restart_unsupported)."""
        ...

    def status(self, service: str) -> dict[str, Any]:
        """Revisions, roles, traffic, labels and URLs, for `genaiops status` (JSON-able)."""
        ...

    def observe(self, service: str) -> tuple[dict[str, Any], LiveService]:
        """`status(service)` and what runs (`current(service)`, except that `matches_manifest` may
        be left False), read once: `genaiops status` shows the one and checks the ledger against
        the other."""
        ...

    def endpoint(self, service: str, label: str) -> Endpoint:
        """Where to send requests for `label`: live | staged | a literal label (blue/green).
        Raises DeployError when that side does not exist."""
        ...


class HttpClients(Protocol):
    """HTTP clients for endpoints (httpx-compatible), honouring an endpoint's resolve map and CA."""

    def client(
        self, resolve: Mapping[str, str], ca_bundle: str | None, timeout: float, **options: Any
    ) -> AbstractContextManager[Any]:
        """A synchronous client, as a context manager. `options` go to the client (e.g. limits)."""
        ...

    def row_client(self, resolve: Mapping[str, str], ca_bundle: str | None, timeout: float) -> Any:
        """The evaluation runner's client, called from many threads at once: `request(method, url,
        headers=, timeout=, json=|content=)` → status_code, headers, content; `close()`."""
        ...


class Cloud(Protocol):
    """What opening an environment asks its cloud for, besides hosts (providers/azure)."""

    def provisioned(self, target: Any, resource_group: str, deployment: str) -> dict[str, Any] | None:
        """The ARM deployment `deployment` as JSON, or None when it does not exist. Raises a
        GenAIOpsError when the cloud cannot be asked (the caller then uses the local cache)."""
        ...

    def registry(self, target: Any, resource_group: str, registry: str) -> Registry:
        """The registry named `registry` (a resource name or a login server)."""
        ...

    def sign_in_ahead(self, target: Any) -> None:
        """Start signing in to `target` now, on a thread, from the calling thread: a caller about to
        read on several threads at once calls it first, so they share one credential and one
        token request instead of each signing in."""
        ...

    def http(self) -> HttpClients:
        """HTTP clients for endpoints."""
        ...

    def lock(self, target: Any, resource_group: str, environment: str, account: str | None) -> Any:
        """The environment's atomic lock (a core.lock.LeaseBackend: a blob lease on `account`, the
        environment's storage account), or None when there is nothing to lease on."""
        ...

    def datasets(self, target: Any, resource_group: str, account: str | None) -> DatasetStore | None:
        """The environment's dataset store (blobs in `account`), or None without a storage account."""
        ...

    def dataset_registry(self, target: Any, project_endpoint: str) -> DatasetRegistry:
        """The dataset registry of the Foundry project at `project_endpoint` (azure-ai-projects)."""
        ...


class DatasetStore(Protocol):
    """Versioned datasets in one environment's storage account (versions are content addresses,
    computed by core/datasets.py). A version is visible once its record is written, and the record
    is written after its files, so a half-finished push is invisible and a re-push completes it."""

    location: str  # where the datasets live, for messages (never carries a credential)

    def names(self) -> list[str]:
        """Every dataset name with at least one recorded version, sorted."""
        ...

    def versions(self, name: str) -> list[Mapping[str, Any]]:
        """The records of every version of `name` (version, sha256, files, bytes, created, …); []
        when there is none. Order is not significant."""
        ...

    def put(self, name: str, version: str, files: Mapping[str, bytes], record: Mapping[str, Any]) -> bool:
        """Store `files` (relative path → bytes) as `name@version`, then its record. Idempotent:
        False (and nothing written) when that version is already recorded."""
        ...

    def record(self, name: str, version: str) -> Mapping[str, Any]:
        """The full record of a recorded version, with `files` (relative path → SHA-256)."""
        ...

    def read(self, name: str, version: str, path: str) -> bytes:
        """One file of a recorded version (KeyError when absent)."""
        ...

    def url(self, name: str, version: str, path: str = "") -> str:
        """Where a version's file lives (with `path` empty: the folder of its files), as a URL with
        no query string, so it can be handed to a registry without carrying a credential."""
        ...


class DatasetRegistry(Protocol):
    """The versioned datasets of a Foundry project (azure-ai-projects `datasets`): named versions
    that point at data (`dataUri`) and carry tags; the bytes stay in the DatasetStore. Wire shapes
    as plain dicts (`name`, `version`, `type`, `dataUri`, `tags`, …)."""

    location: str  # the project endpoint, for messages

    def names(self) -> list[str]:
        """Every dataset name in the project, sorted."""
        ...

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Every registered version of `name` ([] when there is none)."""
        ...

    def register(self, name: str, version: str, data_uri: str, folder: bool, tags: Mapping[str, str]) -> None:
        """Create version `version` of `name` pointing at `data_uri` (a uri_folder when `folder`)."""
        ...


class HostFactory(Protocol):
    """Builds the Host for one host kind in one opened environment (a line of the wiring table)."""

    def __call__(self, env: Any, timeout: float) -> Host:
        """`env` is the core.environment.Environment being opened (config, target, registry)."""
        ...


# ------------------------------------------------------------ the Container Apps host's cloud API


class ContainerAppsApi(Protocol):
    """The Azure Container Apps ARM calls the Container Apps host makes, in the REST wire shape
    (plain dicts exactly as the spec defines them). providers/azure/containerapps.py implements it;
    tests use an in-memory fake."""

    def managed_environment(self, name: str) -> dict[str, Any]: ...

    def connected_environment(self, name: str) -> dict[str, Any]: ...

    def get_app(self, name: str) -> dict[str, Any] | None:
        """The app, or None when it does not exist."""
        ...

    def put_app(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def patch_app(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def delete_app(self, name: str) -> None:
        """Delete the app and its revisions (waits for the operation; absent: nothing to do)."""
        ...

    def revisions(self, app: str) -> list[dict[str, Any]]: ...

    def revision(self, app: str, revision: str) -> dict[str, Any] | None:
        """The revision, or None when it does not exist."""
        ...

    def activate(self, app: str, revision: str) -> None: ...

    def deactivate(self, app: str, revision: str) -> None: ...

    def restart(self, app: str, revision: str) -> None:
        """Restart an active revision's replicas (Revisions_RestartRevision); its name, template and
        traffic stay as they are."""
        ...

    def resolve_reference(self, reference: str) -> str | None:
        """`<resourceId>#properties.<Name>`: that property of the resource, read through ARM (e.g. an
        Application Insights component's ConnectionString), or None when it has none. The value is a
        secret: callers put it in a request body and nowhere else."""
        ...


# -------------------------------------------------------- the Container Apps jobs host's cloud API


class ContainerAppJobsApi(Protocol):
    """The Azure Container Apps job calls (Microsoft.App/jobs) the job host makes, in the REST wire
    shape. providers/azure/containerapp_jobs.py implements it; tests use an in-memory fake."""

    def managed_environment(self, name: str) -> dict[str, Any]: ...

    def connected_environment(self, name: str) -> dict[str, Any]: ...

    def get_job(self, name: str) -> dict[str, Any] | None:
        """The job, or None when it does not exist."""
        ...

    def put_job(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def patch_job(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def delete_job(self, name: str) -> None:
        """Delete the job (waits for the operation; absent: nothing to do)."""
        ...

    def start(self, name: str) -> str:
        """Start an execution with the job's template (Jobs_Start); returns the execution's name."""
        ...

    def executions(self, name: str) -> list[dict[str, Any]]:
        """The job's executions (JobExecution wire shape), newest first."""
        ...

    def execution(self, name: str, execution: str) -> dict[str, Any] | None:
        """One execution, or None when it does not exist."""
        ...

    def stop_execution(self, name: str, execution: str) -> None: ...

    def logs(self, name: str, execution: str, tail: int) -> list[dict[str, Any]]:
        """The console output of every replica and container of an execution, the way `az containerapp
        job logs show` reads it: [{replica, container, lines: [{time, text}]}] (last `tail` lines each)."""
        ...


# ---------------------------------------------------------------------------------- build and push


class ImageEngine(Protocol):
    """A local container engine (providers/docker/builder.py): build, tag and push images."""

    def image_id(self, reference: str) -> str | None:
        """The local image id of `reference`, or None when the engine does not have it."""
        ...

    def build(
        self,
        context: Any,
        tags: list[str],
        build_args: dict[str, str],
        labels: dict[str, str],
        platform: str | None,
        target: str | None,
        no_cache: bool,
        on_line: Callable[[str], None] | None = None,
    ) -> Any:
        """Build `context` (core.build_context.BuildContext) under `tags`; returns an object with
        `image_id`. Raises BuildError (exit 6) with the build's last lines on failure."""
        ...

    def tag(self, source: str, repository: str, tag_name: str) -> None: ...

    def push(
        self,
        repository: str,
        tag: str,
        auth: dict[str, str] | None,
        on_status: Callable[[str], None] | None = None,
    ) -> str:
        """Push `repository:tag`; returns the digest the engine reports."""
        ...


class RemoteBuilder(Protocol):
    """Builds in the registry itself (ACR Tasks), for `build.remote` / `--remote`."""

    def resource(self) -> tuple[str, str]:
        """(resource group, registry name) the runs are scheduled on."""
        ...

    def build(
        self,
        context: Any,
        images: list[str],
        build_args: dict[str, str],
        platform: str | None,
        stage: str | None,
        no_cache: bool,
        on_line: Callable[[str], None] | None = None,
    ) -> Any:
        """Build and push `images` (`repository:tag`, the first is the identity); returns an object
        with `run_id` and `digest`."""
        ...


class ArmDeployments(Protocol):
    """ARM template deployments at resource-group scope (providers/azure/deployments.py)."""

    def ensure_resource_group(self, target: Any, name: str, location: str, tags: dict[str, str]) -> bool:
        """Create the group when missing; True when it was created."""
        ...

    def what_if(
        self,
        target: Any,
        resource_group: str,
        deployment: str,
        template: Any,
        parameters: Any,
        timeout: float = 600,
    ) -> dict[str, Any]: ...

    def deploy(
        self,
        target: Any,
        resource_group: str,
        deployment: str,
        template: Any,
        parameters: Any,
        on_operation: Callable[[dict[str, Any]], None] | None = None,
        timeout: float = 1800,
    ) -> dict[str, Any]: ...

    def get_deployment(self, target: Any, resource_group: str, deployment: str) -> dict[str, Any] | None: ...


# -------------------------------------------------------------- the Foundry agent host's cloud API


class FoundryAgentsApi(Protocol):
    """The Foundry project data-plane calls the hosted-agent host makes (azure-ai-projects, wire
    shapes as plain dicts). providers/azure/foundry.py implements it; tests use an in-memory fake."""

    endpoint: str  # the project endpoint, https://<account>.services.ai.azure.com/api/projects/<p>

    def agent(self, name: str) -> dict[str, Any] | None:
        """The agent, or None when it does not exist."""
        ...

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Every version of the agent (empty when it does not exist)."""
        ...

    def version(self, name: str, version: str) -> dict[str, Any] | None: ...

    def create_version(
        self, name: str, definition: dict[str, Any], metadata: dict[str, str]
    ) -> dict[str, Any]: ...

    def delete_version(self, name: str, version: str) -> None: ...

    def delete_agent(self, name: str) -> None:
        """Delete the agent with all its versions (absent: nothing to do)."""
        ...

    def set_selector(self, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
        """Replace the endpoint's version selection rules (the one write that moves traffic)."""
        ...

    def create_session(self, name: str, version: str) -> str:
        """A session pinned to `version`; returns its agent_session_id."""
        ...

    def token(self) -> str:
        """A bearer token for the project's data plane (audience https://ai.azure.com)."""
        ...


class MonitorPort(Protocol):
    """Azure Monitor resources of one subscription (providers/azure/monitor.py); bodies are ARM JSON
    with REST field names. `kind` is "actionGroup", "metricAlert" or "scheduledQueryRule"."""

    subscription_id: str  # the target's: resource ids in rule bodies use it

    def get(self, kind: str, resource_group: str, name: str) -> dict[str, Any] | None: ...

    def put(self, kind: str, resource_group: str, name: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def delete(self, kind: str, resource_group: str, name: str) -> None: ...

    def list(self, kind: str, resource_group: str) -> list[dict[str, Any]]: ...

    def alert_condition(self, resource_group: str, name: str) -> str:
        """'Fired' or 'Resolved': a metric alert's monitored condition now."""
        ...


class LogsQuery(Protocol):
    """Log Analytics queries (KQL) through azure-monitor-query's LogsQueryClient
    (providers/azure/logs.py): the data Application Insights and Container Apps logs hold."""

    def query(self, scope: str, kql: str, window_seconds: float) -> list[dict[str, Any]]:
        """Rows (column → value) of the query's result over the last `window_seconds`. `scope` is a
        workspace id (the GUID `customerId`) or a resource id (an Application Insights component, a
        workspace, a Container App) for a resource-centric query. Raises ProvisionError when the
        service refuses the query."""
        ...


class TrafficSplit(Protocol):
    """Moves part of a service's traffic to its staged revision (a host with "traffic_split")."""

    def sides(self, service: str) -> tuple[str, str]:
        """(stable, canary): the live and the staged revision. Raises DeployError when nothing is
        staged or the staged revision is not healthy."""
        ...

    def split(self, service: str, canary_weight: int, on_event: EventFn) -> None:
        """Live gets 100 - canary_weight %, staged canary_weight %, in one traffic write."""
        ...

    def abort(self, service: str, on_event: EventFn) -> None:
        """Back to stable: live 100 %, staged 0 % (still staged), in one traffic write."""
        ...


class RevisionMetrics(Protocol):
    """Platform metrics per revision of a service (providers/azure/monitor.py)."""

    def revision_stats(self, service: str, window_seconds: float) -> dict[str, dict[str, Any]]:
        """revision → {requests, errors_5xx, average_ms} over the last `window_seconds`."""
        ...


# ---------------------------------------------------------------------------------- batch evaluation


class BatchBackend(Protocol):
    """Runs a batch evaluation's shards as a job execution in an environment
    (providers/azure/batch_eval.py: Blob storage + a Container Apps Job)."""

    def submit(
        self, run_id: str, config: Mapping[str, Any], shards: Sequence[bytes], parallelism: int
    ) -> str:
        """Store the run's config and shards, start an execution of `parallelism` replicas; its name."""
        ...

    def progress(self, run_id: str, execution: str) -> tuple[str, int, str | None]:
        """(execution status as Azure reports it, shards with a result, why it failed or None)."""
        ...

    def results(self, run_id: str, shards: int) -> list[bytes]:
        """Every shard's result lines (JSONL), in shard order."""
        ...

    def stop(self, execution: str) -> None:
        """Stop the execution (every replica)."""
        ...
