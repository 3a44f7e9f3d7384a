"""Container Apps secrets at revision start, as the platform does it: every env var with a
`secretRef` gets the value of the app's secret of that name — a `value` secret as written, a
`keyVaultUrl` secret read from the stand-in's Key Vault (keyvault.py) with the managed identity the
secret names, which must be assigned to the app (and exist). When one cannot be read the revision
fails with the provisioning error Azure gives, and no container starts.

What the stand-in does not check (docs/sandbox-keyvault-differences.md): whether that identity has a
role on the vault (Key Vault Secrets User) — any identity assigned to the app reads any vault."""

from __future__ import annotations

import re
from typing import Any

from .errors import invalid_parameter

SECRET_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")


def check_secrets(config: dict[str, Any], template: dict[str, Any]) -> None:
    """What ContainerApps_CreateOrUpdate refuses with 400 at write time: bad or duplicate secret names,
    a secret with neither or both of value/keyVaultUrl, and a secretRef to a secret the app lacks."""
    field = "configuration.secrets"
    names: set[str] = set()
    for secret in config.get("secrets") or []:
        name = str(secret.get("name") or "")
        if not SECRET_NAME.match(name):
            raise invalid_parameter(
                field,
                f'Invalid value: "{name}": a secret name must consist of lower case alphanumeric '
                "characters, '-' or '.', and must start and end with an alphanumeric character",
            )
        if name in names:
            raise invalid_parameter(field, f'Invalid value: "{name}": secret names must be unique')
        names.add(name)
        if (secret.get("value") is None) == (not secret.get("keyVaultUrl")):
            raise invalid_parameter(
                field, f'Invalid value: "{name}": exactly one of value or keyVaultUrl must be set'
            )
    for container in template.get("containers") or []:
        for entry in container.get("env") or []:
            ref = entry.get("secretRef")
            if ref is not None and ref not in names:
                raise invalid_parameter(
                    "template.containers.env.secretRef",
                    f'Invalid value: "{ref}": secret {ref} is not defined in configuration.secrets',
                )


def resolve(
    record: dict[str, Any], template: dict[str, Any], store: Any, vaults: Any
) -> tuple[dict[str, str], str | None]:
    """(secret name → value for every secret the revision's env references, failure reason)."""
    config = record["spec"]["properties"].get("configuration") or {}
    secrets = {s.get("name"): s for s in config.get("secrets") or []}
    wanted = {
        e["secretRef"]
        for c in template.get("containers") or []
        for e in c.get("env") or []
        if e.get("secretRef")
    }
    values: dict[str, str] = {}
    for name in sorted(wanted):
        secret = secrets.get(name) or {}
        if secret.get("value") is not None:
            values[name] = str(secret["value"])
            continue
        problem = _identity_problem(record, str(secret.get("identity") or ""), store)
        found = None
        if problem is None:
            if vaults is None:
                problem = "the sandbox serves no Key Vault"
            else:
                lookup = vaults.resolve(str(secret.get("keyVaultUrl") or ""))
                found, problem = lookup.value, lookup.problem
        if found is None:
            identity = secret.get("identity") or "system"
            return values, (
                "The following field(s) are either invalid or missing. Field 'configuration.secrets' is "
                f'invalid with details: \'Invalid value: "{name}": Unable to get value using Managed '
                f"identity {identity} for secret {name}. Error: {problem}'"
            )
        values[name] = found
    return values, None


def _identity_problem(record: dict[str, Any], identity: str, store: Any) -> str | None:
    assigned = record["envelope"].get("identity") or {}
    kind = str(assigned.get("type") or "None").lower().replace(" ", "")
    if not identity or identity.lower() == "system":
        return None if "systemassigned" in kind else "the container app has no system-assigned identity"
    users = {k.lower() for k in (assigned.get("userAssignedIdentities") or {})}
    if identity.lower() not in users:
        return f"the managed identity {identity} is not assigned to the container app"
    if store.get(identity) is None:
        return f"the managed identity {identity} does not exist"
    return None
