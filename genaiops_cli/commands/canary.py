"""`genaiops canary -e ENV [SERVICE]`: move the staged revision through the environment's canary steps
with analysis against stable; pass → 100 %, fail → back to stable (exit 9), recorded in the ledger.
Logic in core/canary.py."""

from __future__ import annotations

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
from genaiops_cli.errors import UsageError


def register(app: typer.Typer) -> None:
    app.command(
        "canary",
        help="Canary the staged revision: weighted steps with metric analysis; fail → back to stable.",
    )(canary)


def canary(
    ctx: typer.Context,
    services: ServicesArg = None,
    env: EnvOption = None,
    break_lock: BreakLockOption = False,
    reason: ReasonOption = None,
) -> None:
    from genaiops_cli import wiring
    from genaiops_cli.core.canary import CanaryRun

    actx, opened, names = select_services(ctx, env, services)
    spec = opened.config.canary
    if spec is None:
        raise UsageError(
            f"environment `{opened.name}` has no `canary:` section",
            hint="add `canary: {steps: [{weight: 10, pause: 60s}, {weight: 50}]}` (docs/monitoring.md)",
        )
    results = []
    with (
        environment_locked(opened, "canary", override_reason(reason, break_lock=break_lock)),
        service_progress(actx.console, names) as on_event,
    ):
        for name in names:
            host, split, metrics = wiring.canary_ports(opened, name)
            run = CanaryRun(opened.name, name, spec, split, metrics, host, opened.ledger, on_event)
            results.append(run.run())
    actx.emit(
        {"environment": opened.name, "canaries": results},
        lambda out: [
            out.print(f"{r['service']}: {r['canary']} passed every step, now live") for r in results
        ],
    )
