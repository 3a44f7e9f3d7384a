"""A revision that failed for a transient reason recovers (issue 14, item 6): revision names are
content hashes, so re-deploying the same release lands on the same failed revision — which must be
restarted, not reported failed forever. Also `genaiops restart` of the live revision, over the real
Revisions restart API of the stand-in."""

from __future__ import annotations

import time

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, make_project

DEPENDENCY_DOWN_SECONDS = 45  # the image refuses to start until then: a dependency that is down


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = make_project(sandbox, tmp_path_factory.mktemp("restart"), ("dev",))
    # its own app name: the session's stand-in is shared with the other stories
    project.edit("genaiops.yaml", "name: contoso-support\n", "name: contoso-restart\n")
    return project


def test_a_transient_failure_recovers_on_redeploy_and_restart_keeps_traffic(project: Project) -> None:
    up_at = time.time() + DEPENDENCY_DOWN_SECONDS
    project.edit(
        "src/agent/app/server.py",
        "def main() -> None:\n",
        "def main() -> None:\n"
        "    import time\n\n"
        f"    if time.time() < {up_at}:\n"
        '        raise SystemExit("dependency not reachable yet")\n',
    )
    assert project.run("build", "--push", "-e", "dev").code == 0
    assert time.time() < up_at - 5, "the build outlasted the simulated outage; raise DEPENDENCY_DOWN_SECONDS"

    failed = project.run("-o", "json", "deploy", "-e", "dev", "--timeout", "60")
    assert failed.code == ExitCode.DEPLOY, failed.stdout + failed.stderr
    error = failed.json()["error"]
    assert "re-run the same deploy" in error["hint"] and "fix the image" in error["hint"]

    time.sleep(max(0.0, up_at - time.time()) + 1)  # the dependency is back
    again = project.run("-o", "json", "deploy", "-e", "dev", "--timeout", "60")
    assert again.code == 0, again.stdout + again.stderr
    deployed = again.json()["result"]["deployments"][0]
    status = project.run("-o", "json", "status", "-e", "dev").json()["result"]["services"][0]
    assert status["live"] == deployed["revision"]
    live = next(r for r in status["revisions"] if r["name"] == deployed["revision"])
    assert (live["traffic"], live["health_state"]) == (100, "Healthy")

    restarted = project.run("-o", "json", "restart", "-e", "dev", "--timeout", "60")
    assert restarted.code == 0, restarted.stdout + restarted.stderr
    assert restarted.json()["result"]["restarts"][0] == {
        "service": "agent",
        "app": "contoso-restart-agent",
        "revision": deployed["revision"],
        "role": "live",
    }
    after = project.run("-o", "json", "status", "-e", "dev").json()["result"]["services"][0]
    assert after["live"] == deployed["revision"]
    assert next(r for r in after["revisions"] if r["name"] == deployed["revision"])["traffic"] == 100

    unknown = project.run(
        "-o", "json", "restart", "-e", "dev", "agent", "--revision", "contoso-restart-agent--nope"
    )
    assert unknown.code == ExitCode.USAGE and "no revision" in unknown.json()["error"]["message"]
