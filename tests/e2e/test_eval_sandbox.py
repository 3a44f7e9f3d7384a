"""Evaluation gates against deployed sides in the stand-in: the staged (green) revision is scored and
compared row by row with the live one through their label URLs."""

from __future__ import annotations

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, make_project


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    proj = make_project(sandbox, tmp_path_factory.mktemp("evalsb"), ("staging",))
    assert proj.run("build", "--push", "-e", "staging").code == 0
    # v1 live: a first revision would run staging's gates now; they are what the tests below run
    assert proj.run("deploy", "-e", "staging", "--force", "--reason", "test setup").code == 0
    return proj


def stage(project: Project) -> None:
    run = project.run("-o", "json", "deploy", "-e", "staging", "--timeout", "60")
    assert run.code == 0, run.stderr
    assert run.json()["result"]["deployments"][0]["action"] == "staged"


def test_regressed_candidate_fails_quality_and_safety(project: Project) -> None:
    project.edit("genaiops.yaml", "LOG_LEVEL: info", "LOG_LEVEL: info\n      AGENT_VARIANT: regressed")
    stage(project)
    quality = project.run("-o", "json", "eval", "quality", "-e", "staging", "--label", "staged")
    assert quality.code == ExitCode.GATE_FAILED, quality.stderr
    result = quality.json()
    assert result["ok"] is False
    text = quality.stdout
    assert "token_f1" in text and "baseline" in text
    safety = project.run("-o", "json", "eval", "safety", "-e", "staging", "--label", "staged")
    assert safety.code == ExitCode.GATE_FAILED
    assert "attack_success_rate" in safety.stdout
    project.edit("genaiops.yaml", "LOG_LEVEL: info\n      AGENT_VARIANT: regressed", "LOG_LEVEL: info")


def test_good_candidate_passes_against_live(project: Project, tmp_path) -> None:
    project.edit("src/agent/app/server.py", '"AGENT_VERSION", "1.0.0"', '"AGENT_VERSION", "1.1.0"')
    assert project.run("build", "--push", "-e", "staging").code == 0
    stage(project)
    junit = tmp_path / "eval.xml"
    run = project.run(
        "-o",
        "json",
        "eval",
        "quality",
        "safety",
        "-e",
        "staging",
        "--label",
        "staged",
        "--junit",
        str(junit),
        "--report",
        str(tmp_path / "report"),
    )
    assert run.code == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert junit.exists() and "<testsuite" in junit.read_text()
    assert any((tmp_path / "report").iterdir()), "per-row results are kept for `eval diff`"
