"""`genaiops restart`: restart a revision in place (default: the live one) and wait until healthy."""

from __future__ import annotations

from typing import Annotated

import typer

from genaiops_cli.commands._options import (
    BreakLockOption,
    EnvOption,
    ReasonOption,
    ServicesArg,
    TimeoutOption,
    environment_locked,
    override_reason,
    select_services,
)
from genaiops_cli.commands._progress import service_progress


def register(app: typer.Typer) -> None:
    app.command(
        "restart", help="Restart a revision in place (default: the live one); traffic is not changed."
    )(restart)


def restart(
    ctx: typer.Context,
    services: ServicesArg = None,
    env: EnvOption = None,
    revision: Annotated[
        str | None, typer.Option("--revision", help="The revision to restart (default: the live one).")
    ] = None,
    timeout: TimeoutOption = 300,
    break_lock: BreakLockOption = False,
    reason: ReasonOption = None,
) -> None:
    from genaiops_cli.core.restart import check_selection, restart_services

    lock_reason = override_reason(reason, break_lock=break_lock)
    actx, opened, names = select_services(ctx, env, services)
    check_selection(names, revision)
    with (
        environment_locked(opened, "restart", lock_reason),
        service_progress(actx.console, names) as on_event,
    ):
        results = restart_services(opened, names, revision, timeout, on_event)
    actx.emit(
        {"environment": opened.name, "restarts": results},
        lambda out: [
            out.print(f"[green]✓[/green] {r['service']}: {r['revision']} restarted and healthy")
            for r in results
        ],
    )
