"""Create the Azure resources an environment needs, through the real SDK clients, until
`genaiops provision` (ARM deployments) does it. Used by e2e tests against the stand-in."""

from __future__ import annotations

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.providers.azure import clients


def ensure_environment(
    target: AzureTarget, resource_group: str, location: str, registry: str, managed_environment: str
) -> None:
    from azure.mgmt.resource.resources import ResourceManagementClient

    rm = ResourceManagementClient(
        clients.credential(target),
        target.subscription_id,
        base_url=target.arm_endpoint,
        credential_scopes=[target.arm_scope],
        connection_verify=target.verify,
    )
    rm.resource_groups.create_or_update(resource_group, {"location": location})
    apps = clients.container_apps(target)
    apps.managed_environments.begin_create_or_update(
        resource_group, managed_environment, {"location": location, "properties": {}}
    ).result()
    clients.registry_management(target).registries.begin_create(
        resource_group,
        registry,
        {"location": location, "sku": {"name": "Standard"}, "properties": {"adminUserEnabled": False}},
    ).result()
