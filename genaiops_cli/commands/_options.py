"""Options shared by several commands, declared once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from genaiops_cli.commands._complete import complete_environment, complete_service
from genaiops_cli.context import AppContext, app_context

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment

EnvOption = Annotated[
    str | None, typer.Option("--env", "-e", help="Environment name.", autocompletion=complete_environment)
]
ServicesArg = Annotated[
    list[str] | None, typer.Argument(help="Services (default: all).", autocompletion=complete_service)
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Seconds to wait for a revision to be ready.")
]
# Every override is a flag, and every override's justification is the one --reason (recorded in the
# ledger): `--break-lock --reason "…"` reads the same on deploy, swap, rollback and promote.
BreakLockOption = Annotated[
    bool, typer.Option("--break-lock", help="Take the environment's lock from its holder (needs --reason).")
]
ReasonOption = Annotated[
    str | None,
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


class Selection(NamedTuple):
    actx: AppContext
    env: Environment  # opened once: config, registry, ledger, hosts
    names: list[str]  # the services the command acts on


def select_services(
    ctx: typer.Context, env: str | None, services: list[str] | None, timeout: float = 600
) -> Selection:
    """What every deploy/swap/rollback/smoke/status starts from: the opened environment and the
    services it acts on (each deployed through its own host kind)."""
    actx = app_context(ctx)
    opened = actx.environment(env, timeout)
    return Selection(actx, opened, opened.select(list(services or [])))


ForceOption = Annotated[
    bool,
    typer.Option("--force", help="In a gated environment: act without its gates (needs --reason; recorded)."),
]


def environment_locked(env: Environment, operation: str, break_lock: str | None) -> Any:
    """One deploy/promote/swap/rollback per environment at a time: a blob lease on the environment's
    storage account (else a timed lock in its registry; see docs/ledger.md), so every machine and CI
    job sees it."""
    from genaiops_cli.core.lock import environment_lock

    return environment_lock(env.ledger, env.name, operation, break_lock=break_lock, lease=env.lock)


NoWatchOption = Annotated[
    bool,
    typer.Option(
        "--no-watch",
        help="Skip the environment's post-release watch (the skip is recorded in its history).",
    ),
]
