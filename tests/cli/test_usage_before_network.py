"""Usage errors are found before any network call: with no stand-in running, a command that
reached for the network would fail with exit 5 (`sandbox_unavailable`), so exit 2 proves the order."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.cli.helpers import REPO, run_cli


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(REPO / "templates" / "agent", root)
    return root


CASES = {
    "unknown smoke label": ("smoke", "-e", "dev", "--label", "purple"),
    "negative deploy timeout": ("deploy", "-e", "dev", "--timeout", "-5"),
    "negative promote timeout": ("-y", "promote", "--to", "staging", "--timeout", "-1"),
    "negative smoke warmup": ("smoke", "-e", "dev", "--warmup", "-1"),
    "promote without --yes, non-interactive": ("promote", "--to", "staging"),
    "--force without --reason": ("deploy", "-e", "dev", "--force"),
    "--skip-smoke without --reason": ("swap", "-e", "dev", "--skip-smoke"),
    "bad dataset name": ("data", "push", "q a", "data/eval.jsonl", "-e", "dev"),
    "push of a file that is no dataset": ("data", "push", "qa", "genaiops.yaml", "-e", "dev"),
    "push of a missing folder": ("data", "push", "qa", "nowhere", "-e", "dev"),
    "bad dataset version": ("data", "show", "qa@v1", "-e", "dev"),
    "bad dataset reference to pull": ("data", "pull", "qa@", "out", "-e", "dev"),
    "batch evaluation without an environment": (
        "eval",
        "quality",
        "--url",
        "https://agent.example",
        "--batch",
    ),
    "zero batch shards": ("eval", "quality", "-e", "dev", "--batch", "--shards", "0"),
}


@pytest.mark.parametrize("args", list(CASES.values()), ids=list(CASES))
def test_usage_error_before_network(project: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    started = time.monotonic()
    run = run_cli(
        "-o", "json", *args, cwd=project, env={"GENAIOPS_SANDBOX_DIR": str(tmp_path / "no-sandbox")}
    )
    assert run.code == 2, run.stdout + run.stderr
    error = run.json()["error"]
    assert error["code"] == "usage_error" and error["hint"]
    assert time.monotonic() - started < 5


def test_direct_deploy_into_a_promoted_environment_is_refused(project: Path, tmp_path: Path) -> None:
    """prod receives releases by promotion: with strategy direct, a deploy would go live ungated."""
    manifest = project / "genaiops.yaml"
    text = manifest.read_text()
    prod = text.index("  prod:")
    manifest.write_text(text[:prod] + text[prod:].replace("strategy: bluegreen", "strategy: direct", 1))
    run = run_cli(
        "-o",
        "json",
        "deploy",
        "-e",
        "prod",
        cwd=project,
        env={"GENAIOPS_SANDBOX_DIR": str(tmp_path / "none")},
    )
    assert run.code == 2, run.stdout
    error = run.json()["error"]
    assert error["code"] == "gated_environment" and "promote --to prod" in error["hint"]


def test_a_malformed_dataset_is_refused_with_its_line_before_upload(project: Path, tmp_path: Path) -> None:
    (project / "data" / "bad.jsonl").write_text('{"question": "a"}\n{"question": \n')
    run = run_cli(
        "-o",
        "json",
        "data",
        "push",
        "qa",
        "data/bad.jsonl",
        "-e",
        "dev",
        cwd=project,
        env={"GENAIOPS_SANDBOX_DIR": str(tmp_path / "none")},
    )
    assert run.code == 3, run.stdout
    issue = run.json()["error"]["details"]["issues"][0]
    assert issue["file"].endswith("bad.jsonl") and issue["line"] == 2
