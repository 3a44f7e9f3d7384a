"""core.ports.Cloud for Azure (and the stand-in, which is Azure at another address)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.core.ports import HttpClients, Registry


class Http:
    """core.ports.HttpClients over providers/http (httpx with a resolve map and a CA)."""

    def client(
        self, resolve: Mapping[str, str], ca_bundle: str | None, timeout: float, **options: Any
    ) -> Any:
        from genaiops_cli.providers.http import http_client

        return http_client(resolve=resolve, ca_bundle=ca_bundle, timeout=timeout, **options)

    def async_client(
        self, resolve: Mapping[str, str], ca_bundle: str | None, timeout: float, **options: Any
    ) -> Any:
        from genaiops_cli.providers.http import async_http_client

        return async_http_client(resolve, ca_bundle, timeout, **options)


class AzureCloud:
    def provisioned(self, target: AzureTarget, resource_group: str, deployment: str) -> dict[str, Any] | None:
        from genaiops_cli.providers.azure import deployments

        return deployments.get_deployment(target, resource_group, deployment)

    def registry(self, target: AzureTarget, resource_group: str, registry: str) -> Registry:
        from genaiops_cli.providers.azure.registry import AzureRegistry

        return AzureRegistry(target, resource_group, registry)

    def http(self) -> HttpClients:
        return Http()
