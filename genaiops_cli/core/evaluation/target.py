"""How `genaiops eval` finds the URL of an environment's label (e.g. the `green` side of a blue/green
deployment). The deploy provider plugs itself in here; until it does, `--url` is required.

Hook for the deploy command: `register_target_resolver(fn)` where
`fn(manifest, env_name, service, label) -> Target` (base URL + resolve map + CA bundle). It must do
no network call beyond reading the app's current state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genaiops_cli.core.evaluation.runner import Target
from genaiops_cli.errors import UsageError

TargetResolver = Callable[[Any, str, str, "str | None"], Target]
_resolver: TargetResolver | None = None


def register_target_resolver(fn: TargetResolver | None) -> None:
    global _resolver
    _resolver = fn


def has_target_resolver() -> bool:
    return _resolver is not None


def target_url_for(manifest: Any, env: str, service: str, label: str | None) -> Target:
    """The Target serving `service` at `label` (None = the app's main URL) in environment `env`."""
    if _resolver is None:
        raise UsageError(
            f"cannot find the URL of {service}{'@' + label if label else ''} in `{env}` yet",
            hint="pass --url https://… (and --baseline-url for an A/B comparison)",
            code="target_unknown",
        )
    return _resolver(manifest, env, service, label)
