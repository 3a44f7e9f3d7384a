"""Batch inference as a Container Apps job (issue 17, item 3), as one story in the stand-in: a
scheduled job built, deployed in dev (idempotent), run with `job run --wait` and read back with
`job logs`; promoted by digest to staging (the same digest recorded there); its cron starts runs by
itself (an every-minute schedule in dev, and the scheduler's tick for 02:00 in staging); a failing
run exits 7 with its log tail; rollback returns to the previous digest."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from genaiops_cli.errors import ExitCode

from .conftest import BASE_IMAGE, Project, Sandbox

MANIFEST = """version: 1
name: contoso-jobs
services:
  scorer:
    build: {context: src/scorer, args: {BASE_IMAGE: "${BASE_IMAGE}"}}
    repository: contoso/scorer
    host: containerapp-job
    trigger: {type: schedule, cron: "0 2 * * *", replica_timeout: 120}
    resources: {cpu: 0.25, memory: 0.5Gi}
    env: {ROWS: "3"}
environments:
  dev:
    cloud: sandbox
    subscription: 00000000-0000-0000-0000-000000000000
    resource_group: rg-jobs-dev
    location: eastus2
    registry: crjobsdev
    containerapps_environment: cae-jobs-dev
    gates: [smoke]                # a job has no smoke checks: evidence that the gates ran, nothing more
    services:
      scorer: {trigger: {cron: "* * * * *"}}
  staging:
    cloud: sandbox
    subscription: 00000000-0000-0000-0000-000000000000
    resource_group: rg-jobs-staging
    location: eastus2
    registry: crjobsstaging
    containerapps_environment: cae-jobs-staging
    promote_from: dev
"""
SCORER = """import os, sys
rows = int(os.environ.get("ROWS", "1"))
for i in range(rows):
    print(f"scored row {i} with VERSION", flush=True)
print(f"batch done: {rows} rows by {os.environ.get('CONTAINER_APP_JOB_EXECUTION_NAME')}", flush=True)
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""
DOCKERFILE = 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY score.py /score.py\nCMD ["python3", "/score.py"]\n'


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    from genaiops_cli.core.cloud import target_for
    from tests.e2e.infra import ensure_environment

    root = tmp_path_factory.mktemp("jobs") / "project"
    (root / "src" / "scorer").mkdir(parents=True)
    (root / "genaiops.yaml").write_text(MANIFEST)
    (root / "src" / "scorer" / "Dockerfile").write_text(DOCKERFILE)
    (root / "src" / "scorer" / "score.py").write_text(SCORER.replace("VERSION", "v1"))
    for env in ("dev", "staging"):
        ensure_environment(
            target_for("sandbox", None), f"rg-jobs-{env}", "eastus2", f"crjobs{env}", f"cae-jobs-{env}"
        )
    yield Project(root, sandbox)
    # the every-minute schedule would keep starting runs for the rest of the session: delete the jobs
    from genaiops_cli.providers.azure import clients

    apps = clients.container_apps(target_for("sandbox", None))
    for env in ("dev", "staging"):
        apps.jobs.begin_delete(f"rg-jobs-{env}", "contoso-jobs-scorer").result()


def ok(run) -> dict:
    assert run.code == 0, run.stderr + run.stdout
    return run.json()["result"]


def job_status(project: Project, env: str) -> dict:
    return ok(project.run("-o", "json", "job", "status", "-e", env, "scorer"))


