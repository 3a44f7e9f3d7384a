"""`genaiops deploy`: put the built images (by digest) on an environment's Container Apps."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console as RichConsole

from genaiops_cli.commands._options import (
    BreakLockOption,
    EnvOption,
    ForceOption,
    ReasonOption,
    ServicesArg,
    TimeoutOption,
    environment_locked,
    override_reason,
    select_services,
)
from genaiops_cli.commands._progress import service_progress
from genaiops_cli.console import Col, fitted_table
from genaiops_cli.context import app_context


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
    force: ForceOption = False,
    reason: ReasonOption = None,
) -> None:
    from genaiops_cli.core import side_doors
    from genaiops_cli.core.targets import pinned_image
    from genaiops_cli.errors import UsageError

    why = override_reason(reason, force=force, break_lock=break_lock)
    forced, lock_reason = (why if force else None), (why if break_lock else None)
    actx = app_context(ctx)
    env_name = actx.require_env(env)
    # no ungated release goes live in a promoted-into environment (checked before any network call)
    side_doors.check_deploy(env_name, actx.manifest().environment(env_name), forced)
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
        # in a gated environment, what went live at once passes its gates (or is rolled back), recorded
        went_live = [o.service for o in outcomes if o.action in ("created", "live")]
        created = [o.service for o in outcomes if o.action == "created"]
        recorded = side_doors.gate_deploy(opened, went_live, forced, on_event, created)

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

    result = {"environment": opened.name, "deployments": [o.to_dict() for o in outcomes]}
    if recorded:
        result.update(recorded)
    actx.emit(result, render)
