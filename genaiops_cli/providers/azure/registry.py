"""core.ports.Registry for Azure Container Registry: tags and digests over the registry's data
plane (registry_raw), copies by digest (registry_copy), the ledger (ledger_store)."""

from __future__ import annotations

from functools import cached_property

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.core.ports import CopyResult, LedgerStore, Registry
from genaiops_cli.providers.azure import acr


class AzureRegistry:
    """One registry of one environment: `name` is a resource name or a login server."""

    def __init__(self, target: AzureTarget, resource_group: str, name: str) -> None:
        self.target = target
        self.resource_group = resource_group
        self.name = name

    @cached_property
    def login_server(self) -> str:
        return acr.login_server(self.target, self.resource_group, self.name)

    def cached_login_server(self) -> str | None:
        """The login server as remembered from an earlier ARM lookup (providers/lookup_cache.py), with
        no sign-in and no call; None when not remembered. Good for naming local images only."""
        if acr.is_login_server(self.name):
            return self.name
        return acr.cached_login_server(self.target, self.resource_group, self.name)

    def ref(self, server: str | None = None):
        from genaiops_cli.providers.azure.registry_copy import RegistryRef

        resource = None if acr.is_login_server(self.name) else self.name
        return RegistryRef(self.target, server or self.login_server, self.resource_group, resource)

    def digest(self, repository: str, tag: str) -> str | None:
        return acr.manifest_digest(self.target, self.login_server, repository, tag)

    def has(self, repository: str, digest: str) -> bool:
        from genaiops_cli.providers.azure.registry_raw import raw_registry

        return raw_registry(self.target, self.login_server).has_manifest(repository, digest)

    def copy_from(
        self,
        source: Registry,
        repository: str,
        digest: str,
        tag: str | None,
        method: str = "auto",
        source_server: str | None = None,
    ) -> CopyResult:
        from genaiops_cli.providers.azure.registry_copy import copy_image

        if not isinstance(source, AzureRegistry):
            raise TypeError(f"cannot copy from {type(source).__name__} into Azure Container Registry")
        return copy_image(source.ref(source_server), self.ref(), repository, digest, tag, method)

    def ledger(self) -> LedgerStore:
        from genaiops_cli.providers.azure.ledger_store import RegistryLedgerStore

        return RegistryLedgerStore(self.target, self.login_server)

    def push_auth(self) -> dict[str, str]:
        # Exchanged afresh (and remembered for this registry's later requests): docker reports a refused
        # password only as a failed push, so it never gets a cached token that might be refused.
        token = acr.refresh_token(self.target, self.login_server, fresh=True)
        return {"username": acr.ACR_TOKEN_USER, "password": token, "serveraddress": self.login_server}
