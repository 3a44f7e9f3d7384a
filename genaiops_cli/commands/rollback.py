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
)
from genaiops_cli.commands._progress import service_progress
from genaiops_cli.commands.deploy import select_containerapps


def register(app: typer.Typer) -> None:
    app.command("rollback", help="Return traffic to the previous live revision (re-activated if needed).")(
        rollback
    )


def _record(manifest: object, env_name: str, results: list[dict], smoke: dict) -> str | None:
    """Write the rollback into the environment's history (and last-known-good when verified)."""
    from genaiops_cli.core import ledger as lg
    from genaiops_cli.providers.azure.ledger_store import ledger_for

    release = next((r["release"] for r in results if r.get("release")), None)
    if release is None:  # deployed by hand, never promoted: nothing in the ledger to point at
        return None
    record = lg.DeploymentRecord(
        env_name,
        release,
        operation="rollback",
        status="live" if smoke["passed"] else "failed",
        previous_release=next(
            (r["rolled_back_release"] for r in results if r.get("rolled_back_release")), None
        ),
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
    return lg.record_event(ledger_for(manifest, env_name), record)


def rollback(
    ctx: typer.Context,
    services: ServicesArg = None,
    env: EnvOption = None,
    timeout: TimeoutOption = 300,
    break_lock: BreakLockOption = False,
    reason: ReasonOption = None,
) -> None:
    from genaiops_cli.commands.smoke import run_smoke, smoke_table
    from genaiops_cli.core.deploy import rollback_service
    from genaiops_cli.core.targets import containerapps_host
    from genaiops_cli.errors import SmokeFailed

    lock_reason = override_reason(reason, break_lock=break_lock)
    actx, manifest, env_name, resolved, names = select_containerapps(ctx, env, services)
    if not actx.assume_yes and actx.console.interactive:
        typer.confirm(f"Roll back {', '.join(names)} in {env_name}?", abort=True)
    host = containerapps_host(manifest, env_name)
    with (
        environment_locked(manifest, env_name, "rollback", lock_reason),
        service_progress(actx.console, names) as on_event,
    ):
        results = [rollback_service(host, manifest, resolved, n, timeout, on_event) for n in names]
    smoke, checks = run_smoke(actx, manifest, env_name, names, label="live", host=host)
    result = {"environment": env_name, "rollbacks": results, "smoke": smoke}
    result["ledger"] = _record(manifest, env_name, results, smoke)
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
