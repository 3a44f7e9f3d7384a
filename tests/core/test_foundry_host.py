"""The Foundry hosted-agent host (core/hosts/foundry.py) against an in-memory fake of the
FoundryAgentsApi port: versions become active (or fail) as the fake says, traffic is what the last
selector write said. Idempotent deploy, blue/green by version ratio, swap and rollback in one
write each, a failing version leaving traffic alone, endpoints pinning a version through a
session, and the manifest's hosted-agent settings in the version definition."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from genaiops_cli.core.hosts.foundry import FoundryAgentHost, version_key
from genaiops_cli.core.manifest.loader import load_manifest
from genaiops_cli.core.ports import RELEASE_TAG
from genaiops_cli.errors import DeployError, ExitCode
from tests.core.fakes import MANIFEST, World

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64
BROKEN = "sha256:" + "b" * 64
PROJECT = "https://ai-prod.services.ai.azure.com/api/projects/prod"

FOUNDRY_SERVICE = """\
  bot:
    build: {context: src/agent}
    repository: demo/agent
    host: foundry-agent
    agent: {protocols: {responses: v0.1.1}}
    resources: {cpu: 0.5, memory: 1Gi}
    env: {LOG_LEVEL: info}
    smoke:
      - name: answers
        request: {method: POST, path: /responses, json: {input: hi}}
