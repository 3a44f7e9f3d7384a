"""`genaiops rollback`: back to the previous live revision in one traffic write, then verify."""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment


def register(app: typer.Typer) -> None:
    app.command("rollback", help="Return traffic to the previous live revision (re-activated if needed).")(
        rollback
    )


def _record(opened: Environment, results: list[dict], smoke: dict) -> str | None:
    """Write the rollback into the environment's history (and last-known-good when verified), with
    the releases history recorded on the revisions that now serve and were rolled back from (the
    app's release tags are corrected when they said otherwise)."""
    from genaiops_cli.core import ledger as lg
    from genaiops_cli.core.reconcile import settle_release_tags

    release, previous = settle_release_tags(opened, [r["service"] for r in results])
    if release is None:  # deployed by hand, never promoted: nothing in the ledger to point at
        return None
    record = lg.DeploymentRecord(
        opened.name,
        release,
        operation="rollback",
        status="live" if smoke["passed"] else "failed",
        previous_release=previous,
        services={
            r["service"]: {"revision": r["live"], "previous_revision": r["rolled_back_from"]} for r in results
        },
        gates=[
            {
                "name": "smoke",
                "kind": "smoke",
                "label": "live",
                "verdict": "pass" if smoke["passed"] else "fail",
                "evidence": smoke,
            }
        ],
    )
    return lg.record_event(opened.ledger, record)


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
    result["ledger"] = _record(opened, results, smoke)
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
