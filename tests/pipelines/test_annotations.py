"""CI annotations: manifest errors, failed smoke checks and gates point at the manifest line to fix,
as GitHub workflow commands (GITHUB_ACTIONS=true) or Azure Pipelines logging commands (TF_BUILD)."""

from __future__ import annotations

import io
from pathlib import Path

from genaiops_cli.core import ci_azure_pipelines as azp
from genaiops_cli.core.ci_annotations import Annotation, annotate
from genaiops_cli.core.manifest.locate import ManifestLocator
from genaiops_cli.core.smoke import CheckResult, annotations
from genaiops_cli.errors import ExitCode
from tests.cli.helpers import run_cli

from .helpers import SAMPLE, sample_repo

CI_VARIABLES = (
    "GITHUB_ACTIONS",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_WORKSPACE",
    "TF_BUILD",
    "BUILD_SOURCESDIRECTORY",
)


def broken_repo(tmp_path: Path) -> tuple[Path, int]:
    root = sample_repo(tmp_path)
    manifest = root / "genaiops.yaml"
    text = manifest.read_text()
    manifest.write_text(text.replace("strategy: direct", "strategy: sideways", 1))
    line = next(i for i, s in enumerate(manifest.read_text().splitlines(), 1) if "sideways" in s)
    return root, line


def clean_env(monkeypatch, **env: str) -> None:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_manifest_error_is_a_github_annotation_on_its_line(tmp_path: Path) -> None:
    root, line = broken_repo(tmp_path)
    (root / "sub").mkdir()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(root), "TF_BUILD": ""}
    run = run_cli("-o", "json", "validate", cwd=root / "sub", env=env)  # found walking up; path made relative
    assert run.code == ExitCode.MANIFEST
    assert run.json()["ok"] is False, "stdout stays one JSON document"
    assert f"::error file=genaiops.yaml,line={line},col=" in run.stderr, run.stderr
    plain = run_cli("validate", cwd=root, env={"GITHUB_ACTIONS": "", "TF_BUILD": ""})
    assert "::error" not in plain.stderr and "##vso" not in plain.stderr, "nothing outside CI"


def test_manifest_error_is_an_azure_pipelines_issue_on_its_line(tmp_path: Path) -> None:
    root, line = broken_repo(tmp_path)
    env = {"TF_BUILD": "True", "BUILD_SOURCESDIRECTORY": str(root), "GITHUB_ACTIONS": ""}
    run = run_cli("validate", cwd=root, env=env)
    assert run.code == ExitCode.MANIFEST
    assert f"##vso[task.logissue type=error;sourcepath=genaiops.yaml;linenumber={line};columnnumber=" in (
        run.stderr
    ), run.stderr
    assert "::error" not in run.stderr


def test_failed_smoke_check_points_at_its_line(monkeypatch, tmp_path: Path) -> None:
    clean_env(monkeypatch, GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(SAMPLE))
    results = {
        "agent": [
            CheckResult("health", "https://app/healthz", True, 200),
            CheckResult("answers-refunds", "https://app/chat", False, 200, failures=["$.answer: no match"]),
        ]
    }
    found = annotations(results, ManifestLocator.read(SAMPLE / "genaiops.yaml"), "staging")
    assert len(found) == 1
    line = next(
        i
        for i, s in enumerate((SAMPLE / "genaiops.yaml").read_text().splitlines(), 1)
        if "answers-refunds" in s
    )
    out = io.StringIO()
    assert annotate(found, out)
    assert out.getvalue() == (
        f"::error file=genaiops.yaml,line={line},title=smoke agent/answers-refunds failed::"
        "https://app/chat: $.answer: no match\n"
    )


def test_prod_override_of_a_smoke_list_is_found_in_the_environment(tmp_path: Path) -> None:
    root = sample_repo(
        tmp_path,
        lambda d: d["environments"]["prod"]["services"]["agent"].update(
            {
                "smoke": [
                    {
                        "name": "prod-only",
                        "request": {"method": "GET", "path": "/"},
                        "expect": {"status": 200},
                    }
                ]
            }
        ),
    )
    locator = ManifestLocator.read(root / "genaiops.yaml")
    lines = (root / "genaiops.yaml").read_text().splitlines()
    assert "prod-only" in lines[locator.smoke_check("agent", "prod-only", "prod") - 1]
    assert "health" in lines[locator.smoke_check("agent", "health", "staging") - 1]
    assert "token_f1" in lines[locator.gate("quality", "token_f1") - 1]
    assert "quality:" in lines[locator.gate("quality", "not-a-threshold") - 1]
    assert ManifestLocator.read(tmp_path / "missing.yaml").line("services") is None


def test_azure_logissue_escapes_and_uploads_the_summary(monkeypatch, tmp_path: Path) -> None:
    clean_env(monkeypatch, TF_BUILD="True", AGENT_TEMPDIRECTORY=str(tmp_path))
    a = Annotation("error", "100% wrong\nsecond line", title="gate", file="a;b].yaml", line=3, column=2)
    assert azp.logissue(a) == (
        "##vso[task.logissue type=error;sourcepath=a%3Bb%5D.yaml;linenumber=3;columnnumber=2]"
        "gate: 100%AZP25 wrong%0Asecond line"
    )
    out = io.StringIO()
    assert azp.upload_summary("### Smoke\n| a | b |", out)
    command = out.getvalue().strip()
    assert command.startswith("##vso[task.uploadsummary]")
    uploaded = Path(command.removeprefix("##vso[task.uploadsummary]"))
    assert uploaded.parent == tmp_path and uploaded.read_text() == "### Smoke\n| a | b |\n"
    monkeypatch.setenv("TF_BUILD", "")
    assert not azp.upload_summary("x", io.StringIO()) and not azp.emit([a], io.StringIO())
