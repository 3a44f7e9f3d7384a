"""`genaiops diff ENV_A ENV_B`: live releases, digests and configuration differences."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console as RichConsole

from genaiops_cli.commands._complete import complete_environment
from genaiops_cli.context import app_context


def register(app: typer.Typer) -> None:
    app.command("diff", help="Compare two environments: live release ids, image digests, configuration.")(
        diff
    )


def diff(
    ctx: typer.Context,
    env_a: Annotated[str, typer.Argument(metavar="ENV_A", autocompletion=complete_environment)],
    env_b: Annotated[str, typer.Argument(metavar="ENV_B", autocompletion=complete_environment)],
) -> None:
    from genaiops_cli.core import promote as core

    actx = app_context(ctx)
    manifest = actx.manifest()
    result = core.diff(manifest, actx.environment(env_a), actx.environment(env_b))

    def render(out: RichConsole) -> None:
        out.print(
            f"release: {env_a}={result['release_a'] or '—'}  {env_b}={result['release_b'] or '—'}"
            + (
                "  [green](same)[/green]"
                if result["release_a"] and result["release_a"] == result["release_b"]
                else ""
            )
        )
        for s in result["services"]:
            same = "[green]same digest[/green]" if s["same_digest"] else "[yellow]different digest[/yellow]"
            out.print(
                f"[bold]{s['service']}[/bold]: {same}  "
                f"{(s['digest_a'] or '—')[:19]} vs {(s['digest_b'] or '—')[:19]}"
            )
            for d in s["config"]:
                out.print(f"  {d['path']}: {d['a']!r} → {d['b']!r}", markup=False)
        for d in result["environment"]:
            out.print(f"  env.{d['path']}: {d['a']!r} → {d['b']!r}", markup=False)

    actx.emit(result, render)
