"""Options shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

EnvOption = Annotated[str | None, typer.Option("--env", "-e", help="Environment name.")]  # noqa: UP007
ServicesArg = Annotated[list[str] | None, typer.Argument(help="Services (default: all).")]  # noqa: UP007
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Seconds to wait for a revision to be ready.")
]
BreakLockOption = Annotated[
    str | None,  # noqa: UP007
    typer.Option(
        "--break-lock", metavar="REASON", help="Take the environment's lock from its holder (recorded)."
    ),
]


def environment_locked(manifest: object, env_name: str, operation: str, break_lock: str | None):  # noqa: ANN201
    """One deploy/promote/swap/rollback per environment at a time; the lock lives in the
    environment's registry (see docs/ledger.md), so every machine and CI job sees it."""
    from genaiops_cli.core.lock import environment_lock
    from genaiops_cli.providers.azure.ledger_store import ledger_for

    return environment_lock(ledger_for(manifest, env_name), env_name, operation, break_lock=break_lock)
