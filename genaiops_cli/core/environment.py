"""Open an environment once: (manifest, environment name) → an immutable `Environment` holding the
configuration merged with what provisioning created, the Azure target, the registry, the ledger and
the host of each service. Every command starts from one (genaiops_cli/wiring.open_environment hands
in the providers; context.py caches one per name). Opening never edits the manifest: the merged
configuration is a copy."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import app_secrets, connections
from genaiops_cli.core.cloud import AzureTarget, target_for
from genaiops_cli.errors import DeployError, GenAIOpsError, UsageError

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import Manifest, ResolvedEnvironment
    from genaiops_cli.core.ports import (
        Cloud,
        DatasetStore,
        Host,
        HostFactory,
        HttpClients,
        LedgerStore,
        Registry,
    )
    from genaiops_cli.core.provisioning import ProvisionedState

# Held while a lazily built part (registry, ledger, host) is built: Python 3.12's cached_property no
# longer locks, and a part built twice by two threads would sign in and look up twice.
_BUILDING = threading.RLock()

# Settings provisioning may supply when the manifest leaves them out.
PROVISIONED_FIELDS = ("registry", "containerapps_environment", "identity")


@dataclass(frozen=True)
class Environment:
    """One opened environment. Registry, ledger and hosts are built on first use (opening costs
    no call to Azure unless the manifest leaves a provisioned setting out)."""

    name: str
    manifest: Manifest
    resolved: ResolvedEnvironment  # a copy, merged with provisioned outputs
    target: AzureTarget
    cloud: Cloud = field(repr=False)
    host_factories: Mapping[str, HostFactory | None] = field(repr=False)
    timeout: float = 600

    @property
    def config(self) -> Any:
        return self.resolved.config

    @property
    def services(self) -> list[str]:
        """Every service of this environment, in manifest order."""
        return list(self.resolved.services)

    @cached_property
    def registry(self) -> Registry:
        from genaiops_cli.core.provisioning import missing_setting

        if not self.config.registry:
            raise missing_setting(self.name, "registry")
        with _BUILDING:  # readers on several threads (status) share one, built once
            if "registry" not in self.__dict__:
                built = self.cloud.registry(self.target, self.config.resource_group, self.config.registry)
                self.__dict__["registry"] = built
            return self.__dict__["registry"]  # type: ignore[no-any-return]

    @cached_property
    def ledger(self) -> LedgerStore:
        with _BUILDING:
            if "ledger" not in self.__dict__:
                self.__dict__["ledger"] = self.registry.ledger()
            return self.__dict__["ledger"]  # type: ignore[no-any-return]

    @cached_property
    def lock(self) -> Any:
        """The environment's lease lock (core/lock.py), or None: the timed lock on the ledger then.
        Lives in the storage account provisioning created (its `storageAccountName` output)."""
        state = provisioned_state(self.manifest, self.name, self.cloud, self.target)
        account = (state.outputs.get("storageAccountName") if state else None) or None
        return self.cloud.lock(self.target, self.config.resource_group, self.name, account)

    @cached_property
    def datasets(self) -> DatasetStore:
        """The environment's dataset store, in the same storage account as the lock; when the
        environment has a Foundry project, its versions are registered there and read from there."""
        from genaiops_cli.core.datasets import RegisteredDatasets

        state = provisioned_state(self.manifest, self.name, self.cloud, self.target)
        account = (state.outputs.get("storageAccountName") if state else None) or None
        store = self.cloud.datasets(self.target, self.config.resource_group, account)
        if store is None:
            raise UsageError(
                f"environment {self.name!r} has no storage account for datasets",
                hint=f"run `genaiops provision -e {self.name}` (it creates one)",
            )
        endpoint = foundry_endpoint(self.config, state)
        if endpoint:
            return RegisteredDatasets(store, self.cloud.dataset_registry(self.target, endpoint))
        return store

    @cached_property
    def http(self) -> HttpClients:
        return self.cloud.http()

    def host_kind(self, service: str) -> str:
        return str(self.resolved.services[service].host)

    def host(self, service: str) -> Host:
        """The Host running `service`; a host kind with no implementation fails with exit 7."""
        return self._host(self.host_kind(service))

    def _host(self, kind: str) -> Host:
        cache: dict[str, Host] = self.__dict__.setdefault("_hosts", {})
        if kind in cache:
            return cache[kind]
        with _BUILDING:
            return self._build_host(cache, kind)

    def _build_host(self, cache: dict[str, Host], kind: str) -> Host:
        if kind not in cache:
            factory = self.host_factories.get(kind)
            if factory is None:
                raise DeployError(
                    f"host kind {kind!r} has no implementation in this version of genaiops",
                    hint="implemented: "
                    + ", ".join(k for k, f in self.host_factories.items() if f is not None)
                    + "; see docs/architecture.md (adding a host kind)",
                    code="host_not_implemented",
                )
            cache[kind] = factory(self, self.timeout)
        return cache[kind]

    def select(self, names: list[str] | None = None) -> list[str]:
        """The services a command acts on: `names` (checked), else all of them."""
        wanted = list(names or [])
        unknown = [n for n in wanted if n not in self.resolved.services]
        if unknown:
            raise UsageError(
                f"unknown service {', '.join(unknown)}", hint=f"services: {', '.join(self.services)}"
            )
        return wanted or self.services


def open_environment(
    manifest: Manifest,
    name: str,
    cloud: Cloud,
    host_factories: Mapping[str, HostFactory | None],
    timeout: float = 600,
    provisioned: ProvisionedState | None | bool = False,
    wire_services: bool = True,
) -> Environment:
    """`provisioned`: the provisioning outputs when the caller has them (tests), else False to read
    them (only when the manifest leaves one of PROVISIONED_FIELDS out, or services need them wired).
    `wire_services=False`: the caller uses only the registry and target (build, push), so the
    services' connections and telemetry, which read provisioning outputs from ARM (a sign-in and a
    request), are left unresolved."""
    if name not in manifest.environments:
        raise UsageError(
            f"unknown environment {name!r}", hint=f"environments: {', '.join(manifest.environments)}"
        )
    resolved = manifest.environment(name)
    config = resolved.config
    target = target_for(config.cloud, config.subscription, dict(config.resolve), config.azure_cloud)
    wanted = missing_fields(config)
    state = None
    telemetry = wire_services and any(app_secrets.wants_telemetry(s) for s in resolved.services.values())
    if wanted or (wire_services and connections.needed(resolved)) or telemetry:
        state = provisioned_state(manifest, name, cloud, target) if provisioned is False else provisioned
    if wanted:
        filled = {f: getattr(state, f) for f in wanted if state and getattr(state, f, None)}
        if filled:
            resolved = dataclasses.replace(resolved, config=config.model_copy(update=filled))
    if wire_services and connections.needed(resolved):  # provisioned values a service asked for
        resolved = connections.wire(resolved, dict(state.outputs) if state else {})
    reference = state.outputs.get(app_secrets.TELEMETRY_OUTPUT) if state else None
    if telemetry and reference:  # apps get the connection string as a secret reference (deploy.py)
        resolved = dataclasses.replace(resolved, telemetry=str(reference))
    return Environment(name, manifest, resolved, target, cloud, host_factories, timeout)


def foundry_endpoint(config: Any, state: ProvisionedState | None) -> str | None:
    """The environment's Foundry project endpoint: the manifest's `foundry_project`, else the
    `foundryProjectEndpoint` output of `genaiops provision`, else None (no project)."""
    outputs: Mapping[str, Any] = state.outputs if state else {}
    return config.foundry_project or outputs.get("foundryProjectEndpoint") or None


def missing_fields(config: Any) -> list[str]:
    wanted = [f for f in PROVISIONED_FIELDS if not getattr(config, f)]
    if config.connected_environment and "containerapps_environment" in wanted:
        wanted.remove("containerapps_environment")
    return wanted


# (project dir, environment) -> provisioned state, read once per process.
_PROVISIONED: dict[tuple[str, str], ProvisionedState | None] = {}


def provisioned_state(
    manifest: Manifest, env_name: str, cloud: Cloud, target: AzureTarget
) -> ProvisionedState | None:
    """The outputs of the environment's `genaiops provision`: read from its deployment in Azure (the
    source of truth), else from the local cache when Azure can't be asked. Once per process."""
    from genaiops_cli.core import provisioning

    key = (str(manifest.base_dir.resolve()), env_name)
    if key in _PROVISIONED:
        return _PROVISIONED[key]
    config = manifest.environment(env_name).config
    deployment = provisioning.deployment_name(env_name)
    state: ProvisionedState | None
    try:
        found = cloud.provisioned(target, config.resource_group, deployment)
        props = (found or {}).get("properties") or {}
        if found is None or props.get("provisioningState") != "Succeeded":
            state = None
        else:
            state = provisioning.ProvisionedState.from_arm_outputs(
                env_name,
                config.resource_group,
                deployment,
                props.get("outputs"),
                str(props.get("timestamp") or ""),
            )
    except GenAIOpsError:
        state = provisioning.load_cached(manifest.base_dir, env_name)
    _PROVISIONED[key] = state
    return state
