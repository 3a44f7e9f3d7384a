"""`genaiops rollback`: back to the previous live revision in one traffic write, then verify."""

from __future__ import annotations

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
    app.command("rollback", help="Return traffic to the previous live revision (re-activated if needed).")(
        rollback
    )


def rollback(
    ctx: typer.Context,
    services: ServicesArg = None,
    env: EnvOption = None,
    timeout: TimeoutOption = 300,
    break_lock: BreakLockOption = False,
    reason: ReasonOption = None,
) -> None:
    from genaiops_cli.commands.smoke import run_smoke, smoke_table
    from genaiops_cli.core import traffic_moves
    from genaiops_cli.core.reconcile import record_rollback
    from genaiops_cli.errors import SmokeFailed

    lock_reason = override_reason(reason, break_lock=break_lock)
    actx, opened, names = select_services(ctx, env, services)
    env_name = opened.name
    # Everything that would make the rollback fail is checked before anyone is asked to confirm it.
    plans = [opened.host(n).rollback_plan(n) for n in names]
    if not actx.assume_yes and actx.console.interactive:
        moves = ", ".join(f"{p['service']} {p['live']} → {p['previous']}" for p in plans)
        typer.confirm(f"Roll back in {env_name}: {moves}?", abort=True, err=True)
    with (
        environment_locked(opened, "rollback", lock_reason),
        service_progress(actx.console, names) as on_event,
    ):
        # all or none: a failure after some services moved puts those back (recorded, exit 7)
        results = traffic_moves.rollback_all(
            opened, traffic_moves.plan_rollback(opened, names), timeout, on_event
        )
    smoke, checks = run_smoke(actx, opened, names, label="live")
    result = {"environment": env_name, "rollbacks": results, "smoke": smoke}
    result["ledger"] = record_rollback(opened, [r["service"] for r in results], smoke)
    if not smoke["passed"]:
        if not actx.console.is_json:
            actx.console.err.print(smoke_table(checks))
        raise SmokeFailed(
            "rolled back, but the smoke checks fail on the restored revision",
            hint="investigate the previous revision; traffic stays on it",
            details=result,
        )
    actx.emit(
        result,
        lambda out: [out.print(f"[green]✓[/green] {r['service']}: back on {r['live']}") for r in results],
    )
