"""Container Apps request bodies and blue/green traffic states, as pure functions over the REST
wire shape (see the Microsoft.App 2026-07-01 spec). Providers send these bodies unchanged.

Blue/green follows Microsoft's documented procedure: multiple-revision mode, a revision suffix
per release, `blue`/`green` labels whose roles alternate each cycle, label URLs, and traffic moved
by one complete `ingress.traffic` write. Which revision is live, staged and previous is kept in
the app's tags so every machine sees the same state."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import app_secrets
from genaiops_cli.core.app_secrets import AppSecret
from genaiops_cli.core.ports import PREVIOUS_RELEASE_TAG, RELEASE_TAG

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import Service

LABELS = ("blue", "green")
TAG_LIVE = "genaiops-live"
TAG_STAGED = "genaiops-staged"
TAG_PREVIOUS = "genaiops-previous"
TAG_SERVICE = "genaiops-service"
TAG_RELEASE = RELEASE_TAG  # the release live in this app (written by promote)
TAG_PREVIOUS_RELEASE = PREVIOUS_RELEASE_TAG
MAX_APP_NAME = 32


def app_name(project: str, service: str) -> str:
    """`<project>-<service>`, shortened with a hash when over Azure's 32 characters."""
    name = re.sub(r"[^a-z0-9-]", "-", f"{project}-{service}".lower()).strip("-")
    if len(name) <= MAX_APP_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: MAX_APP_NAME - 7].rstrip('-')}-{digest}"


def _cpu_memory(service: Service) -> dict[str, Any]:
    return {"cpu": float(service.resources.cpu), "memory": service.resources.memory}


def container_template(
    service_name: str, service: Service, image: str, telemetry: bool = False
) -> dict[str, Any]:
    """The revision-scope part of the app: a change here makes a new revision. Secrets appear by
    name only (`secretRef`), so a new secret value never makes a new revision."""
    env: list[dict[str, str]] = [{"name": k, "value": v} for k, v in service.env.items()]
    env += app_secrets.secret_env(service, telemetry)
    container: dict[str, Any] = {
        "name": service_name,
        "image": image,
        "resources": _cpu_memory(service),
        "env": sorted(env, key=lambda e: e["name"]),
    }
    if service.ingress and service.ingress.health:
        probe = {
            "httpGet": {"path": service.ingress.health, "port": service.ingress.port},
            "periodSeconds": 10,
            "failureThreshold": 3,
        }
        container["probes"] = [
            {"type": "Readiness", **probe, "initialDelaySeconds": 1},
            {"type": "Liveness", **probe, "initialDelaySeconds": 5},
        ]
    return {
        "containers": [container],
        "scale": {"minReplicas": service.scale.min_replicas, "maxReplicas": service.scale.max_replicas},
    }


