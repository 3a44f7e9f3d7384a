"""Where an environment's Azure lives: endpoints, the CA to trust, how to sign in.

`cloud: azure` is an Azure cloud from AZURE_CLOUDS (public by default; `azure_cloud:` names
AzureUSGovernment or AzureChinaCloud, the names `az cloud set` and azd use), signed in with
DefaultAzureCredential. `cloud: sandbox` is the local stand-in, whose connection profile supplies the
same endpoints. Everything downstream (providers, SDK clients, request shapes) is the same for all:
only this target differs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from genaiops_cli.core.sandbox_profile import SandboxProfile, default_state_dir
from genaiops_cli.errors import SandboxError, UsageError


@dataclass(frozen=True)
class AzureCloud:
    """One Azure cloud's endpoints: where to sign in, where ARM is, which token audiences to ask for."""

    name: str  # as `az cloud list` / azd `cloud.name` spell it
    authority_host: str  # Microsoft Entra ID
    arm_endpoint: str  # Azure Resource Manager
    arm_audience: str  # the token audience ARM accepts (scope = audience + "/.default")
    acr_audience: str  # the token audience for the registry data plane (and the refresh-token exchange)
    acr_suffix: str  # login servers are <registry>.<suffix>
    storage_suffix: str = "core.windows.net"  # blob endpoints are <account>.blob.<suffix>
    logs_endpoint: str = "https://api.loganalytics.io"  # Log Analytics query API (and its token audience)

    @property
    def arm_scope(self) -> str:
        return self.arm_audience.rstrip("/") + "/.default"


# The one table of Azure endpoints (values as azure-mgmt-core's get_arm_endpoints, azure-identity's
# AzureAuthorityHosts and `az cloud show`; the registry client's documented audiences for the sovereign
# clouds are their ARM endpoints).
AZURE_CLOUDS = {
    c.name: c
    for c in (
        AzureCloud(
            "AzureCloud",
            authority_host="https://login.microsoftonline.com",
            arm_endpoint="https://management.azure.com",
            arm_audience="https://management.azure.com",
            acr_audience="https://containerregistry.azure.net",
            acr_suffix="azurecr.io",
        ),
        AzureCloud(
            "AzureUSGovernment",
            authority_host="https://login.microsoftonline.us",
            arm_endpoint="https://management.usgovcloudapi.net",
            arm_audience="https://management.core.usgovcloudapi.net",
            acr_audience="https://management.usgovcloudapi.net",
            acr_suffix="azurecr.us",
            storage_suffix="core.usgovcloudapi.net",
            logs_endpoint="https://api.loganalytics.us",
        ),
        AzureCloud(
            "AzureChinaCloud",
            authority_host="https://login.chinacloudapi.cn",
            arm_endpoint="https://management.chinacloudapi.cn",
            arm_audience="https://management.chinacloudapi.cn",
            acr_audience="https://management.chinacloudapi.cn",
            acr_suffix="azurecr.cn",
            storage_suffix="core.chinacloudapi.cn",
            logs_endpoint="https://api.loganalytics.azure.cn",
        ),
    )
}
PUBLIC_CLOUD = AZURE_CLOUDS["AzureCloud"]
ARM_SCOPE = PUBLIC_CLOUD.arm_scope


def azure_cloud(name: str | None) -> AzureCloud:
    """A cloud by its az/azd name (case-insensitive); None is the public cloud."""
    if name is None:
        return PUBLIC_CLOUD
    for key, cloud in AZURE_CLOUDS.items():
        if key.lower() == name.lower():
            return cloud
    raise UsageError(f"unknown Azure cloud {name!r}", hint=f"one of: {', '.join(AZURE_CLOUDS)}")


@dataclass(frozen=True)
class AzureTarget:
    cloud: str
    arm_endpoint: str
    subscription_id: str
    arm_scope: str = ARM_SCOPE
    acr_audience: str = PUBLIC_CLOUD.acr_audience
    # Service-principal sign-in against a given authority (the stand-in, sovereign clouds, CI).
    # When absent, DefaultAzureCredential decides (developer sign-in, managed/workload identity).
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret_file: str | None = None
    authority_host: str | None = None
    ca_bundle: str | None = None  # None: the system trust store
    poll_seconds: float = 2.0  # LRO polling when the service sends no Retry-After (SDK default: 30)
    blob_endpoint: str | None = None  # path-style Blob service (the stand-in); None: <account>.blob.core…
    storage_suffix: str = PUBLIC_CLOUD.storage_suffix  # Azure: blob endpoints are <account>.blob.<suffix>
    logs_endpoint: str = PUBLIC_CLOUD.logs_endpoint  # Log Analytics query API
    logs_audience: str = (
        PUBLIC_CLOUD.logs_endpoint
    )  # its token audience (the stand-in accepts the public one)
    resolve: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def verify(self) -> str | bool:
        """What to hand SDKs as connection_verify: a CA bundle path, or True (never False)."""
        return self.ca_bundle or True


def sandbox_state_dir() -> Path:
    return default_state_dir()


def target_for(
    cloud: str,
    subscription: str | None,
    resolve: dict[str, str] | None = None,
    azure_cloud_name: str | None = None,
) -> AzureTarget:
    if cloud == "sandbox":
        state_dir = sandbox_state_dir()
        profile = SandboxProfile.load(state_dir)
        if profile is None:
            raise SandboxError(
                f"the local Azure stand-in is not running (no profile in {state_dir})",
                hint="start it with `genaiops sandbox up`",
            )
        return AzureTarget(
            cloud="sandbox",
            arm_endpoint=profile.arm_endpoint,
            subscription_id=profile.subscription_id,
            arm_scope=profile.arm_audience.rstrip("/") + "/.default",
            acr_audience=profile.acr_audience,
            tenant_id=profile.tenant_id,
            client_id=profile.client_id,
            client_secret_file=profile.client_secret_file,
            authority_host=profile.authority_host,
            ca_bundle=profile.ca_bundle,
            poll_seconds=profile.poll_seconds,
            blob_endpoint=profile.blob_endpoint or None,
            logs_endpoint=profile.logs_endpoint or PUBLIC_CLOUD.logs_endpoint,
            resolve={**profile.resolve, **(resolve or {})},
        )
    if cloud == "azure":
        sub = subscription or os.environ.get("AZURE_SUBSCRIPTION_ID")
        if not sub:
            raise UsageError(
                "no Azure subscription for this environment",
                hint="set `subscription:` in the environment or AZURE_SUBSCRIPTION_ID",
            )
        endpoints = azure_cloud(azure_cloud_name)
        return AzureTarget(
            cloud="azure",
            arm_endpoint=endpoints.arm_endpoint,
            subscription_id=sub,
            arm_scope=endpoints.arm_scope,
            acr_audience=endpoints.acr_audience,
            authority_host=endpoints.authority_host,
            storage_suffix=endpoints.storage_suffix,
            logs_endpoint=endpoints.logs_endpoint,
            logs_audience=endpoints.logs_endpoint,
            resolve=dict(resolve or {}),
        )
    raise UsageError(f"unknown cloud {cloud!r}", hint="use `cloud: azure` or `cloud: sandbox`")
