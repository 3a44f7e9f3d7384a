"""Secrets of a Container App, as the Microsoft.App spec shapes them: app-scope
`configuration.secrets` (`{name, keyVaultUrl, identity}` for a Key Vault reference, `{name, value}` for
a value genaiops read through ARM) and revision-scope env vars that point at them by `secretRef`.

Why this split matters: secrets live at app scope, so a new secret value never makes a new revision;
the revision template only carries the secret's *name*. genaiops never reads a Key Vault secret's
value (the platform does, with the managed identity named here); the one value it handles, the
Application Insights connection string, goes into the request body and nowhere else (no output, no
event, no ledger)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import Service

# The secret every telemetry-enabled app gets, and the variable the Azure Monitor OpenTelemetry distro
# (and every Application Insights SDK) reads it from.
TELEMETRY_SECRET = "appinsights-connection-string"
TELEMETRY_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"
TELEMETRY_CONNECTION = "app_insights.connection_string"
# Provisioning output naming the component: `<componentId>#properties.ConnectionString`.
TELEMETRY_OUTPUT = "appInsightsConnectionStringSecretRef"
SYSTEM = "system"
# Container Apps secret names (ContainerApps_CreateOrUpdate rejects others): lower-case alphanumerics,
# '-' and '.', starting and ending alphanumeric, at most 253 characters.
SECRET_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")


def secret_name(variable: str) -> str:
    """The Container Apps secret an env var's Key Vault reference becomes: `OPENAI_API_KEY` →
    `openai-api-key` (env var names allow `_`, secret names do not)."""
    return variable.lower().replace("_", "-").strip("-.")


def name_problem(variable: str, taken: dict[str, str]) -> str | None:
    """Why `variable` cannot become a Container Apps secret (given the names already `taken`, secret
    name → variable), or None."""
    name = secret_name(variable)
    if not SECRET_NAME_RE.match(name):
        return (
            f"`{variable}` gives the Container Apps secret name `{name}`, which is not valid (lower-case "
            "letters, digits, '-' and '.', starting and ending with a letter or digit)"
        )
    if name == TELEMETRY_SECRET:
        return f"`{variable}` would become the secret `{name}`, which genaiops reserves for telemetry"
    if name in taken:
        return f"`{variable}` and `{taken[name]}` both become the Container Apps secret `{name}`"
    return None


def identity_ref(identity: str | None, default: str, subscription_id: str, resource_group: str) -> str:
    """A secret's identity as Container Apps wants it: a user-assigned identity's resource id, or
    "system". A bare name is a user-assigned identity in the environment's resource group."""
    if not identity:
        return default
    if identity.lower() == SYSTEM or identity.startswith("/subscriptions/"):
        return SYSTEM if identity.lower() == SYSTEM else identity
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}"
    )


@dataclass(frozen=True)
class AppSecret:
    name: str
    key_vault_url: str | None = None
    identity: str | None = None  # user-assigned identity resource id, or "system"
    value: str | None = field(default=None, repr=False)  # never printed, never stored by genaiops

    def wire(self) -> dict[str, Any]:
        if self.key_vault_url:
            return {"name": self.name, "keyVaultUrl": self.key_vault_url, "identity": self.identity}
        return {"name": self.name, "value": self.value}


@dataclass(frozen=True)
class Telemetry:
    """Where a service's telemetry goes: the provisioned component's connection-string reference;
    `value` is read through ARM only when a body is written."""

    reference: str  # `<componentId>#properties.ConnectionString`
    value: str | None = field(default=None, repr=False)


def wants_telemetry(service: Service) -> bool:
    return service.host == "containerapp" and service.telemetry


def secret_env(service: Service, telemetry: bool) -> list[dict[str, str]]:
    """The revision-scope env entries that read secrets (names only, so revisions never depend on
    a secret's value)."""
    out = [{"name": var, "secretRef": secret_name(var)} for var in service.secrets]
    if telemetry:
        out.append({"name": TELEMETRY_ENV, "secretRef": TELEMETRY_SECRET})
        out += [
            {"name": var, "secretRef": TELEMETRY_SECRET}
            for var, connection in service.connections.items()
            if connection == TELEMETRY_CONNECTION and var != TELEMETRY_ENV
        ]
    return out


def app_secrets(
    service: Service,
    default_identity: str,
    subscription_id: str,
    resource_group: str,
    telemetry: Telemetry | None,
) -> list[AppSecret]:
    """The app's `configuration.secrets`: one per Key Vault reference, plus the telemetry one."""
    out = [
        AppSecret(
            secret_name(var),
            key_vault_url=ref.keyvault,
            identity=identity_ref(ref.identity, default_identity, subscription_id, resource_group),
        )
        for var, ref in sorted(service.secrets.items())
    ]
    if telemetry is not None and telemetry.value is not None:
        out.append(AppSecret(TELEMETRY_SECRET, value=telemetry.value))
    return out


def identity_block(registry_identity: str, secrets: list[AppSecret]) -> dict[str, Any]:
    """The app's managed identities: the one that pulls images plus every one a secret reads with."""
    wanted = {registry_identity} | {s.identity for s in secrets if s.identity}
    users = sorted(i for i in wanted if i != SYSTEM)
    if not users:
        return {"type": "SystemAssigned"}
    kind = "SystemAssigned,UserAssigned" if SYSTEM in wanted else "UserAssigned"
    return {"type": kind, "userAssignedIdentities": {i: {} for i in users}}
