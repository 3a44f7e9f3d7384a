"""`connections:` — a service's environment variables taken from what `genaiops provision` created in
its environment (outputs of the ARM template): the Foundry project endpoint, the model deployment.
Resolved when an environment is opened, into a copy of the service (the manifest is never edited),
so both hosts pass them on as ordinary environment variables."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from genaiops_cli.core.app_secrets import TELEMETRY_OUTPUT
from genaiops_cli.errors import ProvisionError

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import ResolvedEnvironment

# connection → (ARM output of templates/infra/main.json, environment setting that overrides it)
OUTPUTS: dict[str, tuple[str, str | None]] = {
    "foundry.project_endpoint": ("foundryProjectEndpoint", "foundry_project"),
    "foundry.model_deployment": ("modelDeploymentName", None),
}


def needed(resolved: ResolvedEnvironment) -> bool:
    return any(service.connections for service in resolved.services.values())


def value_of(connection: str, config: Any, outputs: dict[str, Any]) -> str | None:
    output, setting = OUTPUTS[connection]
    explicit = getattr(config, setting) if setting else None
    found = explicit or outputs.get(output)
    return str(found) if found else None


def wire(resolved: ResolvedEnvironment, outputs: dict[str, Any]) -> ResolvedEnvironment:
    """`resolved` with each service's connections added to its environment variables."""
    services = dict(resolved.services)
    for name, service in resolved.services.items():
        if not service.connections:
            continue
        values: dict[str, str] = {}
        for variable, connection in service.connections.items():
            secret = connection not in OUTPUTS  # deploy wires it by secretRef (app_secrets.py)
            value = (
                outputs.get(TELEMETRY_OUTPUT) if secret else value_of(connection, resolved.config, outputs)
            )
            if value is None:
                raise ProvisionError(
                    f"service {name!r} connects {variable} to {connection}, which environment "
                    f"{resolved.name!r} does not provide",
                    hint=f"run `genaiops provision -e {resolved.name}` (its outputs supply it)",
                    code="connection_unavailable",
                )
            if not secret:
                values[variable] = value
        services[name] = service.model_copy(update={"env": {**service.env, **values}})
    return dataclasses.replace(resolved, services=services)
