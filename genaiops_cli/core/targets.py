"""From an environment name to the Azure things it points at (target, registry)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from genaiops_cli.core.build import RegistryAccess
from genaiops_cli.core.cloud import AzureTarget, target_for

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import Manifest


def environment_target(manifest: Manifest, env_name: str) -> AzureTarget:
    config = manifest.environment(env_name).config
    return target_for(config.cloud, config.subscription, dict(config.resolve))


def registry_access(manifest: Manifest, env_name: str) -> RegistryAccess:
    from genaiops_cli.providers.azure import acr

    config = manifest.environment(env_name).config
    target = environment_target(manifest, env_name)
    return RegistryAccess(acr.login_server(target, config.resource_group, config.registry), target)