def test_a_scheduled_job_ships_runs_and_promotes_by_digest(project: Project, sandbox: Sandbox) -> None:
    assert project.run("build", "--push", "-e", "dev", env={"BASE_IMAGE": BASE_IMAGE}).code == 0
    first = ok(project.run("-o", "json", "deploy", "-e", "dev"))["deployments"][0]
    assert first["action"] == "created" and "@sha256:" in first["image"]
    deployed_at = time.monotonic()
    again = ok(project.run("-o", "json", "deploy", "-e", "dev"))["deployments"][0]
    assert (again["action"], again["revision"]) == ("unchanged", first["revision"])  # no write

    # a manual run, waited for: exit 0, and its output through the log stream
    run = ok(project.run("-o", "json", "job", "run", "-e", "dev", "scorer", "--wait", "--timeout", "120"))
    assert run["result"]["status"] == "Succeeded" and run["execution"].startswith("contoso-jobs-scorer-")
    logs = ok(project.run("-o", "json", "job", "logs", "-e", "dev", "scorer", run["execution"]))
    text = [line["text"] for part in logs["replicas"] for line in part["lines"]]
    assert "scored row 2 with v1" in text and f"batch done: 3 rows by {run['execution']}" in text
    plain = project.run("job", "logs", "-e", "dev", "scorer", run["execution"])
    assert plain.code == 0 and "batch done: 3 rows" in plain.stdout

    # promotion copies the digest and writes the job in staging (after its gates)
    plan = ok(project.run("-o", "json", "plan", "-e", "staging"))["services"][0]
    assert plan["to_digest"] == first["image"].split("@", 1)[1] and "next execution" in plan["traffic"]
    promoted = project.run("-o", "json", "-y", "promote", "--to", "staging", "--timeout", "120")
    assert promoted.code == 0, promoted.stderr + promoted.stdout
    dev_status = ok(project.run("-o", "json", "status", "-e", "dev"))["services"][0]
    staging_status = ok(project.run("-o", "json", "status", "-e", "staging"))["services"][0]
    digest = first["image"].split("@", 1)[1]
    assert staging_status["revisions"][0]["image"].endswith("@" + digest)
    assert dev_status["revisions"][0]["image"] == first["image"]
    assert staging_status["revisions"][0]["image"].split("/")[0] != first["image"].split("/")[0]
    assert staging_status["release"] and staging_status["schedule"] == "0 2 * * *"
    history = ok(project.run("-o", "json", "history", "-e", "staging"))
    assert digest in str(history)

    # staging's cron (02:00 UTC) fires through the scheduler's own tick, for that minute, once
    admin = f"{project.sandbox.profile.arm_endpoint}/sandbox/jobs/tick"
    ca = ssl.create_default_context(cafile=project.sandbox.profile.ca_bundle)
    for _ in range(2):
        fired = httpx.post(admin, json={"at": "2026-12-06T02:00:30Z"}, verify=ca).json()["started"]
    assert fired == []  # the second tick in the same minute starts nothing; the first did
    assert len(job_status(project, "staging")["executions"]) == 1

    # dev's every-minute cron starts a run by itself (the scheduler thread, real clock)
    deadline = deployed_at + 75
    while time.monotonic() < deadline:
        mine = {run["execution"]}
        if [e for e in job_status(project, "dev")["executions"] if e["name"] not in mine]:
            break
        time.sleep(3)
    else:
        pytest.fail("the every-minute schedule started no execution in 75 s")


def test_a_failing_run_exits_7_and_rollback_returns_to_the_previous_digest(project: Project) -> None:
    before = ok(project.run("-o", "json", "status", "-e", "dev"))["services"][0]["revisions"][0]["image"]
    (project.root / "src/scorer/score.py").write_text(SCORER.replace("VERSION", "v2"))
    project.root.joinpath("genaiops.yaml").write_text(
        MANIFEST.replace('env: {ROWS: "3"}', 'env: {ROWS: "1", EXIT_CODE: "3"}')
    )
    assert project.run("build", "--push", "-e", "dev", env={"BASE_IMAGE": BASE_IMAGE}).code == 0
    assert ok(project.run("-o", "json", "deploy", "-e", "dev"))["deployments"][0]["action"] == "live"

    failed = project.run("-o", "json", "job", "run", "-e", "dev", "scorer", "--wait", "--timeout", "120")
    assert failed.code == ExitCode.DEPLOY, failed.stdout + failed.stderr
    error = failed.json()["error"]
    assert error["code"] == "job_failed" and "Failed" in error["message"]
    assert "scored row 0 with v2" in error["details"]["log_tail"]

    swap = project.run("-o", "json", "swap", "-e", "dev", "scorer")
    assert swap.code == ExitCode.DEPLOY and "nothing to swap" in swap.json()["error"]["message"]

    ok(project.run("-o", "json", "-y", "rollback", "-e", "dev"))
    after = ok(project.run("-o", "json", "status", "-e", "dev"))["services"][0]["revisions"][0]["image"]
    assert after == before
    Path(project.root / "genaiops.yaml").write_text(MANIFEST)
