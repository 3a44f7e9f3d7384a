"""Create the Azure resources an environment needs, through the real SDK clients, until
`genaiops provision` (ARM deployments) does it. Used by e2e tests against the stand-in."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.providers.azure import clients


def ensure_environment(
    target: AzureTarget, resource_group: str, location: str, registry: str, managed_environment: str
) -> None:
    from azure.mgmt.resource.resources import ResourceManagementClient

    rm = ResourceManagementClient(clients.credential(target), target.subscription_id, **_arm(target))
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


def ensure_foundry_project(target: AzureTarget, resource_group: str, account: str, project: str) -> str:
    """A Foundry account and project in `resource_group` (one ARM deployment); their endpoint."""
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    from tests.foundry_project import foundry_template

    client = DeploymentsMgmtClient(
        clients.credential(target), target.subscription_id, polling_interval=0.05, **_arm(target)
    )
    template = foundry_template(account, project)
    done = client.deployments.begin_create_or_update(
        resource_group, f"foundry-{project}", {"properties": {"mode": "Incremental", "template": template}}
    ).result()
    return str(done.properties.outputs["endpoint"]["value"])


def push_empty_image(target: AzureTarget, server: str, repo: str, tag: str) -> str:
    """A config-only OCI image pushed as `repo:tag` through genaiops' own registry client; its digest."""
    from genaiops_cli.providers.azure.registry_raw import RawRegistry

    config = b'{"architecture":"amd64","os":"linux"}'
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    raw = RawRegistry(target, server)
    raw.will_write(repo)
    raw.put_blob(repo, config_digest, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    return raw.put_manifest(repo, tag, manifest, "application/vnd.oci.image.manifest.v1+json")


def _arm(target: AzureTarget) -> dict[str, Any]:
    """Where and how an ARM management client reaches the target's ARM endpoint."""
    return {
        "base_url": target.arm_endpoint,
        "credential_scopes": [target.arm_scope],
        "connection_verify": target.verify,
    }
