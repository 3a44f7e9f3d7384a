"""The ledger against what runs, in the stand-in (issue 14, item 1): traffic moved outside genaiops
(as the portal or `az containerapp ingress traffic set` would) shows as drift in `genaiops status`;
`genaiops repair` makes the records name what runs, moves no traffic, and records itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Project, Sandbox, make_project

APP = "contoso-reconcile-agent"


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = make_project(sandbox, tmp_path_factory.mktemp("reconcile"), ("dev",))
    project.edit("genaiops.yaml", "name: contoso-support\n", "name: contoso-reconcile\n")
    # blue/green in dev: each swap runs dev's gates and is recorded in the ledger (history, LKG)
    project.edit(
        "genaiops.yaml", "identity: id-dev\n    strategy: direct", "identity: id-dev\n    strategy: bluegreen"
    )
    return project


def ok(run) -> dict:
    assert run.code == 0, run.stdout + run.stderr
    return run.json()["result"]


def ship(project: Project, version: str) -> str:
    project.edit("src/agent/app/server.py", '"AGENT_VERSION", "1.0.0"', f'"AGENT_VERSION", "{version}"')
    assert project.run("build", "--push", "-e", "dev").code == 0
    deployed = ok(project.run("-o", "json", "deploy", "-e", "dev", "--timeout", "60"))["deployments"][0]
    if deployed["action"] == "staged":
        ok(project.run("-o", "json", "swap", "-e", "dev"))
    project.edit("src/agent/app/server.py", f'"AGENT_VERSION", "{version}"', '"AGENT_VERSION", "1.0.0"')
    return str(deployed["revision"])


def move_traffic_by_hand(revision: str) -> None:
    from genaiops_cli.core import containerapps as ca
    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure.containerapps import ContainerAppsArm

    arm = ContainerAppsArm(target_for("sandbox", None), "rg-dev")
    app = arm.get_app(APP) or {}
    # only the traffic: the tags (the release genaiops recorded) stay as they were
    arm.patch_app(
        APP, ca.traffic_patch(app["location"], [{"revisionName": revision, "weight": 100}], {}, app["tags"])
    )


def test_drift_is_flagged_and_repair_records_what_runs(project: Project) -> None:
    ship(project, "1.0.0")  # the first release goes live at deploy, unrecorded
    first = ship(project, "2.0.0")  # swapped through dev's gates: recorded
    second = ship(project, "3.0.0")
    clean = ok(project.run("-o", "json", "status", "-e", "dev"))
    assert clean["drift"] == [] and clean["services"][0]["live"] == second

    move_traffic_by_hand(first)
    drifted = ok(project.run("-o", "json", "status", "-e", "dev"))
    assert drifted["services"][0]["live"] == first
    assert {d["record"] for d in drifted["drift"]} == {
        "release_tag",
        "history",
        "last_known_good",
        "previous_release_tag",  # the app's tag still names the release before `second`
    }
    text = project.run("status", "-e", "dev")
    assert "drift:" in text.stdout and "genaiops repair -e dev" in text.stdout

    fixed = ok(project.run("-o", "json", "repair", "-e", "dev"))
    assert set(fixed["repaired"]) == {
        "release_tag:agent",
        "previous_release_tag:agent",
        "history",
        "last_known_good",
    }
    after = ok(project.run("-o", "json", "status", "-e", "dev"))
    assert after["drift"] == [] and after["services"][0]["live"] == first, "repair moved no traffic"
    history = ok(project.run("-o", "json", "history", "-e", "dev"))
    assert history["entries"][0]["operation"] == "repair"
    assert history["entries"][0]["release"] == fixed["release"]
    assert ok(project.run("-o", "json", "repair", "-e", "dev"))["repaired"] == []

    # the rollback relies on the repaired previous release: it records the release that then runs
    back = ok(project.run("-o", "json", "-y", "rollback", "-e", "dev", "--timeout", "60"))
    assert back["rollbacks"][0]["live"] == second
    history = ok(project.run("-o", "json", "history", "-e", "dev"))
    entry = history["entries"][0]
    assert entry["operation"] == "rollback" and entry["previous_release"] == fixed["release"]
    assert entry["release"] == drifted["drift"][0]["says"], "the release `second` was recorded with"
    assert ok(project.run("-o", "json", "status", "-e", "dev"))["drift"] == []


PROBE = """
import json, sys
sys.argv = ["genaiops", "-o", "json", *sys.argv[1:]]
try:
    from genaiops_cli.cli import main
    main()
except SystemExit:
    pass
finally:
    loaded = sorted(m for m in sys.modules if m.startswith("azure.mgmt.resource"))
    sys.__stderr__.write("\\nLOADED=" + json.dumps(loaded) + "\\n")
"""


def test_status_reads_the_app_once_and_loads_no_deployments_sdk(project: Project, sandbox: Sandbox) -> None:
    """Issue 18: status read the app twice, its live revision again, the managed environment and
    the provisioning deployment (importing azure-mgmt-resource-deployments) for nothing it shows."""
    ship(project, "1.0.0")
    log = sandbox.state_dir / "logs" / "sandbox.log"
    before = log.stat().st_size
    proc = probe("status", "-e", "dev", cwd=project.root)
    assert json.loads(proc.stdout)["result"]["services"][0]["deployed"] is True, proc.stderr
    assert loaded(proc) == []
    with log.open("rb") as f:
        f.seek(before)
        requests = [ln for ln in f.read().decode(errors="replace").splitlines() if "/subscriptions/" in ln]
    app = f"/containerApps/{APP} "
    assert sum(app in ln for ln in requests) == 1, requests
    assert sum(f"/containerApps/{APP}/revisions " in ln for ln in requests) == 1, requests
    assert not [ln for ln in requests if f"/containerApps/{APP}/revisions/" in ln], (
        "the list gives the live one"
    )
    assert not [ln for ln in requests if "/managedEnvironments/" in ln or "/deployments/" in ln], requests


def probe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def loaded(proc: subprocess.CompletedProcess[str]) -> list[str]:
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("LOADED=")][-1]
    return json.loads(line[len("LOADED=") :])


def test_reading_provisioned_outputs_loads_no_deployments_sdk(project: Project) -> None:
    """smoke opens the environment with its services wired (the template's telemetry reads the
    provisioning outputs: one ARM GET); that GET goes through azure-mgmt-core's pipeline, and
    azure-mgmt-resource-deployments (client, models, serializer) stays unloaded."""
    ship(project, "1.0.0")
    proc = probe("smoke", "-e", "dev", cwd=project.root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert loaded(proc) == []
