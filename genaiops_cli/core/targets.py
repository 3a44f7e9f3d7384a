"""From an environment name to the Azure things it points at (target, registry)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from genaiops_cli.core.build import RegistryAccess
from genaiops_cli.core.cloud import AzureTarget, target_for
from genaiops_cli.errors import GenAIOpsError

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import Manifest
    from genaiops_cli.core.provisioning import ProvisionedState

# (project dir, environment) -> provisioned state, read once per process.
_PROVISIONED: dict[tuple[str, str], ProvisionedState | None] = {}


def environment_target(manifest: Manifest, env_name: str) -> AzureTarget:
    config = manifest.environment(env_name).config
    return target_for(config.cloud, config.subscription, dict(config.resolve))


def provisioned_state(manifest: Manifest, env_name: str) -> ProvisionedState | None:
    """The outputs of the environment's `genaiops provision`: read from its deployment in Azure (the
    source of truth), else from the local cache when Azure can't be asked. Once per process."""
    from genaiops_cli.core import provisioning

    key = (str(manifest.base_dir.resolve()), env_name)
    if key in _PROVISIONED:
        return _PROVISIONED[key]
    config = manifest.environment(env_name).config
    name = provisioning.deployment_name(env_name)
    state: ProvisionedState | None
    try:
        from genaiops_cli.providers.azure import deployments

        found = deployments.get_deployment(
            environment_target(manifest, env_name), config.resource_group, name
        )
        props = (found or {}).get("properties") or {}
        if found is None or props.get("provisioningState") != "Succeeded":
            state = None
        else:
            state = provisioning.ProvisionedState.from_arm_outputs(
                env_name, config.resource_group, name, props.get("outputs"), str(props.get("timestamp") or "")
            )
    except GenAIOpsError:
        state = provisioning.load_cached(manifest.base_dir, env_name)
    _PROVISIONED[key] = state
    return state


def fill_from_provisioned(manifest: Manifest, env_name: str) -> None:
    """Give the resolved environment the registry, managed environment and identity that provisioning
    created, for each one the manifest leaves out; a field that stays empty fails at use time."""
    config = manifest.environment(env_name).config
    wanted = [f for f in ("registry", "containerapps_environment", "identity") if not getattr(config, f)]
    if config.connected_environment and "containerapps_environment" in wanted:
        wanted.remove("containerapps_environment")
    if not wanted:
        return
    state = provisioned_state(manifest, env_name)
    for field_name in wanted:
        value = getattr(state, field_name) if state else None
        if value:
            setattr(config, field_name, value)


def registry_access(manifest: Manifest, env_name: str, cached: bool = False) -> RegistryAccess:
    """The environment's registry. `cached`: a login server from the lookup cache will do (for naming
    local images only; anything that talks to the registry asks ARM)."""
    from genaiops_cli.core.provisioning import missing_setting
    from genaiops_cli.providers.azure import acr

    config = manifest.environment(env_name).config
    if not config.registry:  # only then is provisioning's output needed (an ARM read)
        fill_from_provisioned(manifest, env_name)
    if not config.registry:
        raise missing_setting(env_name, "registry")
    target = environment_target(manifest, env_name)
    server = acr.login_server(target, config.resource_group, config.registry, cached=cached)
    return RegistryAccess(server, target)


def containerapps_host(manifest: Manifest, env_name: str, timeout: float = 600):  # noqa: ANN201
    from genaiops_cli.core.provisioning import missing_setting
    from genaiops_cli.providers.azure.containerapps import ContainerAppsHost

    fill_from_provisioned(manifest, env_name)
    config = manifest.environment(env_name).config
    if not (config.containerapps_environment or config.connected_environment):
        raise missing_setting(env_name, "containerapps_environment")
    return ContainerAppsHost(
        environment_target(manifest, env_name), config.resource_group, lro_timeout=timeout
    )


def pinned_image(
    manifest: Manifest, env_name: str, service_name: str, registry: RegistryAccess, digest: str | None = None
) -> str:
    """The immutable image reference to deploy: `<login server>/<repository>@sha256:…`.

    From --digest, else the build record of the current sources, else the registry's tag for the
    current source hash (so a CI deploy job needs no file from the build job)."""
    from genaiops_cli.core.build import plan_build
    from genaiops_cli.core.records import load_record
    from genaiops_cli.errors import DeployError

    service = manifest.environment(env_name).services[service_name]
    if service.image:
        return service.image
    assert service.repository is not None
    if digest:
        return f"{registry.login_server}/{service.repository}@{digest}"
    plan = plan_build(manifest.base_dir, service_name, service)
    record = load_record(manifest.base_dir, service_name)
    if (
        record
        and record.source_hash == plan.source_hash
        and record.registry == registry.login_server
        and record.digest
    ):
        return str(record.pinned)
    from genaiops_cli.providers.azure import acr

    found = acr.manifest_digest(registry.target, registry.login_server, service.repository, plan.tag)
    if found:
        return f"{registry.login_server}/{service.repository}@{found}"
    raise DeployError(
        f"no pushed image of {service_name!r} for its current sources in {registry.login_server}",
        hint=f"run `genaiops build --push -e {env_name}` first (or pass --digest)",
        code="image_not_found",
    )
