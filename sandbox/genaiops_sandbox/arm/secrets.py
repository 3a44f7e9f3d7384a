"""Container Apps secrets at revision start, as the platform does it: every env var with a
`secretRef` gets the value of the app's secret of that name — a `value` secret as written, a
`keyVaultUrl` secret read from the stand-in's Key Vault (keyvault.py) with the managed identity the
secret names, which must be assigned to the app (and exist) and be allowed to read the vault's
secrets: in an RBAC vault (`enableRbacAuthorization`) a role assignment of Key Vault Secrets User,
Secrets Officer or Administrator for its principal at the vault's scope or above; in an access-policy
vault an access policy for its principal with secret `get`. When one cannot be read the revision fails
with the provisioning error Azure gives, and no container starts (docs/sandbox-keyvault-differences.md)."""

from __future__ import annotations

import re
from typing import Any

from .errors import invalid_parameter
from .role_assignments import TYPE as ROLE_ASSIGNMENT_TYPE

SECRET_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
# Built-in roles whose dataActions include Microsoft.KeyVault/vaults/secrets/getSecret/action (Owner and
# Contributor have no data actions: they cannot read a secret's value in an RBAC vault).
SECRET_READER_ROLES = {
    "4633458b-17de-408a-b874-0445c86b69e6",  # Key Vault Secrets User
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",  # Key Vault Secrets Officer
    "00482a5a-887f-4fb3-b363-3b7fe8e74483",  # Key Vault Administrator
}


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
        identity = str(secret.get("identity") or "system")
        url = str(secret.get("keyVaultUrl") or "")
        problem = _identity_problem(record, identity, store)
        found = None
        if problem is None:
            if vaults is None:
                problem = "the sandbox serves no Key Vault"
            elif not _may_read(record, identity, vaults.vault_name(url), store):
                # Azure's own words: it does not say that the identity lacks a role on the vault
                problem = f"unable to fetch secret '{name}' using Managed identity '{identity}'"
            else:
                lookup = vaults.resolve(url)
                found, problem = lookup.value, lookup.problem
        if found is None:
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


def _principal(record: dict[str, Any], identity: str, store: Any) -> str:
    """The object id the platform reads the vault as (the identity is known to be assigned)."""
    if identity.lower() == "system":
        return str((record["envelope"].get("identity") or {}).get("principalId") or "")
    found = store.get(identity) or {}
    return str(((found.get("body") or {}).get("properties") or {}).get("principalId") or "")


def _may_read(record: dict[str, Any], identity: str, vault: str | None, store: Any) -> bool:
    """Whether `identity` may get secrets from the ARM vault named `vault`. True when no vault resource
    has that name: a vault the stand-in's own API made (as unit tests do) is not checked, and for no
    vault at all the lookup that follows reports that it does not exist."""
    subscription = "/".join(record["id"].split("/")[:3])
    resource = next(
        (
            r
            for r in store.list(subscription, "Microsoft.KeyVault/vaults")
            if vault and str(r["body"].get("name", "")).lower() == vault
        ),
        None,
    )
    if resource is None:
        return True
    principal = _principal(record, identity, store).lower()
    if not principal:
        return False
    props = resource["body"].get("properties") or {}
    if not props.get("enableRbacAuthorization"):
        return any(
            str(p.get("objectId", "")).lower() == principal
            and {s.lower() for s in (p.get("permissions") or {}).get("secrets") or []} & {"get", "all"}
            for p in props.get("accessPolicies") or []
        )
    vault_id = resource["id"].lower()
    for assignment in store.list(subscription, ROLE_ASSIGNMENT_TYPE):
        a = assignment["body"].get("properties") or {}
        scope = str(a.get("scope") or "").lower().rstrip("/")
        if (
            scope
            and str(a.get("principalId", "")).lower() == principal
            and str(a.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower() in SECRET_READER_ROLES
            and (vault_id == scope or vault_id.startswith(scope + "/"))
        ):
            return True
    return False
