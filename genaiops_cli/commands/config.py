"""`genaiops config show`: the effective configuration of one environment, secrets masked."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console as RichConsole
from rich.syntax import Syntax

from genaiops_cli.commands._complete import complete_environment
from genaiops_cli.context import app_context

config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.command(
    "show", help="Show one environment's merged configuration (secret-looking values masked)."
)
def show(
    ctx: typer.Context,
    env: Annotated[
        str | None, typer.Option("--env", "-e", help="Environment name.", autocompletion=complete_environment)
    ] = None,
) -> None:
    from genaiops_cli.core.config_view import effective_config

    actx = app_context(ctx)
    env_name = actx.require_env(env)
    view = effective_config(actx.manifest(), env_name)

    def render(out: RichConsole) -> None:
        import yaml

        out.print(Syntax(yaml.safe_dump(view, sort_keys=False), "yaml", background_color="default"))

    actx.emit(view, render)
