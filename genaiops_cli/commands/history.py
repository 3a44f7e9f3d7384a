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
    from genaiops_cli.core.ledger import MIXED, last_known_good

    last_good, mixed_good = {}, {}
    for e in envs:
        pointer = last_known_good(e.ledger, e.name) or {}
        last_good[e.name] = pointer.get("release")
        if pointer.get("releases"):  # a mixed state: no one release, each service's own
            mixed_good[e.name] = pointer["releases"]

    def release(name: str | None, per_service: dict[str, str | None]) -> str:
        if name != MIXED:
            return name or "—"
        each = ", ".join(f"{s} {r or '?'}" for s, r in per_service.items())
        return f"{MIXED} ({each})"

    def render(out: RichConsole) -> None:
        table = fitted_table(
            out.width,
            COLUMNS,
            [
                [
                    (r["finished_at"] or r["started_at"])[:19],
                    r["environment"],
                    release(r["release"], r["releases"]),
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
        good = (f"{k}={release(v, mixed_good.get(k, {}))}" for k, v in last_good.items())
        out.print("last known good: " + ", ".join(good))

    # last_known_good_releases: per service, for an environment whose last-known-good is mixed
    actx.emit({"entries": rows, "last_known_good": last_good, "last_known_good_releases": mixed_good}, render)
