"""`genaiops history [--env E] [--limit N]`: deployments recorded in the environments' ledgers."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console as RichConsole
from rich.table import Table

from genaiops_cli.commands._options import EnvOption
from genaiops_cli.context import app_context


def register(app: typer.Typer) -> None:
    app.command(
        "history", help="Releases and deployments recorded in the ledger (who, when, gates, overrides)."
    )(history)


def history(
    ctx: typer.Context,
    env: EnvOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most N entries.")] = 20,
) -> None:
    from genaiops_cli.core import promote as core

    actx = app_context(ctx)
    manifest = actx.manifest()
    names = [env or actx.env_name] if (env or actx.env_name) else list(manifest.environments)
    envs = [actx.environment(n) for n in names]
    rows = core.history(manifest, envs, limit)
    last_good = {}
    for e in envs:
        from genaiops_cli.core.ledger import last_known_good

        last_good[e.name] = (last_known_good(e.ledger, e.name) or {}).get("release")

    def render(out: RichConsole) -> None:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("when", "env", "release", "op", "status", "from", "by", "gates", "overrides"):
            table.add_column(column, overflow="fold")
        for r in rows:
            gates = ", ".join(f"{g['name']}={g['verdict']}" for g in r["gates"])
            overrides = "; ".join(f"{o['what']}: {o['reason']}" for o in r["overrides"])
            table.add_row(
                (r["finished_at"] or r["started_at"])[:19],
                r["environment"],
                r["release"],
                r["operation"],
                r["status"],
                r["source"] or "",
                r["actor"],
                gates,
                overrides,
            )
        out.print(table)
        out.print("last known good: " + ", ".join(f"{k}={v or '—'}" for k, v in last_good.items()))

    actx.emit({"entries": rows, "last_known_good": last_good}, render)
