"""Deploy, swap, roll back and inspect Container Apps services of one environment.

Safety rules: traffic is only ever written as one complete list; a revision gets a label or
traffic only after it is provisioned, running and healthy; a failed revision is deactivated and
the live one keeps 100 %; nothing rollback may need is deleted."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import app_secrets
from genaiops_cli.core import containerapps as ca
from genaiops_cli.core.ports import ContainerAppsApi, DeployOutcome
from genaiops_cli.errors import DeployError, UsageError

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import Manifest, ResolvedEnvironment, Service

EventFn = Callable[[str, str], None]
POLL_SECONDS = 1.0


def placement(host: ContainerAppsApi, env: ResolvedEnvironment) -> ca.Placement:
    config = env.config
    if config.connected_environment:
        name = config.connected_environment.rsplit("/", 1)[-1]
        found = host.connected_environment(name)
        return ca.Placement(
            environment_id=found["id"],
            location=found.get("location") or config.location,
            default_domain=(found.get("properties") or {}).get("defaultDomain", ""),
            extended_location=found.get("extendedLocation"),
        )
    if not config.containerapps_environment:
        raise UsageError(
            f"environment {env.name!r} names no Container Apps environment",
            hint="set containerapps_environment (or connected_environment) in the manifest",
        )
    name = config.containerapps_environment.rsplit("/", 1)[-1]
    found = host.managed_environment(name)
    return ca.Placement(
        environment_id=found["id"],
        location=found.get("location") or config.location,
        default_domain=(found.get("properties") or {}).get("defaultDomain", ""),
    )


def identity_id(env: ResolvedEnvironment, subscription_id: str) -> str:
    identity = env.config.identity
    if not identity:
        return "system"
    if identity.startswith("/subscriptions/"):
        return identity
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{env.config.resource_group}"
        f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}"
    )


def planned_revision(
    manifest: Manifest, env: ResolvedEnvironment, service_name: str, image: str, where: ca.Placement
) -> tuple[str, dict[str, Any]]:
    """(revision name, revision template) this image gets with this environment's configuration."""
    service = env.services[service_name]
    telemetry = env.telemetry is not None and app_secrets.wants_telemetry(service)
    template = ca.container_template(service_name, service, image, telemetry=telemetry)
    references = {var: [ref.keyvault, ref.identity] for var, ref in sorted(service.secrets.items())}
    suffix = ca.revision_suffix(template, where.environment_id, references)
    template["revisionSuffix"] = suffix
    return f"{ca.app_name(manifest.name, service_name)}--{suffix}", template


def secrets_of(
    host: ContainerAppsApi,
    env: ResolvedEnvironment,
    service_name: str,
    registry_identity: str,
    subscription_id: str,
) -> list[app_secrets.AppSecret]:
    """The app's secrets: Key Vault references as written, and the telemetry connection string read
    through ARM (only here, when a body is about to be written; it goes nowhere else)."""
    service = env.services[service_name]
    telemetry = None
    if env.telemetry is not None and app_secrets.wants_telemetry(service):
        value = host.resolve_reference(env.telemetry)
        if not value:
            raise DeployError(
                f"the environment's Application Insights ({env.telemetry.split('#')[0].rsplit('/', 1)[-1]}) "
                "has no connection string",
                hint=f"re-run `genaiops provision -e {env.name}`, "
                f"or set `telemetry: false` on {service_name!r}",
                code="telemetry_unavailable",
            )
        telemetry = app_secrets.Telemetry(env.telemetry, value)
    return app_secrets.app_secrets(
        service, registry_identity, subscription_id, env.config.resource_group, telemetry
    )


# A failure can have a transient cause (a dependency or the registry down at start-up): re-running
# the same deploy restarts the failed revision, so the hint names both ways out.
FAILED_HINT = (
    "traffic was not changed. If the cause was transient, re-run the same deploy (it restarts this "
    "revision) or `genaiops restart`; otherwise fix the image or its settings"
)
# Right after a restart, ARM may still report the revision's previous (failed) state for a moment.
RESTART_GRACE_SECONDS = 10.0


