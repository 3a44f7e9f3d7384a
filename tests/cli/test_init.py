"""`genaiops init`: scaffolds a valid project and never overwrites without --force."""

from __future__ import annotations

from pathlib import Path

from genaiops_cli.errors import ExitCode

from .helpers import run_cli


def test_init_scaffolds_a_valid_project_and_protects_files(tmp_path: Path) -> None:
    target = tmp_path / "agent"
    first = run_cli("-o", "json", "init", str(target))
    assert first.code == 0, first.stderr
    files = first.json()["result"]["files"]
    assert "genaiops.yaml" in files and "src/agent/Dockerfile" in files and "data/eval.jsonl" in files
    assert run_cli("validate", cwd=target).code == 0

    (target / "genaiops.yaml").write_text("# mine\n")
    again = run_cli("-o", "json", "init", str(target))
    assert again.code == ExitCode.USAGE
    assert "--force" in again.json()["error"]["hint"]
    assert (target / "genaiops.yaml").read_text() == "# mine\n", "nothing is overwritten without --force"

    forced = run_cli("-o", "json", "init", str(target), "--force")
    assert forced.code == 0
    assert "genaiops.yaml" in forced.json()["result"]["overwritten"]


def test_unknown_template_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli("-o", "json", "init", str(tmp_path), "--template", "nope")
    assert run.code == ExitCode.USAGE
    assert "agent" in run.json()["error"]["hint"]
