"""The generated GitHub pipeline itself, run against the stand-in (issue 16): `genaiops pipeline init`
writes the workflows; their `run:` steps execute in order with the environment the workflows set
(tests/pipelines/runner.py). The PR, main and release workflows take the sample from source to
prod by digest; the regressed sample turns the PR and main runs red at the smoke step, with a
GitHub annotation on the failing check's line in genaiops.yaml, and prod keeps its release."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.pipelines.runner import run_workflow

from .conftest import BASE_IMAGE, REPO, Sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

ENVS = ("dev", "staging", "prod")


def project(sandbox: Sandbox, tmp: Path) -> Path:
    """The sample in a git work tree, on its own resource groups, registries and environments."""
    from genaiops_cli.core.cloud import target_for
    from tests.e2e.infra import ensure_environment

    root = tmp / "repo"
    shutil.copytree(REPO / "templates" / "agent", root)
    (root / ".git").mkdir()
    manifest = root / "genaiops.yaml"
    text = manifest.read_text().replace("name: contoso-support", "name: pipeline-demo")
    target = target_for("sandbox", None)
    for env in ENVS:
        text = (
            text.replace(f"rg-{env}\n", f"rg-pipe-{env}\n")
            .replace(f"registry: cr{env}\n", f"registry: crpipe{env}\n")
            .replace(f"cae-{env}\n", f"cae-pipe-{env}\n")
        )
        ensure_environment(target, f"rg-pipe-{env}", "eastus2", f"crpipe{env}", f"cae-pipe-{env}")
    manifest.write_text(text)
    return root


def smoke_check_line(manifest: Path, name: str) -> int:
    return next(i for i, line in enumerate(manifest.read_text().splitlines(), 1) if f"name: {name}" in line)


def test_generated_github_pipeline_promotes_and_blocks_a_regression(sandbox: Sandbox, tmp_path: Path) -> None:
    from tests.cli.helpers import run_cli

    root = project(sandbox, tmp_path)
    init = run_cli("pipeline", "init", "--provider", "github", cwd=root)
    assert init.code == 0, init.stderr
    workflows = root / ".github" / "workflows"
    # What the CI machine provides: the stand-in's profile (GENAIOPS_SANDBOX_DIR, set by the fixture)
    # and a base image the offline build can use (a repository variable on a real runner).
    machine = {**os.environ, "BASE_IMAGE": BASE_IMAGE}

    pr = run_workflow(workflows / "genaiops-pr.yml", root, machine)
    assert pr.ok, pr.log()
    skipped = {s.skipped.split(":")[0] for s in pr.steps if s.skipped}
    assert {"actions/checkout@v5", "azure/login@v3", "mikepenz/action-junit-report@v5"} <= skipped
    ran = [s.name for s in pr.steps if not s.skipped]
    assert ran[:3] == ["Reports directory", "Validate the manifest", "Unit tests"]
    assert "Evaluate quality in dev" in ran and "Evaluate safety in dev" in ran
    reports = root / "reports"
    for junit in ("smoke-dev.xml", "eval-quality.xml", "eval-safety.xml"):
        assert "<testsuites" in (reports / junit).read_text(), junit
    assert "answers-refunds" in pr.summary, "smoke results in the step summary"

    main = run_workflow(workflows / "genaiops-main.yml", root, machine)
    assert main.ok, main.log()
    staged = json.loads((reports / "promote-staging.json").read_text())["result"]
    assert staged["status"] == "live"

    release = run_workflow(workflows / "genaiops-release.yml", root, machine)
    assert release.ok, release.log()
    prod = json.loads((reports / "promote-prod.json").read_text())["result"]
    assert prod["status"] == "live" and prod["release"] == staged["release"], "the release staging passed"
    assert prod["services"]["agent"]["digest"] == staged["services"]["agent"]["digest"]

    # The regressed sample (as the quickstart makes it): same image, a configuration switch.
    manifest = root / "genaiops.yaml"
    good = manifest.read_text()
    manifest.write_text(good.replace("LOG_LEVEL: info", "LOG_LEVEL: info\n      AGENT_VARIANT: regressed", 1))
    line = smoke_check_line(manifest, "answers-refunds")
    for workflow in ("genaiops-pr.yml", "genaiops-main.yml"):
        red = run_workflow(workflows / workflow, root, machine)
        failed = red.failed
        assert failed is not None, red.log()
        # dev's gate runs at deploy: the regressed change never stays live, and the job ends there
        assert failed.name == "Deploy to dev" and failed.code == 9, red.log()
        assert f"::error file=genaiops.yaml,line={line},title=smoke agent/answers-refunds failed::" in (
            failed.output
        ), failed.output
        assert not any(s.name.startswith("Promote") and s.code is not None for s in red.steps)
    status = run_cli("-o", "json", "status", "-e", "prod", cwd=root)
    assert status.json()["result"]["services"][0]["live"] == prod["services"]["agent"]["revision"]
    manifest.write_text(good)


def test_generated_azure_pipeline_runs_and_reports_issues(sandbox: Sandbox, tmp_path: Path) -> None:
    """The Azure Pipelines PR pipeline's scripts, run as the agent would (TF_BUILD=True): green on the
    sample with reports and an uploaded summary; red on the regressed one with a logissue on the line."""
    from genaiops_cli.core.cloud import target_for
    from tests.cli.helpers import run_cli
    from tests.e2e.infra import ensure_environment
    from tests.pipelines.runner_azure import run_pipeline

    root = tmp_path / "repo"
    shutil.copytree(REPO / "templates" / "agent", root)
    (root / ".git").mkdir()
    manifest = root / "genaiops.yaml"
    manifest.write_text(
        manifest.read_text()
        .replace("name: contoso-support", "name: azp-demo")
        .replace("rg-dev\n", "rg-azp-dev\n")
        .replace("registry: crdev\n", "registry: crazpdev\n")
        .replace("cae-dev\n", "cae-azp-dev\n")
    )
    ensure_environment(target_for("sandbox", None), "rg-azp-dev", "eastus2", "crazpdev", "cae-azp-dev")
    assert run_cli("pipeline", "init", "--provider", "azure-pipelines", cwd=root).code == 0
    pipeline = root / ".azure-pipelines" / "genaiops-pr.yml"
    machine = {**os.environ, "BASE_IMAGE": BASE_IMAGE}
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE"):
        machine.pop(name, None)

    green = run_pipeline(pipeline, root, machine)
    assert green.ok, green.log()
    smoke = green.step("Smoke-test dev")
    assert "##vso[task.uploadsummary]" in smoke.output, "the smoke table on the run's summary page"
    assert (root / "reports" / "eval-quality.xml").exists()

    good = manifest.read_text()
    manifest.write_text(good.replace("LOG_LEVEL: info", "LOG_LEVEL: info\n      AGENT_VARIANT: regressed", 1))
    line = smoke_check_line(manifest, "answers-refunds")
    red = run_pipeline(pipeline, root, machine)
    failed = red.failed
    assert failed is not None and failed.name == "Deploy to dev" and failed.code == 9, red.log()
    assert (
        f"##vso[task.logissue type=error;sourcepath=genaiops.yaml;linenumber={line}]"
        "smoke agent/answers-refunds failed: "
    ) in failed.output, failed.output
    manifest.write_text(good)
