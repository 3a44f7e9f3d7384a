"""Blue/green on Container Apps in the stand-in with real containers (issue: deploy with blue/green).

One story, in order: v1 live → v2 staged (green URL answers v2, app URL v1) → swap → rollback →
a crashing v3 is refused with traffic untouched → a v4 failing its smoke check is not swapped."""

from __future__ import annotations

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, own_project


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    # its own resource group and registry: the story expects to create the app, and test_promote
    # promotes the same app into the shared staging (module order must not matter)
    return own_project(sandbox, tmp_path_factory.mktemp("bluegreen"), ("staging",), prefix="bg")


SETUP = ("--force", "--reason", "test setup")


def version_at(url: str) -> str:
    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.http import http_client

    target = target_for("sandbox", None)
    with http_client(resolve=target.resolve, ca_bundle=target.ca_bundle, timeout=10) as client:
        response = client.get(url.rstrip("/") + "/version")
        response.raise_for_status()
        return str(response.json()["version"])


def set_version(project: Project, old: str, new: str) -> None:
    project.edit("src/agent/app/server.py", f'"AGENT_VERSION", "{old}"', f'"AGENT_VERSION", "{new}"')


def ship(project: Project) -> dict:
    built = project.run("build", "--push", "-e", "staging")
    assert built.code == 0, built.stderr
    # --force: the first revision goes live at once and would run staging's gates (not this story's
    # subject: the swaps below are gated); recorded as an override
    run = project.run("-o", "json", "deploy", "-e", "staging", "--timeout", "60", *SETUP)
    assert run.code == 0, run.stderr + run.stdout
    return run.json()["result"]["deployments"][0]


def status(project: Project) -> dict:
    run = project.run("-o", "json", "status", "-e", "staging")
    assert run.code == 0, run.stderr
    return run.json()["result"]["services"][0]


def test_blue_green_story(project: Project) -> None:
    v1 = ship(project)
    assert v1["action"] == "created"
    app_url = v1["app_url"]
    assert version_at(app_url) == "1.0.0"

    again = project.run("-o", "json", "deploy", "-e", "staging")
    assert again.json()["result"]["deployments"][0]["action"] == "unchanged", "re-running changes nothing"

    set_version(project, "1.0.0", "2.0.0")
    v2 = ship(project)
    assert v2["action"] == "staged" and v2["label"] == "green"
    assert v2["label_url"].startswith("https://contoso-support-agent---green.")
    assert version_at(v2["label_url"]) == "2.0.0"
    assert version_at(app_url) == "1.0.0", "staging a release moves no traffic"
    st = status(project)
    weights = {r["name"]: r["traffic"] for r in st["revisions"]}
    assert weights[st["live"]] == 100 and weights[st["staged"]] == 0
    assert st["staged"] == v2["revision"]

    smoke = project.run("-o", "json", "smoke", "-e", "staging", "--label", "staged")
    assert smoke.code == 0 and smoke.json()["result"]["passed"] is True

    swap = project.run("-o", "json", "swap", "-e", "staging")
    assert swap.code == 0, swap.stderr
    assert version_at(app_url) == "2.0.0"
    st = status(project)
    assert st["live"] == v2["revision"] and st["previous"] == v1["revision"]
    old = next(r for r in st["revisions"] if r["name"] == v1["revision"])
    assert old["active"] and old["traffic"] == 0 and old["label"] == "blue", "old side kept warm, labelled"

    rollback = project.run("-o", "json", "-y", "rollback", "-e", "staging")
    assert rollback.code == 0, rollback.stderr
    assert version_at(app_url) == "1.0.0"
    assert status(project)["live"] == v1["revision"]

    # v3 crashes at start: reported with its reason, deactivated, traffic untouched
    project.edit(
        "src/agent/app/server.py", "def main() -> None:\n", "def main() -> None:\n    raise SystemExit(3)\n"
    )
    assert project.run("build", "--push", "-e", "staging").code == 0
    crash = project.run("-o", "json", "deploy", "-e", "staging", "--timeout", "60")
    assert crash.code == ExitCode.DEPLOY
    assert "exit" in crash.json()["error"]["message"].lower()
    assert version_at(app_url) == "1.0.0"
    st = status(project)
    assert st["live"] == v1["revision"]
    crashed = [r for r in st["revisions"] if r["name"] not in (v1["revision"], v2["revision"])]
    assert crashed and not crashed[0]["active"] and crashed[0]["traffic"] == 0
    project.edit(
        "src/agent/app/server.py", "def main() -> None:\n    raise SystemExit(3)\n", "def main() -> None:\n"
    )

    # v4 runs but fails its smoke check: staging has gates, so swap runs them as a promotion would,
    # refuses (exit 9, the smoke gate named) and traffic stays
    project.edit(
        "src/agent/app/knowledge.json", "refunds take 5 business days", "refunds take 10 business days"
    )
    v4 = ship(project)
    assert v4["action"] == "staged"
    refused = project.run("-o", "json", "swap", "-e", "staging")
    assert refused.code == ExitCode.GATE_FAILED, refused.stdout + refused.stderr
    assert "smoke" in refused.json()["error"]["message"]
    assert version_at(app_url) == "1.0.0"
    assert status(project)["live"] == v1["revision"]


def test_faults_on_arm_writes_are_absorbed(project: Project) -> None:
    """429 with Retry-After and 500 on the container app write: the SDK retries, deploy succeeds."""
    from genaiops_sandbox.faults import FaultInjector
    from genaiops_sandbox.profile import Profile

    faults = FaultInjector(Profile.load(project.sandbox.state_dir))
    set_version(project, "2.0.0", "5.0.0")
    try:
        faults.add("PUT", r"/containerApps/contoso-support-agent$", "429", count=1, retry_after=1)
        faults.add("PATCH", r"/containerApps/contoso-support-agent$", "500", count=1)
        faults.add("GET", r"/revisions/", "drop", count=1)
        deployed = ship(project)
    finally:
        faults.clear()
    assert deployed["action"] == "staged"
    assert version_at(deployed["label_url"]) == "5.0.0"