def revision_suffix(
    template: dict[str, Any], scope: str = "", references: dict[str, Any] | None = None
) -> str:
    """Derived from the template's content (and the environment it runs in), so the same release
    always maps to the same revision there, and never to another environment's revision name.
    `references`: the Key Vault references the revision reads (app-scope in Azure, so not in the
    template): pointing a variable at another secret makes a new revision, which reads it at start."""
    content: dict[str, Any] = {
        "scope": scope.lower(),
        "template": {k: v for k, v in template.items() if k != "revisionSuffix"},
    }
    if references:
        content["references"] = references
    canonical = json.dumps(content, sort_keys=True)
    return "r" + hashlib.sha256(canonical.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Placement:
    """Where the app lives: a managed environment, or a connected (Arc) one with its custom location."""

    environment_id: str
    location: str
    default_domain: str
    extended_location: dict[str, Any] | None = None


@dataclass(frozen=True)
class RegistryAuth:
    server: str
    identity: str  # user-assigned identity resource id, or "system"


def identity_block(registry: RegistryAuth, secrets: Sequence[AppSecret] = ()) -> dict[str, Any]:
    return app_secrets.identity_block(registry.identity, list(secrets))


def app_body(
    service_name: str,
    service: Service,
    template: dict[str, Any],
    placement: Placement,
    registry: RegistryAuth,
    traffic: list[dict[str, Any]],
    tags: dict[str, str],
    secrets: Sequence[AppSecret] = (),
) -> dict[str, Any]:
    assert service.ingress is not None  # the manifest requires ingress for containerapp services
    body: dict[str, Any] = {
        "location": placement.location,
        "tags": tags,
        "identity": identity_block(registry, secrets),
        "properties": {
            "environmentId": placement.environment_id,
            "configuration": {
                "activeRevisionsMode": "Multiple",
                "ingress": {
                    "external": service.ingress.external,
                    "targetPort": service.ingress.port,
                    "transport": service.ingress.transport,
                    "traffic": traffic,
                },
                "registries": [{"server": registry.server, "identity": registry.identity}],
            },
            "template": template,
        },
    }
    if secrets:
        body["properties"]["configuration"]["secrets"] = [s.wire() for s in secrets]
    if placement.extended_location:
        body["extendedLocation"] = placement.extended_location
    return body


def traffic_patch(
    location: str,
    traffic: list[dict[str, Any]],
    tags: dict[str, str],
    current_tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The one request that moves traffic: the complete list, plus the state tags merged over the
    app's current tags (a PATCH replaces the whole tags object)."""
    return {
        "location": location,
        "tags": {**(current_tags or {}), **tags},
        "properties": {"configuration": {"ingress": {"traffic": traffic}}},
    }


# -------------------------------------------------------------------------- traffic state


@dataclass
class TrafficState:
    live: str | None = None
    staged: str | None = None
    previous: str | None = None
    labels: dict[str, str] = field(default_factory=dict)  # revision → label

    @classmethod
    def from_app(cls, app: dict[str, Any]) -> TrafficState:
        tags = app.get("tags") or {}
        traffic = (((app.get("properties") or {}).get("configuration") or {}).get("ingress") or {}).get(
            "traffic"
        ) or []
        labels = {t["revisionName"]: t["label"] for t in traffic if t.get("label") and t.get("revisionName")}
        live = tags.get(TAG_LIVE)
        if not live:  # an app genaiops did not create: the revision with the most traffic is live
            weighted = [t for t in traffic if t.get("revisionName") and t.get("weight", 0) > 0]
            live = max(weighted, key=lambda t: t["weight"])["revisionName"] if weighted else None
        staged, previous = tags.get(TAG_STAGED) or None, tags.get(TAG_PREVIOUS) or None
        full = [t["revisionName"] for t in traffic if t.get("revisionName") and t.get("weight", 0) == 100]
        if full and live and full[0] != live:
            # traffic moved outside genaiops (portal, az): what serves 100 % is live, whatever the
            # tags say; the revision the tags named becomes the previous one
            live, previous = full[0], live
            staged = None if staged == live else staged
        return cls(live=live, staged=staged, previous=previous, labels=labels)

    def label_of(self, revision: str | None) -> str | None:
        return self.labels.get(revision) if revision else None

    def free_label(self) -> str:
        """The label the next staged revision takes: whichever the live revision does not hold."""
        return LABELS[1] if self.label_of(self.live) in (None, LABELS[0]) else LABELS[0]

    def tags(self) -> dict[str, str]:
        return {TAG_LIVE: self.live or "", TAG_STAGED: self.staged or "", TAG_PREVIOUS: self.previous or ""}

    def traffic(self) -> list[dict[str, Any]]:
        """Complete traffic list: live at 100 %, everything else labelled at 0 %."""
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        for revision in (self.live, self.staged, self.previous):
            if not revision or revision in seen:
                continue
            seen.add(revision)
            entry: dict[str, Any] = {"revisionName": revision, "weight": 100 if revision == self.live else 0}
            label = self.labels.get(revision)
            if label:
                entry["label"] = label
            entries.append(entry)
        return entries

    # transitions ------------------------------------------------------------------------------
    def go_live_first(self, revision: str) -> TrafficState:
        return TrafficState(live=revision, labels={revision: LABELS[0]})

    def stage(self, revision: str) -> TrafficState:
        """Blue/green deploy: the new revision takes the free label at 0 %; live keeps its label.
        The label moves off the revision that held it before (roles alternate each cycle)."""
        staged_label = self.free_label()
        labels = {revision: staged_label}
        if self.live:
            labels[self.live] = LABELS[0] if staged_label == LABELS[1] else LABELS[1]
        previous = self.previous if self.previous not in (revision, self.live) else None
        return TrafficState(live=self.live, staged=revision, previous=previous, labels=labels)

    def swap(self) -> TrafficState:
        assert self.staged, "nothing staged"
        return TrafficState(live=self.staged, staged=None, previous=self.live, labels=dict(self.labels))

    def replace_live(self, revision: str) -> TrafficState:
        """Direct deploy: stage and swap in one write; the old live stays at 0 % for rollback."""
        return self.stage(revision).swap()

    def roll_back(self) -> TrafficState:
        """Back to the previous live revision; rolling back twice rolls forward again."""
        assert self.previous, "no previous revision"
        return TrafficState(live=self.previous, staged=None, previous=self.live, labels=dict(self.labels))


def revision_ready(revision: dict[str, Any]) -> tuple[bool, str | None]:
    """(ready, failure reason). Ready = provisioned, running and healthy; a reason means it failed."""
    props = revision.get("properties") or {}
    provisioning = props.get("provisioningState")
    running = props.get("runningState")
    health = props.get("healthState")
    if provisioning == "Failed" or running == "Failed":
        return False, props.get("provisioningError") or props.get("runningStateDetails") or "revision failed"
    ready = (
        provisioning == "Provisioned" and running in ("Running", "RunningAtMaxScale") and health == "Healthy"
    )
    return ready, None


def label_url(app: str, label: str, default_domain: str) -> str:
    return f"https://{app}---{label}.{default_domain}"


def app_url(app: dict[str, Any]) -> str | None:
    fqdn = (((app.get("properties") or {}).get("configuration") or {}).get("ingress") or {}).get("fqdn")
    return f"https://{fqdn}" if fqdn else None
