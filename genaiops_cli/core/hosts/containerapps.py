"""The Container Apps host (`host: containerapp`): blue/green over revisions, labels and one
complete traffic write, as core/deploy.py does it, over the ContainerAppsApi port (the ARM calls,
providers/azure/containerapps.py). Implements core.ports.Host."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import containerapps as ca
from genaiops_cli.core import deploy as dep
from genaiops_cli.core.ports import ContainerAppsApi, DeployOutcome, Endpoint, EventFn, LiveService
from genaiops_cli.core.release import digest_of

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment


class ContainerAppsHost:
    kind = "containerapp"
    capabilities = frozenset({"revisions", "labels", "traffic_split", "label_urls", "deactivate"})

    def __init__(self, env: Environment, api: ContainerAppsApi) -> None:
        self.env = env
        self.api = api

    @property
    def _manifest(self) -> Any:
        return self.env.manifest

    def app_name(self, service: str) -> str:
        return ca.app_name(self._manifest.name, service)

    @cached_property
    def placement(self) -> ca.Placement:
        """Where this environment's apps live (one ARM read per opened environment)."""
        return dep.placement(self.api, self.env.resolved)

    # -- plan --------------------------------------------------------------------------------------
    def expected_revision(self, service: str, image: str) -> str:
        return dep.planned_revision(self._manifest, self.env.resolved, service, image, self.placement)[0]

    def current(self, service: str) -> LiveService:
        app_name = self.app_name(service)
        app = self.api.get_app(app_name)
        if app is None:
            return LiveService(service, app_name, False)
        item = self._live(service, app)
        if item.live:
            rev = self.api.revision(app_name, item.live) or {}
            item.image = _image(rev)
            item.digest = digest_of(item.image)
            if item.image:
                item.matches_manifest = item.live == self.expected_revision(service, item.image)
        return item

    def _live(self, service: str, app: dict[str, Any]) -> LiveService:
        """What `app` (as read) says runs, without the live revision's image."""
        state = ca.TrafficState.from_app(app)
        tags = app.get("tags") or {}
        return LiveService(
            service,
            self.app_name(service),
            True,
            state.live,
            state.staged,
            release=tags.get(ca.TAG_RELEASE) or None,
            live_label=state.label_of(state.live),
            previous=state.previous,
            previous_release=tags.get(ca.TAG_PREVIOUS_RELEASE) or None,
        )

    def has_revision(self, service: str, revision: str) -> bool:
        return self.api.revision(self.app_name(service), revision) is not None

    # -- change ------------------------------------------------------------------------------------
    def deploy(self, service: str, image: str, timeout: float, on_event: EventFn) -> DeployOutcome:
        return dep.deploy_service(
            self.api,
            self._manifest,
            self.env.resolved,
            service,
            image,
            self.env.registry.login_server,
            self.env.target.subscription_id,
            timeout,
            on_event,
        )

    def swap(self, service: str, on_event: EventFn, tags: Mapping[str, str] | None = None) -> dict[str, Any]:
        return dep.swap_service(
            self.api, self._manifest, self.env.resolved, service, on_event, extra_tags=dict(tags or {})
        )

    def record_live(self, service: str, tags: Mapping[str, str]) -> dict[str, Any]:
        name = self.app_name(service)
        app = self.api.get_app(name) or {}
        state = ca.TrafficState.from_app(app)
        location = app.get("location") or self.env.config.location
        self.api.patch_app(
            name, ca.traffic_patch(location, state.traffic(), {**state.tags(), **tags}, app.get("tags"))
        )
        return {"live": state.live, "note": "already live"}

    def rollback_plan(self, service: str) -> dict[str, Any]:
        _, state, _ = dep.rollback_check(self.api, self._manifest, self.env.resolved, service)
        return {"service": service, "live": state.live, "previous": state.previous}

    def rollback(self, service: str, timeout: float, on_event: EventFn) -> dict[str, Any]:
        return dep.rollback_service(self.api, self._manifest, self.env.resolved, service, timeout, on_event)

    def remove(self, service: str, on_event: EventFn) -> dict[str, Any]:
        name = self.app_name(service)
        found = self.api.get_app(name) is not None
        if found:
            on_event(service, f"deleting container app {name}: it had no earlier release to go back to")
            self.api.delete_app(name)
        return {"service": service, "app": name, "removed": found}

    def restart(
        self, service: str, revision: str | None, timeout: float, on_event: EventFn
    ) -> dict[str, Any]:
        return dep.restart_service(
            self.api, self._manifest, self.env.resolved, service, revision, timeout, on_event
        )

    # -- read --------------------------------------------------------------------------------------
    def status(self, service: str) -> dict[str, Any]:
        return dep.service_status(self.api, self._manifest, self.env.resolved, service)

    def observe(self, service: str) -> tuple[dict[str, Any], LiveService]:
        """One read of the app and one of its revisions: the live revision's image comes from
        that list, and `matches_manifest` is not worked out (it would read the environment)."""
        name = self.app_name(service)
        app = self.api.get_app(name)
        if app is None:
            view = {"service": service, "app": name, "deployed": False, "revisions": []}
            return view, LiveService(service, name, False)
        revisions = self.api.revisions(name)
        item = self._live(service, app)
        if item.live:
            listed = next((r for r in revisions if r.get("name") == item.live), None)
            live_rev = listed if listed is not None else self.api.revision(name, item.live) or {}
            item.image = _image(live_rev)
            item.digest = digest_of(item.image)
        return dep.status_view(service, name, app, revisions), item

    def endpoint(self, service: str, label: str) -> Endpoint:
        url = dep.service_url(self.api, self._manifest, service, label, self.env.name)
        target = self.env.target
        return Endpoint(url, label, dict(target.resolve), target.ca_bundle)


def _image(revision: dict[str, Any]) -> str | None:
    containers = ((revision.get("properties") or {}).get("template") or {}).get("containers") or [{}]
    image = containers[0].get("image")
    return str(image) if image else None
