"""`genaiops deploy`: put the built images (by digest) on an environment's Container Apps."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console as RichConsole

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
from genaiops_cli.console import Col, fitted_table


def register(app: typer.Typer) -> None:
    app.command(
        "deploy", help="Deploy by digest: direct (100 % when healthy) or blue/green (staged at 0 %)."
    )(deploy)


def deploy(
    ctx: typer.Context,
    services: ServicesArg = None,
    env: EnvOption = None,
    digest: Annotated[
        str | None, typer.Option("--digest", help="Deploy this sha256 digest (one service).")
    ] = None,
    timeout: TimeoutOption = 300,
    break_lock: BreakLockOption = False,
    reason: ReasonOption = None,
) -> None:
    from genaiops_cli.core.targets import pinned_image
    from genaiops_cli.errors import UsageError

    lock_reason = override_reason(reason, break_lock=break_lock)
    actx, opened, names = select_services(ctx, env, services)
    if digest and len(names) != 1:
        raise UsageError(
            "--digest applies to exactly one service", hint="name the service: deploy SERVICE --digest …"
        )
    hosts = {name: opened.host(name) for name in names}  # an unimplemented host kind fails here
    outcomes = []
    with (
        environment_locked(opened, "deploy", lock_reason),
        service_progress(actx.console, names) as on_event,
    ):
        for name in names:
            image = pinned_image(opened, name, digest)
            outcomes.append(hosts[name].deploy(name, image, timeout, on_event))

    def render(out: RichConsole) -> None:
        columns = [Col("service"), Col("revision", copy=True), Col("result"), Col("url")]
        rows = [
            [
                o.service,
                o.revision,
                o.action + (f" ({o.label})" if o.label else ""),
                o.label_url or o.app_url or "",
            ]
            for o in outcomes
        ]
        out.print(fitted_table(out.width, columns, rows))

    actx.emit({"environment": opened.name, "deployments": [o.to_dict() for o in outcomes]}, render)
