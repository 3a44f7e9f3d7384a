"""`genaiops repair`: make the ledger name what runs (release tags, last-known-good, history);
moves no traffic; the repair itself is recorded in history."""

from __future__ import annotations

import typer
from rich.console import Console as RichConsole

from genaiops_cli.commands._options import (
    BreakLockOption,
    EnvOption,
    ReasonOption,
    environment_locked,
    override_reason,
    select_services,
)


def register(app: typer.Typer) -> None:
    app.command("repair", help="Make the ledger's records name what runs (no traffic moves); recorded.")(
        repair
    )


def repair(
    ctx: typer.Context,
    env: EnvOption = None,
    break_lock: BreakLockOption = False,
    reason: ReasonOption = None,
) -> None:
    from genaiops_cli.core.reconcile import repair as repair_records

    lock_reason = override_reason(reason, break_lock=break_lock)
    actx, opened, _ = select_services(ctx, env, None)
    with environment_locked(opened, "repair", lock_reason):
        result = repair_records(opened)
    if result.get("note"):  # drift, and no recorded release names what runs
        from genaiops_cli.errors import DeployError

        raise DeployError(
            f"{opened.name}: the records do not name what runs, and no recorded release does",
            hint=result["note"],
            code="unrepairable",
            details=result,
        )

    def render(out: RichConsole) -> None:
        if not result["drift"]:
            out.print(f"[green]✓[/green] {opened.name}: the records name what runs; nothing to repair")
            return
        for d in result["drift"]:
            out.print(f"drift: {d['record']} said {d['says']}")
        out.print(f"[green]✓[/green] repaired {', '.join(result['repaired'])} → release {result['release']}")

    actx.emit(result, render)
