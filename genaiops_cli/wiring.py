"""The one place that chooses implementations for core's ports (core/ports.py).

HOSTS maps each manifest `host:` kind to the factory of its Host, one line per kind; None means
the manifest accepts the kind but this version cannot deploy it (deploy fails with exit 7 and says
so). Commands reach Azure only through `open_environment` and the other factories here, so core
never imports a provider and providers never import commands. See docs/architecture.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genaiops_cli.core.after_release import Follow
    from genaiops_cli.core.environment import Environment
    from genaiops_cli.core.manifest.model import Manifest
    from genaiops_cli.core.ports import (
        ArmDeployments,
        BatchBackend,
        Cloud,
        Host,
        HostFactory,
        HttpClients,
        ImageEngine,
        LogsQuery,
        MonitorPort,
        RemoteBuilder,
        RevisionMetrics,
        TrafficSplit,
    )


def _containerapp(env: Environment, timeout: float) -> Host:
    from genaiops_cli.core.hosts.containerapps import ContainerAppsHost
    from genaiops_cli.core.provisioning import missing_setting
    from genaiops_cli.providers.azure.containerapps import ContainerAppsArm

    if not (env.config.containerapps_environment or env.config.connected_environment):
        raise missing_setting(env.name, "containerapps_environment")
    return ContainerAppsHost(env, ContainerAppsArm(env.target, env.config.resource_group, timeout))


def _containerapp_job(env: Environment, timeout: float) -> Host:
    from genaiops_cli.core.hosts.containerapp_job import ContainerAppJobHost
    from genaiops_cli.core.provisioning import missing_setting
    from genaiops_cli.providers.azure.containerapp_jobs import ContainerAppJobsArm

    if not (env.config.containerapps_environment or env.config.connected_environment):
        raise missing_setting(env.name, "containerapps_environment")
    return ContainerAppJobHost(env, ContainerAppJobsArm(env.target, env.config.resource_group, timeout))


def _foundry_agent(env: Environment, timeout: float) -> Host:
    from genaiops_cli.core.hosts.foundry import FoundryAgentHost, project_settings
    from genaiops_cli.providers.azure.foundry import FoundryAgents

    endpoint, model = project_settings(env)
    return FoundryAgentHost(env, FoundryAgents(env.target, endpoint), model)


# manifest `host:` kind → Host factory (None: accepted by the manifest, not implemented yet)
HOSTS: dict[str, HostFactory | None] = {
    "containerapp": _containerapp,
    "foundry-agent": _foundry_agent,
    "containerapp-job": _containerapp_job,
}


def cloud() -> Cloud:
    from genaiops_cli.providers.azure.cloud import AzureCloud

    return AzureCloud()


def open_environment(
    manifest: Manifest, name: str, timeout: float = 600, wire_services: bool = True
) -> Environment:
    """The environment `name` of `manifest`, opened with the Azure providers (`wire_services`: see
    core/environment.py open_environment)."""
    from genaiops_cli.core.environment import open_environment as open_with

    return open_with(manifest, name, cloud(), HOSTS, timeout, wire_services=wire_services)


def image_engine() -> ImageEngine:
    """The local container engine (Docker Engine API)."""
    from genaiops_cli.providers.docker import builder

    return builder  # the module implements the ImageEngine protocol


def remote_builder(env: Environment) -> RemoteBuilder:
    """Builds in `env`'s registry (ACR Tasks)."""
    from genaiops_cli.providers.azure.acr_tasks import AcrTasksBuilder

    return AcrTasksBuilder(env.target, env.config.resource_group, env.config.registry)


def arm_deployments() -> ArmDeployments:
    """ARM template deployments (provision)."""
    from genaiops_cli.providers.azure import deployments

    return deployments  # the module implements the ArmDeployments protocol


def http() -> HttpClients:
    """HTTP clients for endpoints, outside an opened environment (`eval --url`)."""
    return cloud().http()


def monitor(manifest: Manifest, env_name: str) -> MonitorPort:
    """Azure Monitor (alerts, action groups) of an environment's subscription (`genaiops monitor`)."""
    from genaiops_cli.core.targets import environment_target
    from genaiops_cli.providers.azure.monitor import AzureMonitor

    return AzureMonitor(environment_target(manifest, env_name))


