"""`genaiops watch -e ENV [SERVICE]`: after a swap or promote, keep analysing the live revision for the
environment's `watch.duration`; roll back automatically (exit 9) when it fails. Logic in core/watch.py."""

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
    app.command(
        "watch", help="Post-release watch: analyse the live revision for a while; roll back if it fails."
    )(watch)


def watch(
    ctx: typer.Context,
    services: ServicesArg = None,
    env: EnvOption = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="Override watch.duration, e.g. 2m or 90s.")
    ] = None,
    break_lock: BreakLockOption = False,
    reason: ReasonOption = None,
) -> None:
    from genaiops_cli import wiring
    from genaiops_cli.core.manifest.model import Watch
    from genaiops_cli.core.watch import WatchRun
    from genaiops_cli.errors import UsageError

    actx, opened, names = select_services(ctx, env, services)
    spec = opened.config.watch or Watch()
    if duration is not None:
        try:
            spec = spec.model_copy(update={"duration": Watch(duration=duration).duration})
        except ValueError:
            raise UsageError(
                f"--duration {duration!r} is not like `90s` or `5m`", hint="e.g. --duration 5m"
            ) from None
    results = []
    with (
        environment_locked(opened, "watch", override_reason(reason, break_lock=break_lock)),
        service_progress(actx.console, names) as on_event,
    ):
        for name in names:
            host, _, metrics = wiring.canary_ports(opened, name)
            results.append(WatchRun(opened.name, name, spec, metrics, host, opened.ledger, on_event).run())
    actx.emit(
        {"environment": opened.name, "watches": results},
        lambda out: [out.print(f"{r['service']}: {r['live']} {r['verdict']}") for r in results],
    )
