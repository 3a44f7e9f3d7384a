"""Hosted agents as the second host, end to end against the stand-in with the real azure-ai-projects
client: the foundry-agent sample (a hosted agent + a Container App from one image) provisioned in
dev/staging/prod; deploy, promote a mixed release dev → staging → prod by digest; a new version
staged at 0 %, smoke and eval against it (a session pins the version), shift, roll back in one
write; a failing version is exit 7 with traffic untouched; 429/500/drop faults absorbed."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import REPO, Project, Sandbox


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("foundry") / "project"
    shutil.copytree(REPO / "templates" / "foundry-agent", root)
    p = Project(root, sandbox)
    for env in ("dev", "staging", "prod"):
        p.edit("genaiops.yaml", f"resource_group: rg-fa-{env}\n", f"resource_group: rg-e2e-fa-{env}\n")
        done = p.run("-o", "json", "-y", "provision", "-e", env)
        assert done.code == 0, done.stderr + done.stdout
    return p


def ok(run: Any) -> dict:
    assert run.code == 0, run.stderr + run.stdout
    return run.json()["result"]


def services(project: Project, env: str) -> dict[str, dict]:
    return {s["service"]: s for s in ok(project.run("-o", "json", "status", "-e", env))["services"]}


def agent_answer(status: dict, session_version: str | None = None) -> dict:
    """One Responses call through the openai client azure-ai-projects hands out (optionally in a
    session pinned to a version): the response's metadata says which build answered."""
    import ssl

    from azure.ai.projects import AIProjectClient
    from azure.ai.projects.models import VersionRefIndicator
    from openai import DefaultHttpxClient

    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure import clients

    target = target_for("sandbox", None)
    endpoint = status["url"].split("/agents/")[0]
    client = AIProjectClient(
        endpoint, clients.credential(target), allow_preview=True, connection_verify=target.verify
    )
    http = DefaultHttpxClient(verify=ssl.create_default_context(cafile=target.ca_bundle))
    openai = client.get_openai_client(agent_name=status["app"], http_client=http)
    extra = {}
    if session_version:
        session = client.agents.create_session(
            status["app"], version_indicator=VersionRefIndicator(agent_version=session_version)
        )
        extra = {"agent_session_id": session.agent_session_id}
    reply = openai.responses.create(input="How long do refunds take?", extra_body=extra)
    assert "5 business days" in reply.output_text
    return dict(reply.metadata or {})


def version_env(status: dict) -> dict[str, str]:
    """The environment variables of the live version, as Foundry holds them."""
    from azure.ai.projects import AIProjectClient

    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure import clients

    target = target_for("sandbox", None)
    endpoint = status["url"].split("/agents/")[0]
    client = AIProjectClient(endpoint, clients.credential(target), connection_verify=target.verify)
    version = client.agents.get_version(status["app"], version_number(status, "live"))
    return dict(version.definition.environment_variables or {})


def version_number(status: dict, role: str) -> str:
    return next(r["version"] for r in status["revisions"] if r["role"] == role)


def digest(status: dict, role: str = "live") -> str:
    return next(r["image"] for r in status["revisions"] if r["role"] == role).split("@")[1]


