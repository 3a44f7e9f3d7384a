"""The Foundry project data plane of the stand-in: hosted agents, their versions, the endpoint's
version selector and sessions, as azure-ai-projects 2.10 calls them (api-version v1).

Shapes and status codes follow the SDK's own models and operations (see /work/shared/FOUNDRY.md):
every operation answers exactly the status the SDK accepts (200, 201 for create_session, 204 for
session delete/stop), `created_at` is unix seconds, list pages end with an empty `last_id`, and
errors are `{"error": {"code", "message"}}`.

Each version of a hosted agent is a real container on the engine, started through the same
runtime as Container Apps revisions (runtime_api.Runtime): the image by digest, the readiness
probe `GET /readiness` on port 8088. The version is `creating` until the probe answers, then
`active`, or `failed` (with the reason, see docs/sandbox-foundry-differences.md). No routes are
published to the ingress router: only this plane's Responses route reaches those containers.

State (agents, versions, selector, sessions) is one JSON file in the state dir; containers are
adopted by the runtime after a restart like any revision. Pure of HTTP: foundry_server.py serves
it."""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .runtime_api import ContainerSpec, RevisionSpec

API_VERSION = "v1"
AGENT_PORT = 8088  # the hosted-agent container contract
PROTOCOLS = {
    "responses",
    "invocations",
    "invocations_ws",
    "a2a",
    "mcp",
    "activity",
    "voice",
    "voice_conversation_engine",
}
NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")  # SDK docstring
CPU_RE = re.compile(r"^\d+(\.\d+)?$")
MEMORY_RE = re.compile(r"^\d+(\.\d+)?(Gi|Mi)$")
SESSION_TTL = 30 * 24 * 3600
STATE_FILE = "foundry.json"
AGENTS_DOMAIN = "agents.sandbox.genaiops.test"  # runtime label only; never routed by the ingress


