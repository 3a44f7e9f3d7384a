"""From an environment to the Azure things it points at: its target, the image to deploy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from genaiops_cli.core.cloud import AzureTarget, target_for

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment
    from genaiops_cli.core.manifest.model import Manifest


def environment_target(manifest: Manifest, env_name: str) -> AzureTarget:
    config = manifest.environment(env_name).config
    return target_for(config.cloud, config.subscription, dict(config.resolve), config.azure_cloud)


def pinned_image(env: Environment, service_name: str, digest: str | None = None) -> str:
    """The immutable image reference to deploy: `<login server>/<repository>@sha256:…`.

    From --digest, else the build record of the current sources, else the registry's tag for the
    current source hash (so a CI deploy job needs no file from the build job)."""
    from genaiops_cli.core.build import plan_build
    from genaiops_cli.core.records import load_record
    from genaiops_cli.errors import DeployError

    manifest, env_name, registry = env.manifest, env.name, env.registry
    service = env.resolved.services[service_name]
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
    found = registry.digest(service.repository, plan.tag)
    if found:
        return f"{registry.login_server}/{service.repository}@{found}"
    raise DeployError(
        f"no pushed image of {service_name!r} for its current sources in {registry.login_server}",
        hint=f"run `genaiops build --push -e {env_name}` first (or pass --digest)",
        code="image_not_found",
    )