"""


class MemoryFoundry:
    """A Foundry project: agents with numbered versions and an endpoint version selector."""

    endpoint = PROJECT

    def __init__(self) -> None:
        self.agents: dict[str, dict[str, Any]] = {}
        self.failing: set[str] = set()  # image digests whose versions fail
        self.selector_writes = 0
        self.sessions: dict[str, str] = {}

    def agent(self, name: str) -> dict[str, Any] | None:
        agent = self.agents.get(name)
        if agent is None:
            return None
        return {"name": name, "agent_endpoint": copy.deepcopy(agent["endpoint"])}

    def versions(self, name: str) -> list[dict[str, Any]]:
        return copy.deepcopy(list((self.agents.get(name) or {"versions": {}})["versions"].values()))

    def version(self, name: str, version: str) -> dict[str, Any] | None:
        found = self.agents.get(name, {"versions": {}})["versions"].get(version)
        if found and found["status"] == "creating":  # becomes active (or fails) on the next read
            image = found["definition"]["container_configuration"]["image"]
            failed = any(d in image for d in self.failing)
            found["status"] = "failed" if failed else "active"
            if failed:
                found["error"] = {"code": "container_failed", "message": "image pull failed: not found"}
        return copy.deepcopy(found)

    def create_version(
        self, name: str, definition: dict[str, Any], metadata: dict[str, str]
    ) -> dict[str, Any]:
        agent = self.agents.setdefault(name, {"versions": {}, "endpoint": {}, "next": 1})
        number = str(agent["next"])
        agent["next"] += 1
        agent["versions"][number] = {
            "version": number,
            "metadata": dict(metadata),
            "definition": copy.deepcopy(definition),
            "status": "creating",
        }
        return copy.deepcopy(agent["versions"][number])

    def delete_version(self, name: str, version: str) -> None:
        del self.agents[name]["versions"][version]

    def delete_agent(self, name: str) -> None:
        self.agents.pop(name, None)

    def set_selector(self, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
        assert sum(r["traffic_percentage"] for r in rules) == 100
        self.selector_writes += 1
        self.agents[name]["endpoint"] = {
            "version_selector": {"version_selection_rules": copy.deepcopy(rules)}
        }
        return self.agent(name) or {}

    def create_session(self, name: str, version: str) -> str:
        session = f"sess-{len(self.sessions)}"
        self.sessions[session] = version
        return session

    def token(self) -> str:
        return "token-for-ai.azure.com"

    def traffic(self, name: str) -> dict[str, int]:
        rules = self.agents[name]["endpoint"]["version_selector"]["version_selection_rules"]
        return {r["agent_version"]: r["traffic_percentage"] for r in rules}


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    (tmp_path / "genaiops.yaml").write_text(
        MANIFEST.replace("environments:\n", FOUNDRY_SERVICE + "environments:\n")
    )
    w.manifest = load_manifest(tmp_path / "genaiops.yaml")
    w.envs = {name: w.open(name) for name in ("dev", "prod")}
    return w


def host(world: World, env: str = "prod") -> tuple[FoundryAgentHost, MemoryFoundry]:
    api = MemoryFoundry()
    return FoundryAgentHost(world.envs[env], api, "gpt-4o-mini"), api


def image(digest: str) -> str:
    return f"crprod.azurecr.io/demo/agent@{digest}"


def quiet(service: str, message: str) -> None:
    pass


def test_definition_carries_the_manifest_settings_and_the_key_is_deterministic(world: World) -> None:
    from genaiops_cli.core.ports import Host

    h, _ = host(world)
    assert isinstance(h, Host), "implements every method of the Host port"
    definition = h.definition("bot", image(D1))
    assert definition == {
        "kind": "hosted",
        "cpu": "0.5",
        "memory": "1Gi",
        "container_configuration": {"image": image(D1)},
        "protocol_versions": [{"protocol": "responses", "version": "v0.1.1"}],
        "environment_variables": {"AZURE_AI_MODEL_DEPLOYMENT_NAME": "gpt-4o-mini", "LOG_LEVEL": "info"},
    }
    assert h.expected_revision("bot", image(D1)) == version_key(definition)
    assert h.expected_revision("bot", image(D1)) != h.expected_revision("bot", image(D2))
    assert h.agent("bot") == "demo-bot"


def test_blue_green_between_versions_swap_and_rollback_in_one_write_each(world: World) -> None:
    h, api = host(world)
    first = h.deploy("bot", image(D1), 5, quiet)
    assert first.action == "created" and api.traffic("demo-bot") == {"1": 100}

    again = h.deploy("bot", image(D1), 5, quiet)  # same release: no new version, no write
    assert again.action == "unchanged" and len(api.versions("demo-bot")) == 1 and api.selector_writes == 1

    second = h.deploy("bot", image(D2), 5, quiet)
    assert second.action == "staged" and second.label in ("blue", "green")
    assert api.traffic("demo-bot") == {"1": 100, "2": 0}, "staged at 0 %, live keeps 100 %"
    assert h.current("bot").staged == second.revision and h.current("bot").live == first.revision

    staged = h.endpoint("bot", "staged")
    assert staged.url == PROJECT + "/agents/demo-bot/endpoint/protocols/openai"
    assert api.sessions[staged.body["agent_session_id"]] == "2", "a session pinned to the staged version"
    headers, body, query = staged.prepare({}, {"input": "hi"})
    assert headers["Authorization"] == "Bearer token-for-ai.azure.com" and query == {"api-version": "v1"}
    assert body == {"input": "hi", "agent_session_id": staged.body["agent_session_id"]}
    assert "agent_session_id" not in h.endpoint("bot", "live").body  # live goes through the selector

    writes = api.selector_writes
    swapped = h.swap("bot", quiet, {RELEASE_TAG: "r2"})
    assert api.selector_writes == writes + 1 and api.traffic("demo-bot") == {"2": 100, "1": 0}
    assert swapped["live"] == second.revision and swapped["previous"] == first.revision
    assert h.current("bot").release == "r2"

    assert h.rollback_plan("bot") == {"service": "bot", "live": second.revision, "previous": first.revision}
    back = h.rollback("bot", 5, quiet)
    assert api.selector_writes == writes + 2 and api.traffic("demo-bot")["1"] == 100
    assert back["live"] == first.revision and back["rolled_back_from"] == second.revision
    status = h.status("bot")
    assert [(r["version"], r["traffic"], r["role"]) for r in status["revisions"]] == [
        ("2", 0, "previous"),
        ("1", 100, "live"),
    ]


def test_a_failing_version_is_exit_7_with_its_reason_and_traffic_stays(world: World) -> None:
    h, api = host(world)
    h.deploy("bot", image(D1), 5, quiet)
    api.failing.add(BROKEN)
    writes = api.selector_writes
    with pytest.raises(DeployError) as failed:
        h.deploy("bot", image(BROKEN), 5, quiet)
    assert failed.value.exit_code == ExitCode.DEPLOY and "image pull failed" in failed.value.message
    assert api.selector_writes == writes and api.traffic("demo-bot") == {"1": 100}
    assert [v["version"] for v in api.versions("demo-bot")] == ["1"], "the failed version was removed"


def test_direct_strategy_replaces_live_and_prunes_beyond_keep_previous(world: World) -> None:
    h, api = host(world, "dev")
    for digest in (D1, D2, D3):
        h.deploy("bot", image(digest), 5, quiet)
    assert api.traffic("demo-bot") == {"3": 100, "2": 0}
    assert sorted(v["version"] for v in api.versions("demo-bot")) == ["2", "3"]  # keep_previous: 1
    with pytest.raises(DeployError, match="nothing staged"):
        h.swap("bot", quiet)


def test_endpoint_of_a_missing_side_is_a_clear_error(world: World) -> None:
    h, _ = host(world)
    with pytest.raises(DeployError, match="not deployed"):
        h.endpoint("bot", "live")
    h.deploy("bot", image(D1), 5, quiet)
    with pytest.raises(DeployError, match="no staged version"):
        h.endpoint("bot", "staged")


def test_connections_come_from_provisioned_outputs_into_a_copy_of_the_service(tmp_path: Path) -> None:
    from genaiops_cli.core.environment import open_environment
    from genaiops_cli.core.provisioning import ProvisionedState
    from genaiops_cli.errors import ProvisionError

    (tmp_path / "src" / "agent").mkdir(parents=True)
    text = MANIFEST.replace(
        "    ingress: {port: 8080, health: /healthz}\n",
        "    ingress: {port: 8080, health: /healthz}\n    connections:\n"
        "      AZURE_AI_PROJECT_ENDPOINT: foundry.project_endpoint\n"
        "      AZURE_AI_MODEL_DEPLOYMENT_NAME: foundry.model_deployment\n",
    )
    (tmp_path / "genaiops.yaml").write_text(text)
    manifest = load_manifest(tmp_path / "genaiops.yaml")
    outputs = {"foundryProjectEndpoint": PROJECT, "modelDeploymentName": "gpt-4o-mini"}
    state = ProvisionedState("prod", "rg-prod", "genaiops-prod", outputs=outputs)
    env = open_environment(manifest, "prod", cloud=None, host_factories={}, provisioned=state)  # type: ignore[arg-type]
    assert env.resolved.services["agent"].env == {
        "AZURE_AI_PROJECT_ENDPOINT": PROJECT,
        "AZURE_AI_MODEL_DEPLOYMENT_NAME": "gpt-4o-mini",
    }
    assert manifest.environment("prod").services["agent"].env == {}, "the manifest is not edited"
    with pytest.raises(ProvisionError) as missing:
        open_environment(manifest, "prod", cloud=None, host_factories={}, provisioned=None)  # type: ignore[arg-type]
    assert missing.value.code == "connection_unavailable" and "genaiops provision -e prod" in str(
        missing.value.hint
    )


def test_remove_deletes_the_agent_a_failing_first_release_created(world: World) -> None:
    """A first version that failed the gates has no previous to roll back to: the agent this deploy
    created is deleted, so nothing of it serves; removing it again is not an error."""
    h, api = host(world)
    outcome = h.deploy("bot", image(D1), 5, quiet)
    assert outcome.action == "created" and h.current("bot").deployed
    with pytest.raises(DeployError):
        h.rollback("bot", 5, quiet)
    assert h.remove("bot", quiet) == {"service": "bot", "app": outcome.app, "removed": True}
    assert outcome.app not in api.agents and not h.current("bot").deployed
    assert h.remove("bot", quiet)["removed"] is False
