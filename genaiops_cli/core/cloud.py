"""Where an environment's Azure lives: endpoints, the CA to trust, how to sign in.

`cloud: azure` is public Azure with DefaultAzureCredential. `cloud: sandbox` is the local stand-in,
described by its connection profile. Everything downstream (providers, SDK clients, request shapes)
is the same for both: only this target differs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from genaiops_cli.core.sandbox_profile import SandboxProfile, default_state_dir
from genaiops_cli.errors import SandboxError, UsageError

PUBLIC_ARM = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"


@dataclass(frozen=True)
class AzureTarget:
    cloud: str
    arm_endpoint: str
    subscription_id: str
    # Service-principal sign-in against a given authority (the stand-in, sovereign clouds, CI).
    # When absent, DefaultAzureCredential decides (developer sign-in, managed/workload identity).
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret_file: str | None = None
    authority_host: str | None = None
    ca_bundle: str | None = None  # None: the system trust store
    poll_seconds: float = 2.0  # LRO polling when the service sends no Retry-After (SDK default: 30)
    resolve: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def verify(self) -> str | bool:
        """What to hand SDKs as connection_verify: a CA bundle path, or True (never False)."""
        return self.ca_bundle or True


def sandbox_state_dir() -> Path:
    return default_state_dir()


def target_for(cloud: str, subscription: str | None, resolve: dict[str, str] | None = None) -> AzureTarget:
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
            tenant_id=profile.tenant_id,
            client_id=profile.client_id,
            client_secret_file=profile.client_secret_file,
            authority_host=profile.authority_host,
            ca_bundle=profile.ca_bundle,
            poll_seconds=profile.poll_seconds,
            resolve={**profile.resolve, **(resolve or {})},
        )
    if cloud == "azure":
        sub = subscription or os.environ.get("AZURE_SUBSCRIPTION_ID")
        if not sub:
            raise UsageError(
                "no Azure subscription for this environment",
                hint="set `subscription:` in the environment or AZURE_SUBSCRIPTION_ID",
            )
        return AzureTarget(
            cloud="azure", arm_endpoint=PUBLIC_ARM, subscription_id=sub, resolve=dict(resolve or {})
        )
    raise UsageError(f"unknown cloud {cloud!r}", hint="use `cloud: azure` or `cloud: sandbox`")
