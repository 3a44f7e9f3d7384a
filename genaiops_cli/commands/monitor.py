"""`genaiops monitor apply|status -e ENV`: the environment's `monitor:` (action groups, metric and
log alerts) as Azure Monitor resources. Logic in core/monitor.py; Azure calls in providers."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console as RichConsole
from rich.table import Table

from genaiops_cli.commands._options import EnvOption
from genaiops_cli.context import app_context
from genaiops_cli.errors import UsageError


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Alert rules and action groups as code (Azure Monitor).", no_args_is_help=True)
    group.command(
        "apply", help="Create/update/delete the environment's alerts and action groups (diff first)."
    )(apply)
    group.command("status", help="Each alert rule and action group: deployed, in sync, and its state now.")(
        status
    )
    app.add_typer(group, name="monitor")


def _port(actx: Any, env_name: str) -> Any:
    from genaiops_cli import wiring

    return wiring.monitor(actx.manifest(), env_name)


def _require_monitor(manifest: Any, env_name: str) -> None:
    if manifest.environment(env_name).config.monitor is None:
        raise UsageError(
            f"environment `{env_name}` has no `monitor:` section",
            hint="add `monitor: {action_groups: …, alerts: …}` to it (see docs/monitoring.md)",
        )


def apply(
    ctx: typer.Context,
    env: EnvOption = None,
    what_if: Annotated[bool, typer.Option("--what-if", help="Only show what would change.")] = False,
) -> None:
    from genaiops_cli.core import monitor as core

    actx = app_context(ctx)
    env_name = actx.require_env(env)
    manifest = actx.manifest()
    _require_monitor(manifest, env_name)
    port = _port(actx, env_name)
    changes, desired = core.plan(port, manifest, env_name)
    summary = core.summarize(changes)
    applied = 0 if what_if else core.apply(port, manifest, env_name, changes, desired)
    result = {
        "environment": env_name,
        "what_if": what_if,
        "summary": summary,
        "changes": [c.as_dict() for c in changes],
        "applied": applied,
    }

    def render(out: RichConsole) -> None:
        _render_changes(out, changes)
        counts = ", ".join(f"{n} {k.lower()}" for k, n in summary.items() if n)
        verb = "would change" if what_if else "changed"
        moved = sum(summary.values()) - summary["NoChange"]
        out.print(f"{env_name}: {counts or 'nothing declared'}; {verb} {moved}")

    actx.emit(result, render)


def _render_changes(out: RichConsole, changes: list[Any]) -> None:
    marks = {"Create": "[green]+[/]", "Modify": "[yellow]~[/]", "Delete": "[red]-[/]", "NoChange": " "}
    for c in changes:
        detail = f"  ({', '.join(c.fields[:4])}{', …' if len(c.fields) > 4 else ''})" if c.fields else ""
        out.print(f"{marks[c.action]} {c.kind} {c.name}: {c.action}{detail}")


def status(ctx: typer.Context, env: EnvOption = None) -> None:
    from genaiops_cli.core import monitor as core

    actx = app_context(ctx)
    env_name = actx.require_env(env)
    manifest = actx.manifest()
    _require_monitor(manifest, env_name)
    rows = core.status(_port(actx, env_name), manifest, env_name)

    def render(out: RichConsole) -> None:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("kind", "name", "deployed", "sync", "state"):
            table.add_column(column)
        for r in rows:
            state = r["state"]
            if state == "Fired":
                state = "[red]Fired[/]"
            table.add_row(r["kind"], r["name"], "yes" if r["deployed"] else "no", r["sync"], state)
        out.print(table)

    actx.emit({"environment": env_name, "rules": rows}, render)
