"""`genaiops build`: build service images, skipping any whose source hash is already built."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console as RichConsole
from rich.table import Table

from genaiops_cli.commands._complete import complete_environment, complete_service
from genaiops_cli.commands._progress import service_progress
from genaiops_cli.console import Col, fitted_table
from genaiops_cli.context import app_context


def register(app: typer.Typer) -> None:
    app.command("build", help="Build images (content-addressed: unchanged sources are not rebuilt).")(build)


def records_table(records: list, width: int) -> Table:
    columns = [Col("service"), Col("status"), Col("image", copy=True, drop=1), Col("digest", copy=True)]
    return fitted_table(width, columns, [[r.service, r.status, r.image, r.digest or "—"] for r in records])


def build(
    ctx: typer.Context,
    services: Annotated[
        list[str] | None,
        typer.Argument(help="Services to build (default: all).", autocompletion=complete_service),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env", "-e", help="Tag for this environment's registry.", autocompletion=complete_environment
        ),
    ] = None,
    push: Annotated[bool, typer.Option("--push", help="Push after building (needs --env).")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rebuild even when up to date.")] = False,
    platform: Annotated[
        str | None, typer.Option("--platform", help="Target platform, e.g. linux/amd64.")
    ] = None,
    remote: Annotated[
        bool,
        typer.Option("--remote", help="Build and push in the registry (ACR Tasks); no local Docker needed."),
    ] = False,
) -> None:
    from genaiops_cli import wiring
    from genaiops_cli.core import build as core

    actx = app_context(ctx)
    manifest = actx.manifest()
    env_name = env or actx.env_name
    resolved = manifest.environment(env_name).services if env_name else manifest.services
    names = core.select_services(resolved, list(services or []))
    in_registry = {n for n in names if remote or resolved[n].build.remote}  # type: ignore[union-attr]
    if (push or in_registry) and not env_name:
        actx.require_env(None)
    plans = [core.plan_build(manifest.base_dir, n, resolved[n], platform) for n in names]
    opened = actx.environment(env_name, wire_services=False) if env_name else None
    registry = opened.registry if opened else None
    remote = wiring.remote_builder(opened) if opened and in_registry else None
    if remote is not None:
        remote.resource()  # a registry ACR Tasks cannot find fails before anything is built
    engine = wiring.image_engine()
    if registry is not None and not (push or in_registry or no_cache):
        _name_from_cache(registry, plans, engine)

    def work(plan: core.BuildPlan) -> object:
        if plan.service in in_registry:
            return core.build_remote(plan, manifest, registry, remote, no_cache, on_event)  # type: ignore[arg-type]
        return core.build_one(plan, manifest, registry, no_cache, on_event, engine)

    with service_progress(actx.console, names) as on_event:
        records = core.run_parallel(plans, work)  # type: ignore[arg-type]
        local = [r for r in records if r.status != "pushed"]  # remote builds pushed already
        if push and registry is not None and local:
            auth = registry.push_auth()
            done = {r.service: core.push_one(r, registry, auth, manifest, on_event, engine) for r in local}
            records = [done.get(r.service, r) for r in records]

    def render(out: RichConsole) -> None:
        out.print(records_table(records, out.width))

    actx.emit({"builds": [r.to_dict() for r in records]}, render)
    if not (push or no_cache or in_registry) and all(r.status == "up_to_date" for r in records):
        _note_noop(records, plans, manifest.base_dir)


def _note_noop(records: list, plans: list, base_dir: Any) -> None:
    """Tell the launcher's no-op stamp (fast_build.py) what this answer rests on: the images by id and
    each context's git commit (the records carry it). Does nothing unless the launcher records."""
    from genaiops_cli import fast_build_note
    from genaiops_cli.core.records import records_dir

    fast_build_note.noop(
        [(r.image, r.image_id) for r in records],
        [(str(p.context.root), p.git.commit if p.git else None) for p in plans],
        str(base_dir),
        [str(records_dir(base_dir) / f"{r.service}.json") for r in records],
    )


def _name_from_cache(registry: Any, plans: list, engine: Any) -> None:
    """A no-op build -e ENV needs the registry only to name local images. When the login server is
    remembered from an earlier lookup and every image already exists locally under that name, use it:
    no sign-in, no SDK import, no ARM call. Otherwise the registry asks ARM when first needed."""
    cached = getattr(registry, "cached_login_server", None)
    server = cached() if cached else None
    if server and all(engine.image_id(p.reference(server)) for p in plans):
        registry.login_server = server
