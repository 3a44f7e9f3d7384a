"""`genaiops restart`: restart revisions in place — same name, same traffic — for a revision that
failed (or went unhealthy) for a transient reason. Revision names are content hashes, so the same
release always lands on the same revision: restarting it is how it recovers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genaiops_cli.errors import UsageError

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment
    from genaiops_cli.core.ports import EventFn


def check_selection(names: list[str], revision: str | None) -> None:
    """`--revision` names one revision of one service."""
    if revision and len(names) != 1:
        raise UsageError(
            "--revision names a revision of one service",
            hint="name the service too: `genaiops restart -e ENV SERVICE --revision REVISION`",
        )


def restart_services(
    env: Environment, names: list[str], revision: str | None, timeout: float, on_event: EventFn
) -> list[dict[str, Any]]:
    """Restart `revision` (default: each service's live revision) and wait until healthy."""
    check_selection(names, revision)
    return [env.host(name).restart(name, revision, timeout, on_event) for name in names]