def wait_ready(
    host: ContainerAppsApi,
    app: str,
    revision: str,
    timeout: float,
    service: str,
    on_event: EventFn,
    failed_grace: float = 0.0,
) -> None:
    """Poll the revision until it is provisioned, running and healthy; a failed one raises at once
    (after `failed_grace` seconds when it was just restarted and may still show its old state)."""
    import time

    from genaiops_cli.core.retrying import poll

    last = {"state": "", "reason": ""}
    grace_until = time.monotonic() + failed_grace

    def ready() -> bool | None:
        found = host.revision(app, revision)
        if found is None:
            return None
        ok, reason = ca.revision_ready(found)
        if ok:
            return True
        last["reason"] = reason or ""
        if reason and time.monotonic() >= grace_until:
            raise failed(reason)
        props = found.get("properties") or {}
        state = f"{props.get('provisioningState')}/{props.get('runningState')}/{props.get('healthState')}"
        if state != last["state"]:
            on_event(service, f"waiting for {revision}: {state}")
            last["state"] = state
        return None

    def failed(reason: str) -> DeployError:
        return DeployError(f"revision {revision} failed: {reason}", hint=FAILED_HINT, code="revision_failed")

    def too_slow() -> DeployError:
        if last["reason"]:  # still failed when the grace after a restart outlasted the timeout
            return failed(last["reason"])
        return DeployError(
            f"revision {revision} not ready after {timeout:.0f}s (last state {last['state'] or 'unknown'})",
            hint="raise --timeout or look at the revision's logs; traffic was not changed",
            code="revision_timeout",
        )

    poll(ready, timeout=timeout, interval=POLL_SECONDS, on_timeout=too_slow)


def _fail_safely(
    host: ContainerAppsApi, app: str, revision: str, error: DeployError, on_event: EventFn, service: str
) -> DeployError:
    """Deactivate a revision that failed so it holds no resources; report why it failed."""
    found = host.revision(app, revision)
    reason = None
    if found:
        _, reason = ca.revision_ready(found)
        if (found.get("properties") or {}).get("active"):
            try:
                host.deactivate(app, revision)
                on_event(service, f"deactivated failed revision {revision}")
            except DeployError:
                pass  # best effort: the live revision is untouched either way
    if reason and error.hint is None:  # e.g. the app write's operation reported the failed revision
        error.hint = FAILED_HINT
    if reason and reason not in error.message and revision not in error.message:
        error.message = f"{error.message} — revision {revision}: {reason}"
        error.args = (error.message,)
    return error


