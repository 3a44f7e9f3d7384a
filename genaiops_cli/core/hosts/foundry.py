"""The Foundry hosted-agent host (`host: foundry-agent`): each release's image becomes an agent
VERSION of a hosted agent in the environment's Foundry project; blue/green and rollback move the
agent endpoint's version selector (fixed ratios) in one write. Implements core.ports.Host over the
FoundryAgentsApi port (providers/azure/foundry.py, azure-ai-projects).

Naming: a version is known to genaiops by its *key*, a hash of everything that defines it (image
by digest, cpu, memory, environment, protocols), stored in the version's metadata. The key is the
"revision" of this host (deterministic before anything is created, as Host.expected_revision
requires); Foundry's own version numbers are shown next to it. Re-deploying the same release finds
its version by that key, so nothing is created twice.

Roles (live / staged / previous, blue/green labels) and release bookkeeping are kept in one small
document per agent in the environment's ledger (`foundry.<agent>`); the version selector stays the
truth about traffic — when the two disagree, the version holding traffic is live."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from genaiops_cli.core.containerapps import LABELS, STAGING_STRATEGIES, TrafficState
from genaiops_cli.core.ports import (
    PREVIOUS_RELEASE_TAG,
    RELEASE_TAG,
    DeployOutcome,
    Endpoint,
    EventFn,
    FoundryAgentsApi,
    LiveService,
)
from genaiops_cli.core.release import digest_of
from genaiops_cli.errors import DeployError

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment

KEY_METADATA = "genaiops-key"  # the version's key (this host's revision name)
SERVICE_METADATA = "genaiops-service"
STATE_KIND = "pointer"  # ledger artifact kind of the roles document
RESPONSES_PATH = "/agents/{agent}/endpoint/protocols/openai"  # + /responses (the manifest's path)
API_VERSION = "v1"
POLL_SECONDS = 1.0  # longest pause between reads of a creating version


def project_settings(env: Environment) -> tuple[str, str | None]:
    """(project endpoint, model deployment) of an environment: `foundry_project:` from the manifest,
    else the outputs of `genaiops provision` (read once per process, only for hosted agents)."""
    from genaiops_cli.core.environment import foundry_endpoint, provisioned_state
    from genaiops_cli.core.provisioning import missing_setting

    state = provisioned_state(env.manifest, env.name, env.cloud, env.target)
    outputs: dict[str, Any] = dict(state.outputs) if state else {}
    endpoint = foundry_endpoint(env.config, state)
    if not endpoint:
        raise missing_setting(env.name, "foundry_project")
    return str(endpoint), outputs.get("modelDeploymentName") or None


def agent_name(manifest_name: str, service: str, explicit: str | None) -> str:
    """The agent's name in the project: the manifest's `agent.name`, else `<app>-<service>`."""
    return explicit or f"{manifest_name}-{service}"[:63].rstrip("-")


def version_key(definition: Mapping[str, Any]) -> str:
    """Deterministic name of a version: the same definition always gives the same key."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return "fa-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


