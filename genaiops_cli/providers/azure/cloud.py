"""core.ports.Cloud for Azure (and the stand-in, which is Azure at another address)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: `eval --url` reaches Http without loading the lock, ledger and ports
    from genaiops_cli.core.cloud import AzureTarget
    from genaiops_cli.core.lock import LeaseBackend
    from genaiops_cli.core.ports import DatasetRegistry, DatasetStore, HttpClients, Registry


class Http:
    """core.ports.HttpClients: httpx (providers/http) for clients, row_client for the evaluation runner."""

    def client(
        self, resolve: Mapping[str, str], ca_bundle: str | None, timeout: float, **options: Any
    ) -> Any:
        from genaiops_cli.providers.http import http_client

        return http_client(resolve=resolve, ca_bundle=ca_bundle, timeout=timeout, **options)

    def row_client(self, resolve: Mapping[str, str], ca_bundle: str | None, timeout: float) -> Any:
        """For the evaluation runner's many small requests, sent from its worker threads: http.client
        over kept-alive connections (providers/row_client.py; ~4x less CPU per request than httpx)."""
        from genaiops_cli.providers.row_client import RowClient

        return RowClient(resolve, ca_bundle, timeout)


class AzureCloud:
    def provisioned(self, target: AzureTarget, resource_group: str, deployment: str) -> dict[str, Any] | None:
        from genaiops_cli.providers.azure import deployments

        return deployments.get_deployment(target, resource_group, deployment)

    def sign_in_ahead(self, target: AzureTarget) -> None:
        from genaiops_cli.providers.azure import clients

        clients.sign_in_ahead(target)

    def registry(self, target: AzureTarget, resource_group: str, registry: str) -> Registry:
        from genaiops_cli.providers.azure.registry import AzureRegistry

        return AzureRegistry(target, resource_group, registry)

    def http(self) -> HttpClients:
        return Http()

    def lock(
        self, target: AzureTarget, resource_group: str, environment: str, account: str | None
    ) -> LeaseBackend | None:
        from genaiops_cli.providers.azure.blob_lock import lease_backend

        return lease_backend(target, resource_group, environment, account)

    def datasets(self, target: AzureTarget, resource_group: str, account: str | None) -> DatasetStore | None:
        from genaiops_cli.providers.azure.blob_datasets import dataset_store

        return dataset_store(target, resource_group, account)

    def dataset_registry(self, target: AzureTarget, project_endpoint: str) -> DatasetRegistry:
        from genaiops_cli.providers.azure.foundry_datasets import FoundryDatasets

        return FoundryDatasets(target, project_endpoint)
