"""`genaiops swap`: smoke-check the staged revision, then move all traffic to it in one write."""

from __future__ import annotations

from typing import Annotated

import typer

from genaiops_cli.commands._options import (
    BreakLockOption,
    EnvOption,
    ReasonOption,
    ServicesArg,
    environment_locked,
    override_reason,
    select_services,
)
from genaiops_cli.commands._progress import service_progress


def register(app: typer.Typer) -> None:
    app.command("swap", help="Blue/green swap: staged revision takes 100 % after its smoke checks pass.")(
        swap
    )


def swap(
    ctx: typer.Context,
    services: ServicesArg = None,
    env: EnvOption = None,
    skip_smoke: Annotated[
        bool, typer.Option("--skip-smoke", help="Swap without smoke checks (needs --reason).")
    ] = False,
    break_lock: BreakLockOption = False,
    reason: ReasonOption = None,
) -> None:
    from genaiops_cli.commands.smoke import run_smoke, smoke_table
    from genaiops_cli.errors import SmokeFailed

    why = override_reason(reason, skip_smoke=skip_smoke, break_lock=break_lock)
    skip_smoke_reason = why if skip_smoke else None
    actx, opened, names = select_services(ctx, env, services)
    env_name = opened.name
    with environment_locked(opened, "swap", why if break_lock else None):
        smoke = None
        if skip_smoke_reason:
            actx.console.warn(f"skipping smoke checks: {skip_smoke_reason}")
        else:
            smoke, results = run_smoke(actx, opened, names, label="staged")
            if not smoke["passed"]:
                if not actx.console.is_json:
                    actx.console.err.print(smoke_table(results))
                raise SmokeFailed(
                    "smoke checks failed against the staged revision; traffic not moved",
                    hint="fix the release and deploy again; live traffic is unchanged",
                    details=smoke,
                )
        with service_progress(actx.console, names) as on_event:
            swaps = [opened.host(n).swap(n, on_event) for n in names]
    result = {"environment": env_name, "swaps": swaps, "smoke": smoke, "skip_smoke_reason": skip_smoke_reason}
    actx.emit(
        result,
        lambda out: [
            out.print(
                f"[green]✓[/green] {s['service']}: {s['live']} is live (previous {s['previous']} kept warm)"
            )
            for s in swaps
        ],
    )