def test_mixed_release_promoted_by_digest_then_staged_shifted_and_rolled_back(project: Project) -> None:
    ok(project.run("-o", "json", "build", "--push", "-e", "dev", timeout=600))
    first = ok(project.run("-o", "json", "deploy", "-e", "dev"))["deployments"]
    assert {d["service"]: d["action"] for d in first} == {"agent": "created", "web": "created"}
    again = ok(project.run("-o", "json", "deploy", "-e", "dev"))["deployments"]
    assert {d["action"] for d in again} == {"unchanged"}, "the same release creates no new version"
    assert ok(project.run("-o", "json", "smoke", "-e", "dev"))["passed"] is True
    wired = version_env(services(project, "dev")["agent"])
    assert wired["AZURE_AI_PROJECT_ENDPOINT"] == services(project, "dev")["agent"]["url"].split("/agents/")[0]
    assert wired["AZURE_AI_MODEL_DEPLOYMENT_NAME"], "connections come from the provisioned outputs"
    shown = ok(project.run("-o", "json", "config", "show", "-e", "dev"))
    assert shown["services"]["web"]["connections"]["AZURE_AI_PROJECT_ENDPOINT"] == "foundry.project_endpoint"

    ok(project.run("-o", "json", "-y", "promote", "--from", "dev", "--to", "staging", timeout=600))
    ok(project.run("-o", "json", "-y", "promote", "--from", "staging", "--to", "prod", timeout=600))
    dev, prod = services(project, "dev"), services(project, "prod")
    assert digest(dev["agent"]) == digest(prod["agent"]) == digest(prod["web"]), "one digest, both hosts"
    assert prod["agent"]["release"] and prod["agent"]["live"]
    assert agent_answer(prod["agent"])["version"] == "1.0.0"

    # v1.1 staged at 0 % in staging: smoke and eval reach it through a pinned session, users don't
    project.edit("src/agent/app/server.py", '"AGENT_VERSION", "1.0.0"', '"AGENT_VERSION", "1.1.0"')
    ok(project.run("-o", "json", "build", "--push", "-e", "staging", timeout=600))
    staged = {
        d["service"]: d for d in ok(project.run("-o", "json", "deploy", "-e", "staging"))["deployments"]
    }
    assert staged["agent"]["action"] == "staged" and staged["agent"]["label"] in ("blue", "green")
    st = services(project, "staging")["agent"]
    traffic = {r["role"]: r["traffic"] for r in st["revisions"] if r["role"]}
    assert traffic == {"live": 100, "staged": 0}
    assert agent_answer(st)["version"] == "1.0.0", "users still get the live version"
    assert agent_answer(st, version_number(st, "staged"))["version"] == "1.1.0"
    smoke = ok(project.run("-o", "json", "smoke", "-e", "staging", "--label", "staged", "agent"))
    assert smoke["passed"] is True and smoke["label"] == "staged"
    evaluated = project.run(
        "-o", "json", "eval", "quality", "-e", "staging", "--label", "staged", "--baseline", "none"
    )
    assert evaluated.code == 0, evaluated.stdout[-2000:]

    swapped = ok(project.run("-o", "json", "swap", "-e", "staging", "agent"))
    # the agent alone swapped: the entry names what both services run (v1.1 agent, v1.0 web)
    assert ok(project.run("-o", "json", "status", "-e", "staging"))["drift"] == []
    entry = ok(project.run("-o", "json", "history", "-e", "staging"))["entries"][0]
    assert entry["operation"] == "swap" and entry["release"] == swapped["release"]
    assert set(entry["digests"]) == {"agent", "web"} and entry["digests"]["agent"] != entry["digests"]["web"]
    st = services(project, "staging")["agent"]
    assert st["live"] == staged["agent"]["revision"] and agent_answer(st)["version"] == "1.1.0"

    back = ok(project.run("-o", "json", "-y", "rollback", "-e", "staging", "agent"))
    st = services(project, "staging")["agent"]
    assert st["live"] != staged["agent"]["revision"] and agent_answer(st)["version"] == "1.0.0"
    assert back
    # the rollback of the agent alone is recorded with what every service runs: no drift after it
    assert ok(project.run("-o", "json", "status", "-e", "staging"))["drift"] == []
    entry = ok(project.run("-o", "json", "history", "-e", "staging"))["entries"][0]
    assert (entry["operation"], entry["status"]) == ("rollback", "live")
    assert set(entry["digests"]) == {"agent", "web"} and all(entry["releases"].values())


def test_a_failing_version_is_exit_7_and_traffic_stays(project: Project) -> None:
    before = services(project, "staging")["agent"]
    project.edit(
        "genaiops.yaml",
        "    env:\n      LOG_LEVEL: info\n",
        "    env:\n      LOG_LEVEL: info\n      PORT: not-a-port\n",
    )
    try:
        failed = project.run("-o", "json", "deploy", "-e", "staging", "agent", "--timeout", "120")
    finally:
        project.edit("genaiops.yaml", "      PORT: not-a-port\n", "")
    assert failed.code == ExitCode.DEPLOY, failed.stdout
    error = failed.json()["error"]
    assert error["code"] == "version_failed" and "exited" in error["message"], error
    after = services(project, "staging")["agent"]
    assert after["live"] == before["live"] and {r["name"] for r in after["revisions"]} == {
        r["name"] for r in before["revisions"]
    }, "the failed version is gone and traffic did not move"
    assert agent_answer(after)["version"] == "1.0.0"


def test_faults_on_the_foundry_data_plane_are_absorbed(project: Project, sandbox: Sandbox) -> None:
    from genaiops_sandbox.faults import FaultInjector

    ok(project.run("-o", "json", "build", "--push", "-e", "dev", timeout=600))  # v1.1 sources
    faults = FaultInjector(sandbox.profile)
    try:
        faults.add("POST", r"/api/projects/[^/]+/agents/[^/]+/versions$", "429", count=1, retry_after=0)
        faults.add("GET", r"/api/projects/[^/]+/agents/[^/]+$", "500", count=1)
        faults.add("GET", r"/api/projects/[^/]+/agents/[^/]+/versions/", "drop", count=1)
        done = ok(project.run("-o", "json", "deploy", "-e", "dev", "agent"))
        assert done["deployments"][0]["action"] == "live"
        assert faults.rules() == [], "every fault was met and retried through"
    finally:
        faults.clear()
    assert agent_answer(services(project, "dev")["agent"])["version"] == "1.1.0"
