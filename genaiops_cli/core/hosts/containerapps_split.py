"""Weighted traffic between the live and the staged revision of a Container App (core.ports.TrafficSplit),
for canary delivery. The state tags (live/staged/previous) stay as blue/green wrote them, so a swap or
an abort afterwards works from the same state; only the weights change, in one traffic write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genaiops_cli.core import containerapps as ca
from genaiops_cli.core.ports import EventFn
from genaiops_cli.errors import DeployError

if TYPE_CHECKING:
    from genaiops_cli.core.hosts.containerapps import ContainerAppsHost


class ContainerAppsSplit:
    def __init__(self, host: ContainerAppsHost) -> None:
        self.host = host

    def _app(self, service: str) -> tuple[str, dict[str, Any], ca.TrafficState]:
        name = self.host.app_name(service)
        app = self.host.api.get_app(name)
        if app is None:
            raise DeployError(f"service {service!r} is not deployed", hint="run `genaiops deploy`")
        return name, app, ca.TrafficState.from_app(app)

    def sides(self, service: str) -> tuple[str, str]:
        name, _, state = self._app(service)
        if not state.live or not state.staged:
            raise DeployError(
                f"nothing staged for {service!r}: a canary starts from a staged revision",
                hint="deploy the new version first (`genaiops deploy`, strategy: bluegreen)",
                code="nothing_staged",
            )
        staged = self.host.api.revision(name, state.staged)
        if not staged or not ca.revision_ready(staged)[0]:
            raise DeployError(
                f"staged revision {state.staged} is not healthy; no canary",
                hint="redeploy or roll back",
                code="staged_unhealthy",
            )
        return state.live, state.staged

    def split(self, service: str, canary_weight: int, on_event: EventFn) -> None:
        self._write(service, canary_weight, on_event)

    def abort(self, service: str, on_event: EventFn) -> None:
        self._write(service, 0, on_event)

    def _write(self, service: str, canary_weight: int, on_event: EventFn) -> None:
        name, app, state = self._app(service)
        traffic = state.traffic()
        for entry in traffic:
            if entry["revisionName"] == state.live:
                entry["weight"] = 100 - canary_weight
            elif entry["revisionName"] == state.staged:
                entry["weight"] = canary_weight
        on_event(service, f"traffic: {state.live} {100 - canary_weight} %, {state.staged} {canary_weight} %")
        location = app.get("location") or self.host.env.config.location
        self.host.api.patch_app(name, ca.traffic_patch(location, traffic, state.tags(), app.get("tags")))
