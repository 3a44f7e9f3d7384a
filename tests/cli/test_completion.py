"""Shell completion: scripts for the four shells, and values read from the manifest, cheaply."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import TEMPLATE_MANIFEST

HEAVY = ("azure", "docker", "openai", "httpx")


def complete(words: str, cwd: Path, shell: str = "bash") -> tuple[list[str], list[str]]:
    """What the shell would offer for `words` (the last word is the one being completed), and the
    heavy modules the completion process loaded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_GENAIOPS", "COMP_"))}
    if shell == "bash":
        env.update(
            _GENAIOPS_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(len(words.split(" ")) - 1)
        )
    else:
        env.update(_GENAIOPS_COMPLETE=f"complete_{shell}", _TYPER_COMPLETE_ARGS=words)
        env.update(
            _TYPER_COMPLETE_FISH_ACTION="get-args", _TYPER_COMPLETE_WORD_TO_COMPLETE=words.split(" ")[-1]
        )
    probe = (
        "import sys, json\n"
        "from genaiops_cli.cli import main\n"
        "try:\n    main([])\nexcept SystemExit:\n    pass\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "sys.stderr.write('\\nHEAVY=' + json.dumps(heavy) + '\\n')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    heavy = json.loads([ln for ln in proc.stderr.splitlines() if ln.startswith("HEAVY=")][-1][6:])
    return proc.stdout.split(), heavy


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "genaiops.yaml").write_text(TEMPLATE_MANIFEST.read_text())
    (tmp_path / "sub").mkdir()
    return tmp_path


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "powershell"])
def test_completion_script_for_each_shell(shell: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "genaiops_cli", "completion", shell],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "_GENAIOPS_COMPLETE" in proc.stdout and f"complete_{shell}" in proc.stdout


def test_commands_complete(project: Path) -> None:
    offered, _ = complete("genaiops pro", project)
    assert offered == ["provision", "promote"]


def test_environment_names_from_the_manifest_and_nothing_heavy(project: Path) -> None:
    offered, heavy = complete("genaiops status -e ", project / "sub")  # found walking up, as commands do
    assert offered == ["dev", "staging", "prod"]
    assert heavy == []
    assert complete("genaiops promote --to p", project)[0] == ["prod"]
    assert complete("genaiops diff dev s", project)[0] == ["staging"]


def test_manifest_named_with_f_before_or_after_the_subcommand(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    manifest = str(project / "genaiops.yaml")
    assert complete(f"genaiops -f {manifest} status -e s", elsewhere)[0] == ["staging"]
    assert complete(f"genaiops status -f {manifest} -e s", elsewhere)[0] == ["staging"]
    assert complete("genaiops status -e s", elsewhere)[0] == []  # no manifest: no suggestions, no error


def test_service_and_evaluation_names(project: Path) -> None:
    assert complete("genaiops deploy -e dev ", project)[0] == ["agent"]
    assert complete("genaiops eval ", project)[0] == ["quality", "safety"]


@pytest.mark.parametrize("shell", ["zsh", "fish", "powershell"])
def test_other_shells_get_manifest_values_too(project: Path, shell: str) -> None:
    offered, _ = complete("genaiops status -e ", project, shell)
    assert any("staging" in o for o in offered), offered


def test_a_broken_manifest_offers_nothing_quietly(tmp_path: Path) -> None:
    (tmp_path / "genaiops.yaml").write_text("environments: [this is: not a mapping\n")
    offered, _ = complete("genaiops status -e ", tmp_path)
    assert offered == []
