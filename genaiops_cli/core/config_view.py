"""The effective configuration of one environment as plain data, secrets masked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genaiops_cli.core.redact import redact

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import Manifest


def effective_config(manifest: Manifest, env_name: str) -> dict[str, Any]:
    resolved = manifest.environment(env_name)
    environment = resolved.config.model_dump(mode="json", exclude_none=True, exclude={"services"})
    services = {
        name: service.model_dump(mode="json", exclude_none=True)
        for name, service in resolved.services.items()
    }
    return redact({"name": manifest.name, "environment": env_name, **environment, "services": services})
