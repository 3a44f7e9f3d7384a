"""Credential and SDK client factories for one AzureTarget. Cached per target: a command builds
each client once, and the token cache of the credential is shared by all of them."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from genaiops_cli.core.cloud import ARM_SCOPE, AzureTarget

if TYPE_CHECKING:
    from azure.containerregistry import ContainerRegistryClient
    from azure.core.credentials import TokenCredential
    from azure.mgmt.appcontainers import ContainerAppsAPIClient
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient
    from azure.mgmt.resource.resources import ResourceManagementClient


def _transport_kwargs(target: AzureTarget) -> dict[str, Any]:
    return {"connection_verify": target.verify}


@lru_cache(maxsize=8)
def credential(target: AzureTarget) -> TokenCredential:
    if target.client_id and target.client_secret_file and target.tenant_id:
        from pathlib import Path

        from azure.identity import ClientSecretCredential

        extra: dict[str, Any] = {}
        if target.authority_host:
            extra = {"authority": target.authority_host, "disable_instance_discovery": True}
        return ClientSecretCredential(
            target.tenant_id,
            target.client_id,
            Path(target.client_secret_file).read_text().strip(),
            **extra,
            **_transport_kwargs(target),
        )
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(**_transport_kwargs(target))


def _sandbox_poll_pace() -> Any:
    """The stand-in sends Azure's Retry-After (1 s, an integer) so stock clients run at full speed;
    azure-core prefers it over `polling_interval`. Against our own stand-in, genaiops drops it from
    LRO answers so its pollers use the profile's `poll_seconds` (a 429's or 503's Retry-After is
    left alone; the SDKs parse the header as an integer, so it cannot be rewritten to 0.2)."""

    def hook(response: Any) -> None:
        http = response.http_response
        if http.status_code in (200, 201, 202) and "Retry-After" in http.headers:
            del http.headers["Retry-After"]

    return hook


def arm_client(client_class: Any, target: AzureTarget) -> Any:
    """Any azure-mgmt-* client for `target`: same credential, endpoint, CA and polling everywhere."""
    extra: dict[str, Any] = {}
    if target.cloud == "sandbox":
        extra["raw_response_hook"] = _sandbox_poll_pace()
    return client_class(
        credential(target),
        target.subscription_id,
        base_url=target.arm_endpoint,
        credential_scopes=[ARM_SCOPE],
        polling_interval=target.poll_seconds,
        **extra,
        **_transport_kwargs(target),
    )


@lru_cache(maxsize=8)
def container_apps(target: AzureTarget) -> ContainerAppsAPIClient:
    from azure.mgmt.appcontainers import ContainerAppsAPIClient

    return arm_client(ContainerAppsAPIClient, target)


@lru_cache(maxsize=8)
def registry_management(target: AzureTarget) -> ContainerRegistryManagementClient:
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    return arm_client(ContainerRegistryManagementClient, target)


@lru_cache(maxsize=16)
def registry_data(target: AzureTarget, login_server: str) -> ContainerRegistryClient:
    from azure.containerregistry import ContainerRegistryClient

    return ContainerRegistryClient(
        f"https://{login_server}",
        credential(target),
        audience="https://containerregistry.azure.net",
        **_transport_kwargs(target),
    )


@lru_cache(maxsize=8)
def deployments(target: AzureTarget) -> DeploymentsMgmtClient:
    """Microsoft.Resources deployments (azure-mgmt-resource-deployments, api-version 2026-06-01)."""
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    return arm_client(DeploymentsMgmtClient, target)


@lru_cache(maxsize=8)
def resource_groups(target: AzureTarget) -> ResourceManagementClient:
    """Resource groups (azure-mgmt-resource: deployments moved to their own package)."""
    from azure.mgmt.resource.resources import ResourceManagementClient

    return arm_client(ResourceManagementClient, target)
