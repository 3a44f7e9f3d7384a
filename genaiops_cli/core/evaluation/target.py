"""How `genaiops eval` finds where a side of a deployed service answers: `live`, `staged`, or a
literal label (`blue`/`green`), asked of the service's Host (the same state deploy and swap use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from genaiops_cli.core.evaluation.runner import Target

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment
    from genaiops_cli.core.ports import Endpoint


def target_of(endpoint: Endpoint) -> Target:
    return Target(
        base_url=endpoint.url,
        resolve=dict(endpoint.resolve),
        ca_bundle=endpoint.ca_bundle,
        label=endpoint.label,
        endpoint=endpoint,
    )


def target_url_for(env: Environment, service: str, label: str | None) -> Target:
    """The Target serving `service` at `label` (None = the live app URL) in the opened `env`."""
    return target_of(env.host(service).endpoint(service, label or "live"))
