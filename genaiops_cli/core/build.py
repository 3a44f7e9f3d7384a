"""Build and push: plan (pure) then run through the ImageEngine, RemoteBuilder and Registry ports.

A build is identified by its source hash; the image is tagged `<registry>/<repository>:<hash16>`
(plus the git commit when the context is clean), so "is this built?" is a tag lookup, locally or
in the registry, before anything is built. Push reads the digest back from the registry and
insists it equals what the engine reported: the digest is what every later step deploys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from genaiops_cli.core.build_context import BuildContext, scan_context, source_hash
from genaiops_cli.core.gitinfo import GitInfo, git_info
from genaiops_cli.core.records import BuildRecord, load_record, save_record
from genaiops_cli.errors import BuildError, UsageError

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import Manifest, Service
    from genaiops_cli.core.ports import ImageEngine, Registry, RemoteBuilder

TAG_LENGTH = 16
MAX_PARALLEL_BUILDS = 3
LABEL_SOURCE_HASH = "dev.genaiops.source-hash"

EventFn = Callable[[str, str], None]  # (service, message)


@dataclass
class BuildPlan:
    service: str
    context: BuildContext
    build_args: dict[str, str]
    platform: str | None
    target: str | None
    repository: str
    source_hash: str
    git: GitInfo | None

    @property
    def tag(self) -> str:
        return self.source_hash[:TAG_LENGTH]

    def reference(self, registry: str | None) -> str:
        repo = f"{registry}/{self.repository}" if registry else self.repository
        return f"{repo}:{self.tag}"

    def git_tag(self) -> str | None:
        return self.git.short if self.git and self.git.clean else None


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def select_services(services: dict[str, Service], names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in services]
    if unknown:
        raise UsageError(f"unknown service {', '.join(unknown)}", hint=f"services: {', '.join(services)}")
    chosen = names or list(services)
    buildable = [n for n in chosen if services[n].build is not None]
    if names and len(buildable) != len(names):
        prebuilt = sorted(set(names) - set(buildable))
        raise UsageError(f"{', '.join(prebuilt)} use a prebuilt `image:`; nothing to build")
    return buildable


def plan_build(base_dir: Path, name: str, service: Service, platform: str | None = None) -> BuildPlan:
    build = service.build
    assert build is not None and service.repository is not None  # the manifest guarantees both
    context_dir = (base_dir / build.context).resolve()
    if not _inside(context_dir, base_dir):
        raise BuildError(
            f"build context {context_dir} of service {name!r} is outside the project {base_dir}",
            hint="keep build contexts inside the directory of genaiops.yaml",
        )
    if not context_dir.is_dir():
        raise BuildError(
            f"build context {context_dir} of service {name!r} does not exist",
            hint=f"fix services.{name}.build.context",
        )
    dockerfile_path = (context_dir / build.dockerfile).resolve()
    if not _inside(dockerfile_path, context_dir) or not dockerfile_path.is_file():
        raise BuildError(
            f"no Dockerfile at {dockerfile_path} for service {name!r}",
            hint=f"fix services.{name}.build.dockerfile (relative to the context)",
        )
    dockerfile_rel = dockerfile_path.relative_to(context_dir).as_posix()
    context = scan_context(context_dir, dockerfile_rel)
    chosen_platform = platform or build.platform
    digest = source_hash(
        context, dockerfile_path.read_bytes(), dict(build.args), chosen_platform, build.target
    )
    return BuildPlan(
        service=name,
        context=context,
        build_args=dict(build.args),
        platform=chosen_platform,
        target=build.target,
        repository=service.repository,
        source_hash=digest,
        git=git_info(context_dir),
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _labels(plan: BuildPlan, project: str) -> dict[str, str]:
    labels = {
        LABEL_SOURCE_HASH: plan.source_hash,
        "org.opencontainers.image.title": f"{project}/{plan.service}",
        "org.opencontainers.image.source": (plan.git.remote if plan.git and plan.git.remote else project),
        "org.opencontainers.image.created": _now(),
    }
    if plan.git:
        labels["org.opencontainers.image.revision"] = plan.git.commit + ("" if plan.git.clean else "-dirty")
    return labels


def build_one(
    plan: BuildPlan,
    manifest: Manifest,
    registry: Registry | None,
    no_cache: bool,
    on_event: EventFn,
    builder: ImageEngine,
) -> BuildRecord:
    login = registry.login_server if registry else None
    reference = plan.reference(login)
    record = BuildRecord(
        service=plan.service,
        source_hash=plan.source_hash,
        repository=plan.repository,
        tag=plan.tag,
        image=reference,
        status="built",
        registry=login,
        git_commit=plan.git.commit if plan.git else None,
    )
    previous = load_record(manifest.base_dir, plan.service)
    if not no_cache:
        local_id = builder.image_id(reference)
        if local_id:
            on_event(plan.service, "up to date (image with this source hash exists locally)")
            record.status, record.image_id = "up_to_date", local_id
            if previous and previous.source_hash == plan.source_hash and previous.registry == login:
                record.digest, record.pushed_at = previous.digest, previous.pushed_at
            save_record(manifest.base_dir, record)
            return record
        if registry:
            digest = registry.digest(plan.repository, plan.tag)
            if digest:
                on_event(plan.service, f"up to date (already in {registry.login_server} as {digest[:19]})")
                record.status, record.digest = "in_registry", digest
                save_record(manifest.base_dir, record)
                return record
    on_event(plan.service, f"building {reference} ({plan.context.file_count} files in context)")
    tags = [reference]
    if plan.git_tag():
        tags.append(reference.rsplit(":", 1)[0] + f":{plan.git_tag()}")
        record.extra_tags = [plan.git_tag() or ""]
    built = builder.build(
        plan.context,
        tags=tags,
        build_args=plan.build_args,
        labels=_labels(plan, manifest.name),
        platform=plan.platform,
        target=plan.target,
        no_cache=no_cache,
        on_line=lambda line: on_event(plan.service, line),
    )
    record.image_id, record.built_at = built.image_id, _now()
    save_record(manifest.base_dir, record)
    on_event(plan.service, f"built {reference}")
    return record


def build_remote(
    plan: BuildPlan,
    manifest: Manifest,
    registry: Registry,
    remote: RemoteBuilder,
    no_cache: bool,
    on_event: EventFn,
) -> BuildRecord:
    """Build and push in the registry with ACR Tasks (`build.remote` / `--remote`): no local engine.
    The digest the run reports is read back from the registry before it is recorded, as after a
    local push."""
    wanted = plan.reference(registry.login_server)
    record = BuildRecord(
        service=plan.service,
        source_hash=plan.source_hash,
        repository=plan.repository,
        tag=plan.tag,
        image=wanted,
        status="pushed",
        registry=registry.login_server,
        git_commit=plan.git.commit if plan.git else None,
    )
    if not no_cache:
        digest = registry.digest(plan.repository, plan.tag)
        if digest:
            on_event(plan.service, f"up to date (already in {registry.login_server} as {digest[:19]})")
            record.status, record.digest = "in_registry", digest
            save_record(manifest.base_dir, record)
            return record
    images = [f"{plan.repository}:{plan.tag}"]
    if plan.git_tag():
        images.append(f"{plan.repository}:{plan.git_tag()}")
        record.extra_tags = [plan.git_tag() or ""]
    on_event(plan.service, f"building {wanted} in {remote.resource()[1]} (ACR Tasks)")
    built = remote.build(
        plan.context,
        images,
        plan.build_args,
        plan.platform,
        plan.target,
        no_cache,
        on_line=lambda line: on_event(plan.service, line),
    )
    found = registry.digest(plan.repository, plan.tag)
    if found != built.digest:
        raise BuildError(
            f"digest mismatch for {wanted}: run {built.run_id} pushed {built.digest}, "
            f"the registry has {found}",
            hint="another push raced this one; build again",
        )
    record.digest, record.built_at = built.digest, _now()
    record.pushed_at = record.built_at
    save_record(manifest.base_dir, record)
    on_event(plan.service, f"pushed {record.pinned} (run {built.run_id})")
    return record


def push_one(
    record: BuildRecord,
    registry: Registry,
    auth: dict[str, str],
    manifest: Manifest,
    on_event: EventFn,
    builder: ImageEngine,
) -> BuildRecord:
    if record.status == "in_registry" and record.digest:
        on_event(record.service, "already in the registry; nothing to push")
        return record
    remote_repo = f"{registry.login_server}/{record.repository}"
    local_ref = record.image
    wanted = f"{remote_repo}:{record.tag}"
    if local_ref != wanted:  # built without --env: tag for this registry first
        if not builder.image_id(local_ref):
            raise BuildError(
                f"image {local_ref} of service {record.service!r} is not in the local engine",
                hint="run `genaiops build` first",
            )
        builder.tag(local_ref, remote_repo, record.tag)
    on_event(record.service, f"pushing {wanted}")
    engine_digest = builder.push(
        remote_repo, record.tag, auth, on_status=lambda s: on_event(record.service, s)
    )
    for extra in record.extra_tags:
        if extra:
            builder.push(remote_repo, extra, auth)
    registry_digest = registry.digest(record.repository, record.tag)
    if registry_digest != engine_digest:
        raise BuildError(
            f"digest mismatch for {wanted}: the engine pushed {engine_digest}, "
            f"the registry has {registry_digest}",
            hint="another push raced this one; push again",
        )
    record.registry, record.digest, record.image, record.pushed_at = (
        registry.login_server,
        engine_digest,
        wanted,
        _now(),
    )
    record.status = "pushed"
    save_record(manifest.base_dir, record)
    on_event(record.service, f"pushed {record.pinned}")
    return record


def run_parallel(items: list[BuildPlan], work: Callable[[BuildPlan], BuildRecord]) -> list[BuildRecord]:
    """Bounded parallel builds; the first failure is raised after the others finish (nothing half-done)."""
    if len(items) <= 1:
        return [work(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_BUILDS, len(items))) as pool:
        futures = [pool.submit(work, i) for i in items]
        results, first_error = [], None
        for future in futures:
            try:
                results.append(future.result())
            except Exception as exc:
                first_error = first_error or exc
        if first_error:
            raise first_error
        return results