def deploy_service(
    host: ContainerAppsApi,
    manifest: Manifest,
    env: ResolvedEnvironment,
    service_name: str,
    image: str,
    registry_server: str,
    subscription_id: str,
    timeout: float,
    on_event: EventFn,
) -> DeployOutcome:
    service: Service = env.services[service_name]
    strategy = env.config.strategy
    name = ca.app_name(manifest.name, service_name)
    where = placement(host, env)
    revision, template = planned_revision(manifest, env, service_name, image, where)
    registry = ca.RegistryAuth(registry_server, identity_id(env, subscription_id))
    outcome = DeployOutcome(service_name, name, revision, image, "unchanged", strategy)

    app = host.get_app(name)
    if app is None:
        on_event(service_name, f"creating container app {name} with revision {revision}")
        body = ca.app_body(
            service_name,
            service,
            template,
            where,
            registry,
            traffic=[{"latestRevision": True, "weight": 100}],
            tags={ca.TAG_SERVICE: service_name},
            secrets=secrets_of(host, env, service_name, registry.identity, subscription_id),
        )
        app = _write_and_wait(host, name, revision, body, None, timeout, service_name, on_event) or {}
        state = ca.TrafficState().go_live_first(revision)
        app = host.patch_app(
            name, ca.traffic_patch(where.location, state.traffic(), state.tags(), app.get("tags"))
        )
        outcome.action = "created"
        return _finish(host, env, app, state, outcome, where, on_event)

    _check_same_environment(app, name, where)
    state = ca.TrafficState.from_app(app)
    if revision in (state.live, state.staged):
        found = host.revision(name, revision)
        if found and ca.revision_ready(found)[0]:
            on_event(
                service_name,
                f"{revision} is already {'live' if revision == state.live else 'staged'}; nothing to do",
            )
            return _finish(host, env, app, state, outcome, where, on_event, write=False)

    existing = host.revision(name, revision)
    body = None
    if existing is None:
        on_event(service_name, f"creating revision {revision}")
        traffic = (((app.get("properties") or {}).get("configuration") or {}).get("ingress") or {}).get(
            "traffic"
        )
        body = ca.app_body(
            service_name,
            service,
            template,
            where,
            registry,
            traffic=traffic or state.traffic(),
            tags=dict(app.get("tags") or {}),
            secrets=secrets_of(host, env, service_name, registry.identity, subscription_id),
        )
    _write_and_wait(host, name, revision, body, existing, timeout, service_name, on_event)

    new_state, outcome.action = _next_state(state, revision, strategy)
    app = host.patch_app(
        name, ca.traffic_patch(where.location, new_state.traffic(), new_state.tags(), app.get("tags"))
    )
    return _finish(host, env, app, new_state, outcome, where, on_event)


def _check_same_environment(app: dict[str, Any], name: str, where: ca.Placement) -> None:
    current_env = str((app.get("properties") or {}).get("environmentId") or "")
    if current_env and current_env.lower() != where.environment_id.lower():
        raise DeployError(
            f"container app {name} already exists in another environment ({current_env.rsplit('/', 1)[-1]})",
            hint="an app cannot move between Container Apps environments: delete it, or deploy to another "
            "resource group",
            code="environment_mismatch",
        )


def _next_state(state: ca.TrafficState, revision: str, strategy: str) -> tuple[ca.TrafficState, str]:
    """(traffic state after deploying `revision`, the outcome's action)."""
    if state.live is None:
        return state.go_live_first(revision), "live"
    if strategy in ca.STAGING_STRATEGIES:
        return state.stage(revision), "staged"
    return state.replace_live(revision), "live"


def _write_and_wait(
    host: ContainerAppsApi,
    name: str,
    revision: str,
    body: dict[str, Any] | None,
    existing: dict[str, Any] | None,
    timeout: float,
    service_name: str,
    on_event: EventFn,
) -> dict[str, Any] | None:
    """Create the revision (`body`, returning the app as written) or re-activate it, and wait until
    it is ready; a revision that fails is deactivated (live keeps its traffic) and the error raised."""
    written = None
    grace = 0.0
    try:
        if body is not None:
            written = host.put_app(name, body)
        elif existing is not None:
            grace = (
                RESTART_GRACE_SECONDS if revive(host, name, revision, existing, service_name, on_event) else 0
            )
        wait_ready(host, name, revision, timeout, service_name, on_event, failed_grace=grace)
    except DeployError as exc:
        raise _fail_safely(host, name, revision, exc, on_event, service_name) from exc
    return written


def revive(
    host: ContainerAppsApi, app: str, revision: str, found: dict[str, Any], service: str, on_event: EventFn
) -> bool:
    """Bring an existing revision back to running: activate it when inactive, restart it when it
    (still) reads failed. Revision names are content hashes, so the same release always lands on the
    same revision: without the restart a transient failure would be sticky. True when restarted."""
    if not (found.get("properties") or {}).get("active"):
        on_event(service, f"re-activating revision {revision}")
        host.activate(app, revision)
        found = host.revision(app, revision) or {}
    if ca.revision_ready(found)[1] is None:
        return False
    on_event(service, f"restarting failed revision {revision}")
    host.restart(app, revision)
    return True