class FoundryAgentHost:
    kind = "foundry-agent"
    capabilities = frozenset({"revisions", "labels", "traffic_split"})

    def __init__(self, env: Environment, api: FoundryAgentsApi, model_deployment: str | None = None) -> None:
        self.env = env
        self.api = api
        self.model_deployment = model_deployment  # the environment's, when the manifest names none

    # -- naming ------------------------------------------------------------------------------------
    def _service(self, service: str) -> Any:
        return self.env.resolved.services[service]

    def agent(self, service: str) -> str:
        svc = self._service(service)
        return agent_name(self.env.manifest.name, service, svc.agent.name if svc.agent else None)

    def definition(self, service: str, image: str) -> dict[str, Any]:
        """The HostedAgentDefinition (wire shape) this manifest gives `image`."""
        svc = self._service(service)
        env = dict(svc.env)
        model = (svc.agent.model if svc.agent else None) or self.model_deployment
        if model:
            env.setdefault("AZURE_AI_MODEL_DEPLOYMENT_NAME", model)
        protocols = svc.agent.protocols if svc.agent else {"responses": "v0.1.1"}
        definition: dict[str, Any] = {
            "kind": "hosted",
            "cpu": _number(svc.resources.cpu),
            "memory": svc.resources.memory,
            "container_configuration": {"image": image},
            "protocol_versions": [{"protocol": p, "version": v} for p, v in sorted(protocols.items())],
        }
        if env:
            definition["environment_variables"] = dict(sorted(env.items()))
        return definition

    # -- reading state -------------------------------------------------------------------------------
    @cached_property
    def _ledger(self) -> Any:
        return self.env.ledger

    def _doc_tag(self, agent: str) -> str:
        return f"foundry.{agent}"

    def _versions(self, agent: str) -> dict[str, dict[str, Any]]:
        """key → the newest usable version with that key (failed/deleted ones are skipped)."""
        out: dict[str, dict[str, Any]] = {}
        for version in sorted(self.api.versions(agent), key=lambda v: int(v.get("version", 0))):
            key = (version.get("metadata") or {}).get(KEY_METADATA)
            if key and version.get("status") not in ("failed", "deleting", "deleted"):
                out[key] = version
        return out

    def _state(
        self, agent: str, versions: dict[str, dict[str, Any]], details: dict[str, Any] | None = None
    ) -> tuple[TrafficState, dict[str, str]]:
        """(roles, release tags) — from the ledger document, corrected by the version selector
        (`details`: the agent as the caller already read it)."""
        doc = self._ledger.get(self._doc_tag(agent)) or {}
        state = TrafficState(
            live=doc.get("live") or None,
            staged=doc.get("staged") or None,
            previous=doc.get("previous") or None,
            labels=dict(doc.get("labels") or {}),
        )
        details = (details if details is not None else self.api.agent(agent)) or {}
        rules = ((details.get("agent_endpoint") or {}).get("version_selector") or {}).get(
            "version_selection_rules"
        ) or []
        by_number = {v["version"]: k for k, v in versions.items()}
        serving = [by_number.get(str(r.get("agent_version"))) for r in rules if r.get("traffic_percentage")]
        if serving and serving[0] and serving[0] != state.live:  # the selector wins over the document
            state = TrafficState(live=serving[0], previous=state.live, labels=state.labels)
        for role in ("live", "staged", "previous"):
            if getattr(state, role) and getattr(state, role) not in versions:
                setattr(state, role, None)
        return state, dict(doc.get("tags") or {})

    def _save(self, agent: str, state: TrafficState, tags: Mapping[str, str]) -> None:
        doc = {
            "agent": agent,
            "live": state.live,
            "staged": state.staged,
            "previous": state.previous,
            "labels": state.labels,
            "tags": dict(tags),
        }
        self._ledger.put(self._doc_tag(agent), STATE_KIND, doc)

    def _write_traffic(self, agent: str, state: TrafficState, versions: dict[str, dict[str, Any]]) -> None:
        """The one write that moves traffic: live 100 %, staged and previous at 0 %."""
        rules = [
            {
                "type": "FixedRatio",
                "agent_version": versions[t["revisionName"]]["version"],
                "traffic_percentage": t["weight"],
            }
            for t in state.traffic()
            if t["revisionName"] in versions
        ]
        self.api.set_selector(agent, rules)

    # -- Host: plan ----------------------------------------------------------------------------------
    def expected_revision(self, service: str, image: str) -> str:
        return version_key(self.definition(service, image))

    def current(self, service: str) -> LiveService:
        agent = self.agent(service)
        details = self.api.agent(agent)
        if details is None:
            return LiveService(service, agent, False)
        versions = self._versions(agent)
        item = self._live(service, agent, versions, *self._state(agent, versions, details))
        if item.image:
            item.matches_manifest = item.live == self.expected_revision(service, item.image)
        return item

    def _live(
        self,
        service: str,
        agent: str,
        versions: dict[str, dict[str, Any]],
        state: TrafficState,
        tags: dict[str, str],
    ) -> LiveService:
        item = LiveService(
            service,
            agent,
            True,
            state.live,
            state.staged,
            release=tags.get(RELEASE_TAG) or None,
            live_label=state.label_of(state.live),
            previous=state.previous,
            previous_release=tags.get(PREVIOUS_RELEASE_TAG) or None,
        )
        if state.live:
            image = ((versions[state.live].get("definition") or {}).get("container_configuration") or {}).get(
                "image"
            )
            item.image, item.digest = image, digest_of(image)
        return item

    def has_revision(self, service: str, revision: str) -> bool:
        return revision in self._versions(self.agent(service))

    # -- Host: change --------------------------------------------------------------------------------
    def deploy(self, service: str, image: str, timeout: float, on_event: EventFn) -> DeployOutcome:
        agent = self.agent(service)
        strategy = self.env.config.strategy
        definition = self.definition(service, image)
        key = version_key(definition)
        outcome = DeployOutcome(service, agent, key, image, "unchanged", strategy, app_url=self._url(agent))
        exists = self.api.agent(agent) is not None
        versions = self._versions(agent) if exists else {}
        state, tags = self._state(agent, versions) if exists else (TrafficState(), {})

        found = versions.get(key)
        if found is not None and key in (state.live, state.staged) and found.get("status") == "active":
            on_event(
                service, f"version {found['version']} ({key}) is already {_role(state, key)}; nothing to do"
            )
            outcome.label = state.label_of(key) if key != state.live else None
            return outcome
        if found is None:
            on_event(service, f"creating version of hosted agent {agent} ({key})")
            found = self.api.create_version(agent, definition, {KEY_METADATA: key, SERVICE_METADATA: service})
        found = self._wait_active(agent, found, timeout, service, on_event)
        versions[key] = found

        if state.live is None:
            new_state, outcome.action = state.go_live_first(key), ("created" if not exists else "live")
        elif strategy in STAGING_STRATEGIES:
            new_state, outcome.action = state.stage(key), "staged"
        else:
            new_state, outcome.action = state.replace_live(key), "live"
        self._write_traffic(agent, new_state, versions)
        self._save(agent, new_state, tags)
        if key != new_state.live:
            outcome.label = new_state.label_of(key)
        outcome.deactivated = self._prune(agent, new_state, versions, service, on_event)
        on_event(service, f"version {found['version']} ({key}) {outcome.action}")
        return outcome

    def _wait_active(
        self, agent: str, version: dict[str, Any], timeout: float, service: str, on_event: EventFn
    ) -> dict[str, Any]:
        """Until the version is active; a failed one is deleted (it never held traffic) and the
        reason raised as exit 7."""
        deadline = time.monotonic() + timeout
        number = str(version["version"])
        announced, delay = False, 0.05
        while version.get("status") == "creating":
            if time.monotonic() > deadline:
                raise DeployError(
                    f"version {number} of hosted agent {agent} is still creating after {timeout:.0f} s",
                    hint="traffic was not moved; check the agent's logs in the Foundry portal and retry",
                    code="version_timeout",
                )
            if not announced:
                on_event(service, f"waiting for version {number} to become active")
                announced = True
            time.sleep(delay)
            delay = min(delay * 2, POLL_SECONDS)
            version = self.api.version(agent, number) or {"status": "deleted"}
        if version.get("status") == "active":
            return version
        reason = ((version.get("error") or {}).get("message")) or f"status {version.get('status')}"
        try:
            self.api.delete_version(agent, number)
        except Exception as exc:
            on_event(service, f"could not delete failed version {number}: {exc}")
        raise DeployError(
            f"version {number} of hosted agent {agent} failed: {reason.splitlines()[0]}",
            hint="traffic was not moved; the image must answer GET /readiness and POST /responses on "
            "port 8088 (see docs/hosts.md)",
            code="version_failed",
            details={"reason": reason},
        )

    def _prune(
        self,
        agent: str,
        state: TrafficState,
        versions: dict[str, dict[str, Any]],
        service: str,
        on_event: EventFn,
    ) -> list[str]:
        """Delete versions genaiops made beyond the `keep_previous` most recent non-serving ones."""
        keep = self.env.config.keep_previous
        protected = {state.live, state.staged, state.previous}
        others = [k for k in versions if k not in protected]
        others.sort(key=lambda k: -int(versions[k]["version"]))
        removed = []
        for key in others[max(0, keep - (1 if state.previous else 0)) :]:
            self.api.delete_version(agent, versions[key]["version"])
            removed.append(key)
            on_event(service, f"deleted version {versions[key]['version']} ({key}; keep_previous={keep})")
        return removed

    def swap(self, service: str, on_event: EventFn, tags: Mapping[str, str] | None = None) -> dict[str, Any]:
        agent = self.agent(service)
        versions = self._require(agent, service)
        state, current_tags = self._state(agent, versions)
        if not state.staged:
            raise DeployError(
                f"nothing staged for {service!r} in {self.env.name}",
                hint="deploy a new release with `genaiops deploy` first",
                code="nothing_staged",
            )
        staged = self.api.version(agent, versions[state.staged]["version"]) or {}
        if staged.get("status") != "active":
            raise DeployError(
                f"staged version {state.staged} is {staged.get('status', 'gone')}; not swapping",
                hint="redeploy or roll back",
                code="staged_unhealthy",
            )
        new_state = state.swap()
        on_event(service, f"moving traffic: version {versions[new_state.live]['version']} → 100 %")
        self._write_traffic(agent, new_state, versions)
        self._save(agent, new_state, {**current_tags, **(tags or {})})
        return {
            "service": service,
            "app": agent,
            "live": new_state.live,
            "previous": new_state.previous,
            "deactivated": [],
        }

    def record_live(self, service: str, tags: Mapping[str, str]) -> dict[str, Any]:
        agent = self.agent(service)
        versions = self._require(agent, service)
        state, current = self._state(agent, versions)
        self._save(agent, state, {**current, **tags})
        return {"live": state.live, "note": "already live"}

    def _rollback_check(
        self, service: str
    ) -> tuple[str, dict[str, dict[str, Any]], TrafficState, dict[str, str], dict[str, Any]]:
        """What a rollback needs, checked before anything changes: the previous version must exist."""
        agent = self.agent(service)
        versions = self._require(agent, service)
        state, tags = self._state(agent, versions)
        if not state.previous:
            raise DeployError(
                f"no previous version of {service!r} in {self.env.name} to roll back to",
                hint="a rollback returns to the version that was live before the last swap or promotion",
                code="no_previous",
            )
        target = self.api.version(agent, versions[state.previous]["version"]) or {}
        if target.get("status") not in ("active", "creating"):
            raise DeployError(
                f"previous version {state.previous} is {target.get('status', 'gone')}", code="no_previous"
            )
        return agent, versions, state, tags, target

    def rollback_plan(self, service: str) -> dict[str, Any]:
        _, _, state, _, _ = self._rollback_check(service)
        return {"service": service, "live": state.live, "previous": state.previous}

    def rollback(self, service: str, timeout: float, on_event: EventFn) -> dict[str, Any]:
        agent, versions, state, tags, target = self._rollback_check(service)
        if target.get("status") == "creating":
            self._wait_active(agent, target, timeout, service, on_event)
        new_state = state.roll_back()
        on_event(service, f"rolling back: version {versions[new_state.live]['version']} → 100 %")
        self._write_traffic(agent, new_state, versions)
        releases = {
            RELEASE_TAG: tags.get(PREVIOUS_RELEASE_TAG, ""),
            PREVIOUS_RELEASE_TAG: tags.get(RELEASE_TAG, ""),
        }
        self._save(agent, new_state, {**tags, **releases})
        return {
            "service": service,
            "app": agent,
            "live": new_state.live,
            "rolled_back_from": state.live,
            "release": releases[RELEASE_TAG] or None,
            "rolled_back_release": releases[PREVIOUS_RELEASE_TAG] or None,
        }

    def remove(self, service: str, on_event: EventFn) -> dict[str, Any]:
        agent = self.agent(service)
        found = self.api.agent(agent) is not None
        if found:
            on_event(service, f"deleting hosted agent {agent}: it had no earlier release to go back to")
            self.api.delete_agent(agent)
        return {"service": service, "app": agent, "removed": found}

    def _require(self, agent: str, service: str) -> dict[str, dict[str, Any]]:
        if self.api.agent(agent) is None:
            raise DeployError(
                f"service {service!r} is not deployed in {self.env.name}", hint="run `genaiops deploy`"
            )
        return self._versions(agent)

    def restart(
        self, service: str, revision: str | None, timeout: float, on_event: EventFn
    ) -> dict[str, Any]:
        # Foundry runs hosted agent versions itself and offers no restart operation to call.
        raise DeployError(
            f"{service!r} is a Foundry hosted agent: its versions cannot be restarted",
            hint="deploy a new version, or roll back to the previous one with `genaiops rollback`",
            code="restart_unsupported",
        )

    # -- Host: read ----------------------------------------------------------------------------------
    def status(self, service: str) -> dict[str, Any]:
        return self.observe(service)[0]

    def observe(self, service: str) -> tuple[dict[str, Any], LiveService]:
        """One read each of the agent, its versions and its state document."""
        agent = self.agent(service)
        details = self.api.agent(agent)
        if details is None:
            return {"service": service, "app": agent, "deployed": False, "revisions": []}, LiveService(
                service, agent, False
            )
        versions = self._versions(agent)
        state, tags = self._state(agent, versions, details)
        return self._view(service, agent, details, versions, state, tags), self._live(
            service, agent, versions, state, tags
        )

    def _view(
        self,
        service: str,
        agent: str,
        details: dict[str, Any],
        versions: dict[str, dict[str, Any]],
        state: TrafficState,
        tags: dict[str, str],
    ) -> dict[str, Any]:
        rules = ((details.get("agent_endpoint") or {}).get("version_selector") or {}).get(
            "version_selection_rules"
        ) or []
        weights = {str(r.get("agent_version")): r.get("traffic_percentage", 0) for r in rules}
        rows = []
        for key, version in sorted(versions.items(), key=lambda kv: -int(kv[1]["version"])):
            rows.append(
                {
                    "name": key,
                    "version": version["version"],
                    "image": ((version.get("definition") or {}).get("container_configuration") or {}).get(
                        "image"
                    ),
                    "created": _iso(version.get("created_at")),
                    "active": version.get("status") == "active",
                    "running_state": version.get("status"),
                    "health_state": "Healthy" if version.get("status") == "active" else "None",
                    "provisioning_state": version.get("status"),
                    "url": None,
                    "label_url": None,
                    "traffic": weights.get(str(version["version"]), 0),
                    "label": state.label_of(key),
                    "role": _role(state, key),
                }
            )
        return {
            "service": service,
            "app": agent,
            "host": self.kind,
            "deployed": True,
            "url": self._url(agent),
            "live": state.live,
            "staged": state.staged,
            "previous": state.previous,
            "release": tags.get(RELEASE_TAG) or None,
            "revisions": rows,
        }

    def endpoint(self, service: str, label: str) -> Endpoint:
        """The agent's Responses endpoint. `live` goes through the version selector, like users;
        any other side gets a session pinned to its version (the body's `agent_session_id`)."""
        agent = self.agent(service)
        versions = self._require(agent, service)
        state, _ = self._state(agent, versions)
        target = self.env.target
        common = {
            "resolve": dict(target.resolve),
            "ca_bundle": target.ca_bundle,
            "protocol": "responses",
            "query": {"api-version": API_VERSION},
            "token": self.api.token,
        }
        if label == "live":
            if not state.live:
                raise DeployError(f"nothing is live for {service!r} in {self.env.name}")
            return Endpoint(self._url(agent), label, **common)
        key = (
            state.staged
            if label == "staged"
            else next((k for k, v in state.labels.items() if v == label), None)
        )
        if label not in ("staged", *LABELS) or not key or key not in versions:
            raise DeployError(
                f"no {label} version of {service!r} in {self.env.name}",
                hint="live | staged | blue | green; deploy with strategy bluegreen to stage one",
                code="no_such_label",
            )
        session = self.api.create_session(agent, versions[key]["version"])
        return Endpoint(self._url(agent), label, body={"agent_session_id": session}, **common)

    def _url(self, agent: str) -> str:
        return self.api.endpoint.rstrip("/") + RESPONSES_PATH.format(agent=agent)


def _role(state: TrafficState, key: str) -> str:
    return (
        "live"
        if key == state.live
        else "staged"
        if key == state.staged
        else "previous"
        if key == state.previous
        else ""
    )


def _iso(created: Any) -> str | None:
    """Foundry's unix seconds → ISO 8601 (what status shows for every host)."""
    import datetime as dt

    if isinstance(created, int | float):
        return dt.datetime.fromtimestamp(created, dt.UTC).isoformat()
    return str(created) if created else None


def _number(value: float) -> str:
    """0.5 → "0.5", 1.0 → "1" (Foundry takes cpu as a string)."""
    return f"{value:g}"