def revision_metrics(env: Environment, service: str) -> RevisionMetrics:
    """The service's platform metrics per revision (canary analysis, post-release watch)."""
    return canary_ports(env, service)[2]


def delivery_ports(env: Environment, service: str) -> tuple[TrafficSplit, RevisionMetrics]:
    """What a canary step drives for one service: its traffic split and its metrics per revision."""
    _, split, metrics = canary_ports(env, service)
    return split, metrics


def follow(env: Environment, watch: bool, timeout: float) -> Follow:
    """The after-release work of promote/swap wired to Azure: metrics for the watch, Azure Monitor
    for `monitor.apply_on`."""
    from genaiops_cli.core.after_release import Follow

    return Follow(
        watch=watch,
        metrics=revision_metrics,
        monitor=lambda: monitor(env.manifest, env.name),
        timeout=timeout,
    )


def logs(manifest: Manifest, env_name: str) -> LogsQuery:
    """Log Analytics queries (KQL) in an environment's cloud: Application Insights data, logs."""
    from genaiops_cli.core.targets import environment_target
    from genaiops_cli.providers.azure.logs import AzureLogs

    return AzureLogs(environment_target(manifest, env_name))


def canary_ports(env: Environment, service: str) -> tuple[Host, TrafficSplit, RevisionMetrics]:
    """What `genaiops canary` drives: the service's host, its traffic split, its metrics per revision."""
    from genaiops_cli.core.hosts.containerapps import ContainerAppsHost
    from genaiops_cli.core.hosts.containerapps_split import ContainerAppsSplit
    from genaiops_cli.errors import DeployError
    from genaiops_cli.providers.azure.monitor import AzureRevisionMetrics

    host = env.host(service)
    if not isinstance(host, ContainerAppsHost):
        raise DeployError(
            f"canary delivery needs traffic splitting; host {host.kind!r} of {service!r} has none",
            hint="use blue/green (`genaiops swap`) for this service",
        )
    metrics: RevisionMetrics = AzureRevisionMetrics(env.target, env.config.resource_group, host.app_name)
    component = _quality_component(env)
    if component:  # the analysis compares live answer quality too: add it from Application Insights
        from genaiops_cli.core.live_quality import WithLiveQuality
        from genaiops_cli.core.monitor import component_resource_id
        from genaiops_cli.providers.azure.logs import AzureLogs

        scope = component_resource_id(component, env.target.subscription_id, env.config.resource_group)
        metrics = WithLiveQuality(metrics, AzureLogs(env.target), scope, host.app_name)
    return host, ContainerAppsSplit(host), metrics


def _quality_component(env: Environment) -> str | None:
    analyses = [section.analysis for section in (env.config.canary, env.config.watch) if section is not None]
    return next((a.app_insights for a in analyses if a.app_insights), None)


def batch_backend(env: Environment) -> BatchBackend:
    """Batch evaluation in `env`: its storage account, its Container Apps environment, its registry."""
    from genaiops_cli.core.environment import provisioned_state
    from genaiops_cli.core.provisioning import missing_setting
    from genaiops_cli.errors import UsageError
    from genaiops_cli.providers.azure.batch_eval import AzureBatch
    from genaiops_cli.providers.azure.blob_lock import sandbox_account

    state = provisioned_state(env.manifest, env.name, env.cloud, env.target)
    account = (state.outputs.get("storageAccountName") if state else None) or (
        sandbox_account(env.target, env.config.resource_group) if env.target.blob_endpoint else None
    )
    if not account:
        raise UsageError(
            f"environment {env.name!r} has no storage account for batch evaluation",
            hint=f"run `genaiops provision -e {env.name}` (it creates one)",
        )
    if not env.config.containerapps_environment:
        raise missing_setting(env.name, "containerapps_environment")
    return AzureBatch(
        env.target,
        env.config.resource_group,
        account,
        env.config.containerapps_environment,
        env.registry,
        image_engine(),
    )