def _finish(
    host: ContainerAppsApi,
    env: ResolvedEnvironment,
    app: dict[str, Any],
    state: ca.TrafficState,
    outcome: DeployOutcome,
    where: ca.Placement,
    on_event: EventFn,
    write: bool = True,
) -> DeployOutcome:
    outcome.app_url = ca.app_url(app)
    label = state.label_of(outcome.revision)
    if label and outcome.revision != state.live:
        outcome.label = label
        outcome.label_url = ca.label_url(outcome.app, label, where.default_domain)
    if write:
        outcome.deactivated = prune(
            host, outcome.app, state, env.config.keep_previous, outcome.service, on_event
        )
    return outcome


def prune(
    host: ContainerAppsApi,
    app: str,
    state: ca.TrafficState,
    keep_previous: int,
    service: str,
    on_event: EventFn,
) -> list[str]:
    """Deactivate active revisions beyond the `keep_previous` most recent non-live ones."""
    revisions = host.revisions(app)
    protected = {state.live, state.staged}
    others = [
        r for r in revisions if (r.get("properties") or {}).get("active") and r.get("name") not in protected
    ]
    others.sort(key=lambda r: (r.get("name") != state.previous, -_created(r)))
    deactivated = []
    for extra in others[keep_previous:]:
        host.deactivate(app, extra["name"])
        deactivated.append(extra["name"])
        on_event(service, f"deactivated {extra['name']} (keep_previous={keep_previous})")
    return deactivated


def _created(revision: dict[str, Any]) -> float:
    import datetime as dt

    created = (revision.get("properties") or {}).get("createdTime")
    if not created:
        return 0.0
    try:
        return dt.datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


# --------------------------------------------------------------------------- swap / rollback


def not_deployed(manifest: Manifest, env_name: str | None, service_name: str) -> DeployError:
    """No container app for the service: say how it gets there in THIS environment (promotion into a
    promote_from environment, a deploy elsewhere), and that the environment may not exist yet."""
    env = manifest.environments.get(env_name) if env_name else None
    where = f" in {env_name}" if env_name else ""
    if env is None:
        hint = "deploy it with `genaiops deploy -e ENV`, or promote a release into the environment"
    elif env.promote_from:
        hint = (
            f"nothing has been promoted to {env_name} yet: `genaiops promote --to {env_name}` "
            f"(first `genaiops provision -e {env_name}` if the environment does not exist yet)"
        )
    else:
        hint = (
            f"deploy it with `genaiops deploy -e {env_name}` "
            f"(first `genaiops provision -e {env_name}` if the environment does not exist yet)"
        )
    return DeployError(f"service {service_name!r} is not deployed{where}", hint=hint, code="not_deployed")


