"""`genaiops push`: publish built images to an environment's registry and pin their digests."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console as RichConsole

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
    services: Annotated[list[str] | None, typer.Argument(help="Services to push (default: all).")] = None,  # noqa: UP007
    env: Annotated[
        str | None, typer.Option("--env", "-e", help="Environment whose registry to push to.")
    ] = None,  # noqa: UP007
) -> None:
    from genaiops_cli.core import build as core
    from genaiops_cli.core.records import load_record
    from genaiops_cli.core.targets import registry_access
    from genaiops_cli.providers.azure import acr

    actx = app_context(ctx)
    manifest = actx.manifest()
    env_name = actx.require_env(env)
    resolved = manifest.environment(env_name).services
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
    registry = registry_access(manifest, env_name)
    token = acr.refresh_token(registry.target, registry.login_server)
    with service_progress(actx.console, names) as on_event:
        pushed = [core.push_one(r, registry, token, manifest, on_event) for r in records]

    def render(out: RichConsole) -> None:
        out.print(records_table(pushed, out.width))

    actx.emit({"builds": [r.to_dict() for r in pushed]}, render)
