"""`genaiops build`: build service images, skipping any whose source hash is already built."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console as RichConsole
from rich.table import Table

from genaiops_cli.commands._progress import service_progress
from genaiops_cli.context import app_context

if TYPE_CHECKING:
    from genaiops_cli.core.build import RegistryAccess
    from genaiops_cli.core.manifest.model import Manifest


def register(app: typer.Typer) -> None:
    app.command("build", help="Build images (content-addressed: unchanged sources are not rebuilt).")(build)


def records_table(records: list) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("service", "status", "image", "digest"):
        table.add_column(column)
    for r in records:
        table.add_row(r.service, r.status, r.image, r.digest or "—")
    return table


def build(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(help="Services to build (default: all).")] = None,  # noqa: UP007
    env: Annotated[
        str | None, typer.Option("--env", "-e", help="Tag for this environment's registry.")
    ] = None,  # noqa: UP007
    push: Annotated[bool, typer.Option("--push", help="Push after building (needs --env).")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rebuild even when up to date.")] = False,
    platform: Annotated[
        str | None, typer.Option("--platform", help="Target platform, e.g. linux/amd64.")
    ] = None,  # noqa: UP007
    remote: Annotated[
        bool,
        typer.Option("--remote", help="Build and push in the registry (ACR Tasks); no local Docker needed."),
    ] = False,
) -> None:
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
    registry = _registry(manifest, env_name, plans, local_only=not (push or in_registry or no_cache))
    resource = _registry_resource(manifest, env_name, registry) if in_registry else None

    def work(plan: core.BuildPlan) -> object:
        if plan.service in in_registry:
            return core.build_remote(plan, manifest, registry, resource, no_cache, on_event)  # type: ignore[arg-type]
        return core.build_one(plan, manifest, registry, no_cache, on_event)

    with service_progress(actx.console, names) as on_event:
        records = core.run_parallel(plans, work)  # type: ignore[arg-type]
        local = [r for r in records if r.status != "pushed"]  # remote builds pushed already
        if push and registry is not None and local:
            from genaiops_cli.providers.azure import acr

            token = acr.refresh_token(registry.target, registry.login_server)
            done = {r.service: core.push_one(r, registry, token, manifest, on_event) for r in local}
            records = [done.get(r.service, r) for r in records]

    def render(out: RichConsole) -> None:
        out.print(records_table(records))

    actx.emit({"builds": [r.to_dict() for r in records]}, render)


def _registry(
    manifest: Manifest, env_name: str | None, plans: list, local_only: bool
) -> RegistryAccess | None:
    """The environment's registry. When nothing will be pushed, a cached login server is tried first:
    if every image already exists locally under that name, the build is a no-op that needs no sign-in
    and no ARM call. Otherwise (or on a cache miss) the login server comes from ARM."""
    from genaiops_cli.core.targets import registry_access

    if not env_name:
        return None
    if local_only:
        from genaiops_cli.providers.docker import builder

        registry = registry_access(manifest, env_name, cached=True)
        if all(builder.image_id(p.reference(registry.login_server)) for p in plans):
            return registry
    return registry_access(manifest, env_name)


def _registry_resource(manifest: Manifest, env_name: str, registry: RegistryAccess) -> tuple[str, str]:
    """(resource group, registry name) that ACR Tasks runs are scheduled on."""
    from genaiops_cli.providers.azure import acr_tasks

    config = manifest.environment(env_name).config
    return acr_tasks.registry_resource(registry.target, config.resource_group, config.registry)