def swap_service(
    host: ContainerAppsApi,
    manifest: Manifest,
    env: ResolvedEnvironment,
    service_name: str,
    on_event: EventFn,
    extra_tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`extra_tags` ride on the same traffic write (promote records the live release there)."""
    name = ca.app_name(manifest.name, service_name)
    app = host.get_app(name)
    if app is None:
        raise not_deployed(manifest, env.name, service_name)
    state = ca.TrafficState.from_app(app)
    if not state.staged:
        raise DeployError(
            f"nothing staged for {service_name!r} in {env.name}",
            hint="deploy a new release with `genaiops deploy` first",
            code="nothing_staged",
        )
    staged = host.revision(name, state.staged)
    if not staged or not ca.revision_ready(staged)[0]:
        raise DeployError(
            f"staged revision {state.staged} is not healthy; not swapping",
            hint="redeploy or roll back",
            code="staged_unhealthy",
        )
    new_state = state.swap()
    location = app.get("location") or env.config.location
    on_event(service_name, f"swapping traffic: {new_state.live} → 100 %")
    tags = {**new_state.tags(), **(extra_tags or {})}
    host.patch_app(name, ca.traffic_patch(location, new_state.traffic(), tags, app.get("tags")))
    deactivated = prune(host, name, new_state, env.config.keep_previous, service_name, on_event)
    return {
        "service": service_name,
        "app": name,
        "live": new_state.live,
        "previous": new_state.previous,
        "deactivated": deactivated,
    }


def rollback_check(
    host: ContainerAppsApi, manifest: Manifest, env: ResolvedEnvironment, service_name: str
) -> tuple[dict[str, Any], ca.TrafficState, dict[str, Any]]:
    """What a rollback needs, checked before anything changes (and before anyone is asked to confirm):
    the app, its traffic state, and the previous revision, which must still exist."""
    name = ca.app_name(manifest.name, service_name)
    app = host.get_app(name)
    if app is None:
        raise not_deployed(manifest, env.name, service_name)
    state = ca.TrafficState.from_app(app)
    if not state.previous:
        raise DeployError(
            f"no previous revision of {service_name!r} in {env.name} to roll back to",
            hint="a rollback returns to the revision that was live before the last swap or promotion",
            code="no_previous",
        )
    target = host.revision(name, state.previous)
    if target is None:
        raise DeployError(f"previous revision {state.previous} no longer exists", code="no_previous")
    return app, state, target


def rollback_service(
    host: ContainerAppsApi,
    manifest: Manifest,
    env: ResolvedEnvironment,
    service_name: str,
    timeout: float,
    on_event: EventFn,
) -> dict[str, Any]:
    name = ca.app_name(manifest.name, service_name)
    app, state, target = rollback_check(host, manifest, env, service_name)
    if not (target.get("properties") or {}).get("active"):
        on_event(service_name, f"re-activating {state.previous}")
        host.activate(name, state.previous)
    wait_ready(host, name, state.previous, timeout, service_name, on_event)
    new_state = state.roll_back()
    location = app.get("location") or env.config.location
    on_event(service_name, f"rolling back: {new_state.live} → 100 %")
    tags = dict(app.get("tags") or {})
    releases = {
        ca.TAG_RELEASE: tags.get(ca.TAG_PREVIOUS_RELEASE, ""),
        ca.TAG_PREVIOUS_RELEASE: tags.get(ca.TAG_RELEASE, ""),
    }
    host.patch_app(
        name, ca.traffic_patch(location, new_state.traffic(), {**new_state.tags(), **releases}, tags)
    )
    return {
        "service": service_name,
        "app": name,
        "live": new_state.live,
        "rolled_back_from": state.live,
        "release": releases[ca.TAG_RELEASE] or None,
        "rolled_back_release": releases[ca.TAG_PREVIOUS_RELEASE] or None,
    }


def restart_service(
    host: ContainerAppsApi,
    manifest: Manifest,
    env: ResolvedEnvironment,
    service_name: str,
    revision: str | None,
    timeout: float,
    on_event: EventFn,
) -> dict[str, Any]:
    """Restart one revision in place (default: the live one) and wait until it is healthy; traffic
    is not touched. An inactive revision is activated (Azure only restarts active ones)."""
    name = ca.app_name(manifest.name, service_name)
    app = host.get_app(name)
    if app is None:
        raise not_deployed(manifest, env.name, service_name)
    state = ca.TrafficState.from_app(app)
    revision = revision or state.live
    found = host.revision(name, revision) if revision else None
    if revision is None or found is None:
        names = ", ".join(r.get("name", "") for r in host.revisions(name)) or "none"
        raise UsageError(
            f"no revision {revision or '(live)'} of {service_name!r} in {env.name}",
            hint=f"revisions: {names}",
        )
    if (found.get("properties") or {}).get("active"):
        on_event(service_name, f"restarting {revision}")
        host.restart(name, revision)
    else:
        on_event(service_name, f"activating {revision}")
        host.activate(name, revision)
    wait_ready(host, name, revision, timeout, service_name, on_event, failed_grace=RESTART_GRACE_SECONDS)
    role = "live" if revision == state.live else "staged" if revision == state.staged else ""
    return {"service": service_name, "app": name, "revision": revision, "role": role or None}


# --------------------------------------------------------------------------- status


def service_status(
    host: ContainerAppsApi, manifest: Manifest, env: ResolvedEnvironment, service_name: str
) -> dict[str, Any]:
    name = ca.app_name(manifest.name, service_name)
    app = host.get_app(name)
    if app is None:
        return {"service": service_name, "app": name, "deployed": False, "revisions": []}
    return status_view(service_name, name, app, host.revisions(name))


def status_view(
    service_name: str, name: str, app: dict[str, Any], revisions: list[dict[str, Any]]
) -> dict[str, Any]:
    """`genaiops status`' view of one deployed app from what was read of it: the app and its revisions."""
    state = ca.TrafficState.from_app(app)
    traffic = (((app.get("properties") or {}).get("configuration") or {}).get("ingress") or {}).get(
        "traffic"
    ) or []
    weights = {t.get("revisionName"): t.get("weight", 0) for t in traffic if t.get("revisionName")}
    domain = ""
    fqdn = (((app.get("properties") or {}).get("configuration") or {}).get("ingress") or {}).get("fqdn") or ""
    if fqdn.startswith(name + "."):
        domain = fqdn[len(name) + 1 :]
    rows = []
    for rev in revisions:
        props = rev.get("properties") or {}
        rev_name = rev.get("name", "")
        containers = (props.get("template") or {}).get("containers") or [{}]
        label = state.label_of(rev_name)
        role = (
            "live"
            if rev_name == state.live
            else "staged"
            if rev_name == state.staged
            else "previous"
            if rev_name == state.previous
            else ""
        )
        rows.append(
            {
                "name": rev_name,
                "image": containers[0].get("image"),
                "created": props.get("createdTime"),
                "active": props.get("active"),
                "running_state": props.get("runningState"),
                "health_state": props.get("healthState"),
                "provisioning_state": props.get("provisioningState"),
                "traffic": weights.get(rev_name, 0),
                "label": label,
                "role": role,
                "url": f"https://{props['fqdn']}" if props.get("fqdn") else None,
                "label_url": ca.label_url(name, label, domain) if label and domain else None,
            }
        )
    rows.sort(key=lambda r: str(r.get("created") or ""), reverse=True)
    return {
        "service": service_name,
        "app": name,
        "deployed": True,
        "url": ca.app_url(app),
        "live": state.live,
        "staged": state.staged,
        "previous": state.previous,
        "release": (app.get("tags") or {}).get(ca.TAG_RELEASE) or None,  # what the ledger says is live
        "revisions": rows,
    }


def service_url(
    host: ContainerAppsApi, manifest: Manifest, service_name: str, label: str, env_name: str | None = None
) -> str:
    """URL of a service's `live` (app URL), `staged`, or `blue`/`green` side."""
    name = ca.app_name(manifest.name, service_name)
    app = host.get_app(name)
    if app is None:
        raise not_deployed(manifest, env_name, service_name)
    url = ca.app_url(app)
    if label == "live":
        if not url:
            raise DeployError(f"container app {name} has no ingress URL")
        return url
    state = ca.TrafficState.from_app(app)
    wanted = state.label_of(state.staged) if label == "staged" else label
    if label == "staged" and not wanted:
        raise DeployError(
            f"nothing staged for {service_name!r}", hint="deploy a release first", code="nothing_staged"
        )
    if wanted not in state.labels.values():
        raise DeployError(
            f"no revision of {service_name!r} carries the label {wanted!r}",
            hint=f"labels in use: {', '.join(sorted(state.labels.values())) or 'none'}",
        )
    fqdn = url.removeprefix("https://") if url else ""
    domain = fqdn[len(name) + 1 :] if fqdn.startswith(name + ".") else ""
    return ca.label_url(name, str(wanted), domain)
