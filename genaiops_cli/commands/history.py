"""`genaiops history [--env E] [--limit N]`: deployments recorded in the environments' ledgers."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console as RichConsole

from genaiops_cli.commands._options import EnvOption
from genaiops_cli.console import Col, fitted_table
from genaiops_cli.context import app_context

# Timestamps and release ids stay on one line; who and overrides wrap, and go first on narrow terminals.
COLUMNS = [
    Col("when", copy=True),
    Col("env"),
    Col("release", copy=True),
    Col("op"),
    Col("status"),
    Col("from", drop=3),
    Col("by", drop=4),
    Col("gates", drop=1),
    Col("overrides", drop=2),
]


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
        table = fitted_table(
            out.width,
            COLUMNS,
            [
                [
                    (r["finished_at"] or r["started_at"])[:19],
                    r["environment"],
                    r["release"],
                    r["operation"],
                    r["status"] + (f" ({r['error']})" if r.get("error") else ""),
                    r["source"] or "",
                    r["actor"],
                    ", ".join(f"{g['name']}={g['verdict']}" for g in r["gates"]),
                    "; ".join(f"{o['what']}: {o['reason']}" for o in r["overrides"]),
                ]
                for r in rows
            ],
        )
        out.print(table)
        out.print("last known good: " + ", ".join(f"{k}={v or '—'}" for k, v in last_good.items()))

    actx.emit({"entries": rows, "last_known_good": last_good}, render)
