"""`genaiops push`: publish built images to an environment's registry and pin their digests."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console as RichConsole

from genaiops_cli.commands._complete import complete_environment, complete_service
from genaiops_cli.commands._progress import service_progress
from genaiops_cli.commands.build import records_table
from genaiops_cli.context import app_context
from genaiops_cli.errors import BuildError


def register(app: typer.Typer) -> None:
    app.command(
        "push", help="Push built images to the environment's registry (Entra sign-in, no passwords)."
    )(push)


def push(
    ctx: typer.Context,
    services: Annotated[
        list[str] | None,
        typer.Argument(help="Services to push (default: all).", autocompletion=complete_service),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env", "-e", help="Environment whose registry to push to.", autocompletion=complete_environment
        ),
    ] = None,
) -> None:
    from genaiops_cli import wiring
    from genaiops_cli.core import build as core
    from genaiops_cli.core.records import load_record

    actx = app_context(ctx)
    manifest = actx.manifest()
    opened = actx.environment(env)
    env_name = opened.name
    resolved = opened.resolved.services
    names = core.select_services(resolved, list(services or []))
    plans = {n: core.plan_build(manifest.base_dir, n, resolved[n]) for n in names}
    records = []
    for name in names:
        record = load_record(manifest.base_dir, name)
        if record is None or record.source_hash != plans[name].source_hash:
            raise BuildError(
                f"service {name!r} has no build for its current sources",
                hint=f"run `genaiops build {name} -e {env_name}` (or `build --push`)",
            )
        records.append(record)
    registry = opened.registry
    auth = registry.push_auth()
    with service_progress(actx.console, names) as on_event:
        engine = wiring.image_engine()
        pushed = [core.push_one(r, registry, auth, manifest, on_event, engine) for r in records]

    def render(out: RichConsole) -> None:
        out.print(records_table(pushed, out.width))

    actx.emit({"builds": [r.to_dict() for r in pushed]}, render)
