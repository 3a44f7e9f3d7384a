"""`genaiops watch -e ENV [SERVICE]`: keep analysing the live revisions for the environment's
`watch.duration`; roll them back automatically (exit 9) when it fails. promote and swap run the same
watch by themselves after their swap; this command watches again (or watches a change made another
way). Logic in core/watch.py."""

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
    from genaiops_cli.core.watch import Watched, WatchRun
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
    with (
        environment_locked(opened, "watch", override_reason(reason, break_lock=break_lock)),
        service_progress(actx.console, names) as on_event,
    ):
        targets = [Watched(n, opened.host(n), wiring.revision_metrics(opened, n)) for n in names]
        result = WatchRun(opened.name, targets, spec, opened.ledger, on_event).run()
    actx.emit(
        {"environment": opened.name, "watch": result},
        lambda out: out.print(
            f"{', '.join(f'{s}: {r}' for s, r in result['live'].items())}: {result['verdict']}"
        ),
    )