class FoundryError(Exception):
    """An error answer: `{"error": {"code", "message"}}` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _bad(message: str, code: str = "invalid_request") -> FoundryError:
    return FoundryError(400, code, message)


def _not_found(what: str) -> FoundryError:
    return FoundryError(404, "not_found", f"{what} was not found.")


def _now() -> int:
    return int(time.time())


class FoundryPlane:
    """Every Foundry project of the stand-in. `projects(account, project)` says whether ARM holds
    that project (the data plane of a project that was never provisioned answers 404)."""

    def __init__(
        self,
        state_dir: Path,
        runtime: Any,
        projects: Callable[[str, str], bool],
        rng: random.Random | None = None,
    ) -> None:
        self._path = state_dir / STATE_FILE
        self._runtime = runtime
        self._projects = projects
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._state: dict[str, Any] = self._load()

    # ------------------------------------------------------------------ persistence
    def _load(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self._path.read_text()))
        except (OSError, ValueError):
            return {}

    def _save(self) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._state, indent=1, sort_keys=True))
        tmp.replace(self._path)

    # shared with the other collections of a project (foundry_datasets.py)
    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def save(self) -> None:
        self._save()

    def project_state(self, account: str, project: str) -> dict[str, Any]:
        """The state of one project (404 when ARM does not hold it); hold `lock` while using it."""
        return self._project(account, project)

    def _project(self, account: str, project: str) -> dict[str, Any]:
        if not self._projects(account, project):
            raise _not_found(f"Project '{project}' in account '{account}'")
        key = f"{account.lower()}/{project.lower()}"
        return self._state.setdefault(key, {"agents": {}})

    def _agent(self, account: str, project: str, name: str) -> dict[str, Any]:
        agent = self._project(account, project)["agents"].get(name)
        if agent is None:
            raise _not_found(f"Agent '{name}'")
        return agent

    def _version(self, agent: dict[str, Any], version: str) -> dict[str, Any]:
        record = agent["versions"].get(version)
        if record is None or record["status"] == "deleted":
            raise _not_found(f"Version '{version}' of agent '{agent['name']}'")
        return record

    # ------------------------------------------------------------------ rendering
    def _refresh(self, record: dict[str, Any]) -> None:
        """creating → active / failed, from what the runtime sees of the version's container."""
        if record["status"] not in ("creating", "active") or self._runtime is None:
            return
        status = self._runtime.revision_status(record["revision"])
        if status.running_state == "Running":
            record["status"] = "active"
        elif status.running_state == "Failed":
            record["status"] = "failed"
            record["error"] = {"code": "container_failed", "message": status.reason or "failed"}
        elif status.running_state == "Stopped" and record["status"] == "active":
            # adopted after a restart and not yet probed, or removed behind our back: start again
            self._start(record)
            record["status"] = "creating"

    def _render_version(self, record: dict[str, Any]) -> dict[str, Any]:
        self._refresh(record)
        out = {k: v for k, v in record.items() if k not in ("revision", "error", "image")}
        if record["status"] == "failed" and record.get("error"):
            out["error"] = record["error"]  # stand-in addition, see docs/sandbox-foundry-differences.md
        return out

    def _render_agent(self, agent: dict[str, Any]) -> dict[str, Any]:
        live = [v for v in agent["versions"].values() if v["status"] != "deleted"]
        latest = max(live, key=lambda v: int(v["version"]))
        out: dict[str, Any] = {
            "object": "agent",
            "id": agent["id"],
            "name": agent["name"],
            "state": agent["state"],
            "versions": {"latest": self._render_version(latest)},
        }
        if agent.get("agent_endpoint"):
            out["agent_endpoint"] = agent["agent_endpoint"]
        return out

    # ------------------------------------------------------------------ agents
    def list_agents(self, account: str, project: str, query: dict[str, str]) -> Answer:
        with self._lock:
            agents = [
                self._render_agent(a)
                for a in sorted(
                    self._project(account, project)["agents"].values(), key=lambda a: a["created"]
                )
            ]
        return Answer(200, _page(agents, query, key="id"))

    def get_agent(self, account: str, project: str, name: str) -> Answer:
        with self._lock:
            return Answer(200, self._render_agent(self._agent(account, project, name)))

    def delete_agent(self, account: str, project: str, name: str) -> Answer:
        with self._lock:
            agent = self._agent(account, project, name)
            for record in agent["versions"].values():
                self._stop(record)
            del self._project(account, project)["agents"][name]
            self._save()
        return Answer(200, {"object": "agent.deleted", "name": name, "deleted": True})

    def set_enabled(self, account: str, project: str, name: str, enabled: bool) -> Answer:
        with self._lock:
            agent = self._agent(account, project, name)
            agent["state"] = "enabled" if enabled else "disabled"
            self._save()
        return Answer(204)

    def update_agent(self, account: str, project: str, name: str, body: Any) -> Answer:
        """PATCH (merge-patch): only `agent_endpoint.version_selector` is honoured."""
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object.")
        with self._lock:
            agent = self._agent(account, project, name)
            endpoint = body.get("agent_endpoint")
            if endpoint is not None:
                if not isinstance(endpoint, dict):
                    raise _bad("agent_endpoint must be an object.")
                selector = endpoint.get("version_selector")
                if selector is not None:
                    agent.setdefault("agent_endpoint", {})["version_selector"] = self._check_selector(
                        agent, selector
                    )
                for key, value in endpoint.items():
                    if key != "version_selector":
                        agent.setdefault("agent_endpoint", {})[key] = value
            self._save()
            return Answer(200, self._render_agent(agent))

    def _check_selector(self, agent: dict[str, Any], selector: Any) -> dict[str, Any]:
        rules = selector.get("version_selection_rules") if isinstance(selector, dict) else None
        if not isinstance(rules, list) or not rules:
            raise _bad("version_selector.version_selection_rules must be a non-empty list.")
        total, seen = 0, set()
        for i, rule in enumerate(rules):
            where = f"version_selection_rules[{i}]"
            if not isinstance(rule, dict) or rule.get("type") != "FixedRatio":
                raise _bad(f"{where}.type must be 'FixedRatio' (the only rule type the stand-in knows).")
            version, pct = rule.get("agent_version"), rule.get("traffic_percentage")
            if not isinstance(version, str) or version not in agent["versions"]:
                raise _bad(f"{where}.agent_version '{version}' is not a version of agent '{agent['name']}'.")
            if agent["versions"][version]["status"] == "deleted":
                raise _bad(f"{where}.agent_version '{version}' was deleted.")
            if not isinstance(pct, int) or isinstance(pct, bool) or not 0 <= pct <= 100:
                raise _bad(f"{where}.traffic_percentage must be an integer from 0 to 100.")
            if version in seen:
                raise _bad(f"{where}: version '{version}' appears twice.")
            seen.add(version)
            total += pct
        if total != 100:
            raise _bad(f"traffic percentages add up to {total}; they must add up to 100.")
        return {"version_selection_rules": [dict(r) for r in rules]}

    # ------------------------------------------------------------------ versions
    def create_version(self, account: str, project: str, name: str, body: Any) -> Answer:
        if not NAME_RE.match(name):
            raise _bad(
                f"Agent name '{name}' is invalid: start and end with a letter or digit, hyphens in "
                "between, at most 63 characters."
            )
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object.")
        definition = self._check_definition(body.get("definition"))
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict) or len(metadata) > 16:
            raise _bad("metadata must be an object of at most 16 string pairs.")
        for key, value in metadata.items():
            if not isinstance(value, str) or len(key) > 64 or len(value) > 512:
                raise _bad(f"metadata '{key}': keys up to 64 characters, string values up to 512.")
        with self._lock:
            agents = self._project(account, project)["agents"]
            agent = agents.get(name)
            if agent is None:
                agent = agents[name] = {
                    "id": f"{name}",
                    "uid": uuid.uuid4().hex[:10],
                    "name": name,
                    "state": "enabled",
                    "created": time.time(),
                    "next": 1,
                    "versions": {},
                    "sessions": {},
                }
            number = str(agent["next"])
            agent["next"] += 1
            record: dict[str, Any] = {
                "object": "agent.version",
                "id": f"{name}:{number}",
                "name": name,
                "version": number,
                "created_at": _now(),
                "metadata": {str(k): str(v) for k, v in metadata.items()},
                "definition": definition,
                "status": "creating",
                "revision": f"agent-{agent['uid']}-{number}",
            }
            if body.get("description"):
                record["description"] = str(body["description"])
            agent["versions"][number] = record
            self._start(record)
            self._save()
            return Answer(200, self._render_version(record))

    def _check_definition(self, definition: Any) -> dict[str, Any]:
        if not isinstance(definition, dict):
            raise _bad("definition is required.")
        if definition.get("kind") != "hosted":
            raise _bad(
                f"definition.kind '{definition.get('kind')}' is not supported by the stand-in; "
                "only 'hosted' agents run here.",
                "unsupported_agent_kind",
            )
        for key in ("cpu", "memory"):
            if not isinstance(definition.get(key), str):
                raise _bad(f"definition.{key} is required and must be a string.")
        if not CPU_RE.match(definition["cpu"]) or not 0 < float(definition["cpu"]) <= 4:
            raise _bad(f"definition.cpu '{definition['cpu']}' must be a number of cores from 0.25 to 4.")
        if not MEMORY_RE.match(definition["memory"]):
            raise _bad(f"definition.memory '{definition['memory']}' must look like '0.5Gi' or '512Mi'.")
        container, code = definition.get("container_configuration"), definition.get("code_configuration")
        if (container is None) == (code is None):
            raise _bad("definition needs exactly one of container_configuration or code_configuration.")
        if code is not None:
            raise _bad(
                "code_configuration needs a code upload (create_version_from_code), which the stand-in "
                "does not implement; use container_configuration.",
                "unsupported_feature",
            )
        if not isinstance(container, dict) or not isinstance(container.get("image"), str):
            raise _bad("definition.container_configuration.image is required.")
        protocols = definition.get("protocol_versions") or []
        if not isinstance(protocols, list):
            raise _bad("definition.protocol_versions must be a list.")
        for i, record in enumerate(protocols):
            if not isinstance(record, dict) or record.get("protocol") not in PROTOCOLS:
                known = ", ".join(sorted(PROTOCOLS))
                raise _bad(f"definition.protocol_versions[{i}].protocol must be one of {known}.")
            if not isinstance(record.get("version"), str):
                raise _bad(f"definition.protocol_versions[{i}].version is required.")
        env = definition.get("environment_variables") or {}
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise _bad("definition.environment_variables must map names to strings.")
        return json.loads(json.dumps(definition))

    def get_version(self, account: str, project: str, name: str, version: str) -> Answer:
        with self._lock:
            record = self._version(self._agent(account, project, name), version)
            rendered = self._render_version(record)
            self._save()
        return Answer(200, rendered)

    def list_versions(self, account: str, project: str, name: str, query: dict[str, str]) -> Answer:
        with self._lock:
            agent = self._agent(account, project, name)
            records = sorted(
                (v for v in agent["versions"].values() if v["status"] != "deleted"),
                key=lambda v: int(v["version"]),
                reverse=query.get("order", "desc") != "asc",
            )
            items = [self._render_version(v) for v in records]
            self._save()
        return Answer(200, _page(items, query, key="id"))

    def delete_version(self, account: str, project: str, name: str, version: str, force: bool) -> Answer:
        with self._lock:
            agent = self._agent(account, project, name)
            record = self._version(agent, version)
            rules = ((agent.get("agent_endpoint") or {}).get("version_selector") or {}).get(
                "version_selection_rules"
            ) or []
            serving = any(r["agent_version"] == version and r["traffic_percentage"] > 0 for r in rules)
            if serving and not force:
                raise FoundryError(
                    409,
                    "conflict",
                    f"Version '{version}' receives traffic through the endpoint's version selector; "
                    "move its traffic first or pass force=true.",
                )
            self._stop(record)
            record["status"] = "deleted"
            self._save()
        return Answer(
            200, {"object": "agent.version.deleted", "name": name, "version": version, "deleted": True}
        )

    # ------------------------------------------------------------------ sessions
    def create_session(self, account: str, project: str, name: str, body: Any) -> Answer:
        indicator = body.get("version_indicator") if isinstance(body, dict) else None
        if not isinstance(indicator, dict) or indicator.get("type") != "version_ref":
            raise _bad("version_indicator of type 'version_ref' is required.")
        with self._lock:
            agent = self._agent(account, project, name)
            self._version(agent, str(indicator.get("agent_version")))
            session_id = body.get("agent_session_id") or f"sess_{uuid.uuid4().hex}"
            if session_id in agent["sessions"]:
                raise FoundryError(409, "conflict", f"Session '{session_id}' already exists.")
            now = _now()
            session = {
                "agent_session_id": session_id,
                "version_indicator": {
                    "type": "version_ref",
                    "agent_version": str(indicator["agent_version"]),
                },
                "status": "active",
                "created_at": now,
                "last_accessed_at": now,
                "expires_at": now + SESSION_TTL,
            }
            agent["sessions"][session_id] = session
            self._save()
        return Answer(201, session)

    def get_session(self, account: str, project: str, name: str, session_id: str) -> Answer:
        with self._lock:
            session = self._agent(account, project, name)["sessions"].get(session_id)
            if session is None:
                raise _not_found(f"Session '{session_id}'")
            return Answer(200, session)

    def end_session(self, account: str, project: str, name: str, session_id: str, stop: bool) -> Answer:
        with self._lock:
            sessions = self._agent(account, project, name)["sessions"]
            if session_id not in sessions:
                raise _not_found(f"Session '{session_id}'")
            if stop:
                sessions[session_id]["status"] = "idle"
                sessions[session_id]["stopped_at"] = _now()
            else:
                del sessions[session_id]
            self._save()
        return Answer(204)

    # ------------------------------------------------------------------ invoking
    def pick_upstream(
        self, account: str, project: str, name: str, body: Any, version: str | None = None
    ) -> tuple[str, tuple[str, int]]:
        """(version, (host, port)) that serves one Responses request: the session's version when
        the body names an `agent_session_id`, else `version` (an agent_reference), else a weighted
        pick over the version selector (no selector: the latest version)."""
        with self._lock:
            agent = self._agent(account, project, name)
            if agent["state"] != "enabled":
                raise FoundryError(409, "agent_disabled", f"Agent '{name}' is disabled.")
            session_id = body.get("agent_session_id") if isinstance(body, dict) else None
            if session_id:
                session = agent["sessions"].get(session_id)
                if session is None:
                    raise _not_found(f"Session '{session_id}'")
                session["last_accessed_at"] = _now()
                version = session["version_indicator"]["agent_version"]
            elif version is None:
                version = self._selected(agent)
            record = self._version(agent, version)
            self._refresh(record)
            if record["status"] != "active":
                raise FoundryError(
                    503 if record["status"] == "creating" else 424,
                    "agent_version_not_ready",
                    f"Version '{version}' of agent '{name}' is {record['status']}.",
                )
            where = self._runtime.revision_endpoint(record["revision"]) if self._runtime else None
            if where is None:
                raise FoundryError(
                    503, "agent_version_not_ready", f"Version '{version}' is not reachable yet."
                )
            return version, where

    def _selected(self, agent: dict[str, Any]) -> str:
        rules = ((agent.get("agent_endpoint") or {}).get("version_selector") or {}).get(
            "version_selection_rules"
        ) or []
        weighted = [
            (r["agent_version"], r["traffic_percentage"]) for r in rules if r["traffic_percentage"] > 0
        ]
        if weighted:
            versions, weights = zip(*weighted, strict=True)
            return str(self._rng.choices(versions, weights=weights)[0])
        live = [v for v in agent["versions"].values() if v["status"] != "deleted"]
        if not live:
            raise _not_found(f"A version of agent '{agent['name']}'")
        return str(max(live, key=lambda v: int(v["version"]))["version"])

    # ------------------------------------------------------------------ containers
    def _start(self, record: dict[str, Any]) -> None:
        if self._runtime is None:
            record["status"] = "failed"
            record["error"] = {"code": "no_runtime", "message": "the stand-in has no container runtime"}
            return
        definition = record["definition"]
        container = ContainerSpec(
            name="agent",
            image=definition["container_configuration"]["image"],
            env={
                **(definition.get("environment_variables") or {}),
                "FOUNDRY_AGENT_NAME": record["name"],
                "FOUNDRY_AGENT_VERSION": record["version"],
            },
            cpu=float(definition["cpu"]),
            memory=definition["memory"],
            probes=[
                {
                    "type": "Readiness",
                    "httpGet": {"path": "/readiness", "port": AGENT_PORT},
                    "periodSeconds": 2,
                    "failureThreshold": 30,
                }
            ],
        )
        self._runtime.ensure_revision(
            RevisionSpec(
                app=f"agent-{hashlib.sha256(record['id'].encode()).hexdigest()[:8]}",
                revision=record["revision"],
                resource_group="foundry",
                default_domain=AGENTS_DOMAIN,
                containers=[container],
                target_port=AGENT_PORT,
            )
        )

    def _stop(self, record: dict[str, Any]) -> None:
        if self._runtime is not None and record["status"] != "deleted":
            self._runtime.stop_revision(record["revision"])


def _page(items: list[dict[str, Any]], query: dict[str, str], key: str) -> dict[str, Any]:
    """One page of an OpenAI-style list. The SDK's pager follows `after=<last_id>` until `last_id`
    is empty and ignores `has_more`, so the last page carries no `last_id`."""
    try:
        limit = max(1, min(100, int(query.get("limit") or 20)))
    except ValueError:
        raise _bad("limit must be an integer from 1 to 100.") from None
    after = query.get("after")
    start = 0
    if after:
        ids = [i[key] for i in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    page: dict[str, Any] = {"object": "list", "data": chunk, "has_more": more}
    if chunk:
        page["first_id"] = chunk[0][key]
    if more:
        page["last_id"] = chunk[-1][key]
    return page
