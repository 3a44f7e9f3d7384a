"""How `genaiops eval` finds the URL of a side of a deployed service: `live` (the app URL), `staged`,
or a literal label (`blue`/`green`), through the same Container Apps state deploy and swap use."""

from __future__ import annotations

from typing import Any

from genaiops_cli.core.evaluation.runner import Target


def target_url_for(manifest: Any, env: str, service: str, label: str | None) -> Target:
    """The Target serving `service` at `label` (None = the live app URL) in environment `env`."""
    from genaiops_cli.core.deploy import service_url
    from genaiops_cli.core.targets import containerapps_host, environment_target

    azure = environment_target(manifest, env)
    url = service_url(containerapps_host(manifest, env), manifest, service, label or "live", env)
    return Target(base_url=url, resolve=dict(azure.resolve), ca_bundle=azure.ca_bundle, label=label or "live")
