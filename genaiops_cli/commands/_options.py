"""Options shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

EnvOption = Annotated[str | None, typer.Option("--env", "-e", help="Environment name.")]  # noqa: UP007
ServicesArg = Annotated[list[str] | None, typer.Argument(help="Services (default: all).")]  # noqa: UP007
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for a revision to be ready.")
]
# Every override is a flag, and every override's justification is the one --reason (recorded in the
# ledger): `--break-lock --reason "…"` reads the same on deploy, swap, rollback and promote.
BreakLockOption = Annotated[
    bool, typer.Option("--break-lock", help="Take the environment's lock from its holder (needs --reason).")
]
ReasonOption = Annotated[
    str | None,  # noqa: UP007
    typer.Option("--reason", help="Why an override (--break-lock, --force, --skip-smoke) is used; recorded."),
]


def override_reason(reason: str | None, **overrides: bool) -> str | None:
    """The recorded reason when any override flag is set (required then), else None."""
    from genaiops_cli.errors import UsageError

    used = [f"--{name.replace('_', '-')}" for name, on in overrides.items() if on]
    if not used:
        return None
    if not (reason and reason.strip()):
        raise UsageError(
            f'{" and ".join(used)} need{"s" if len(used) == 1 else ""} --reason "…"',
            hint="the reason is recorded in the environment's ledger",
        )
    return reason.strip()


def environment_locked(manifest: object, env_name: str, operation: str, break_lock: str | None):  # noqa: ANN201
    """One deploy/promote/swap/rollback per environment at a time; the lock lives in the
    environment's registry (see docs/ledger.md), so every machine and CI job sees it."""
    from genaiops_cli.core.lock import environment_lock
    from genaiops_cli.providers.azure.ledger_store import ledger_for

    return environment_lock(ledger_for(manifest, env_name), env_name, operation, break_lock=break_lock)
