"""Global options mean the same before and after the subcommand; flags are spelled one way everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from genaiops_cli.errors import ExitCode

from .helpers import TEMPLATE_MANIFEST, run_cli, run_inprocess


def leaf_commands() -> list[list[str]]:
    from typer.main import get_command

    from genaiops_cli.cli import app

    root = get_command(app)
    found = []
    for name, command in root.commands.items():
        subs = getattr(command, "commands", None)
        found += [[name, sub] for sub in subs] if subs else [[name]]
    return found


@pytest.fixture
def no_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty stand-in state dir: cloud commands fail the same way on every machine."""
    monkeypatch.setenv("GENAIOPS_SANDBOX_DIR", str(tmp_path / "no-sandbox"))
    return tmp_path


@pytest.mark.parametrize("args", leaf_commands(), ids=" ".join)
def test_every_command_accepts_the_global_options_after_it(args: list[str]) -> None:
    import re

    run = run_inprocess(*args, "--help")
    assert run.code == 0, run.stderr
    for flag in ("--output", "--yes", "--debug", "--quiet", "--verbose", "--no-color", "--manifest", "--env"):
        assert flag in run.stdout, f"{' '.join(args)} --help lacks {flag}"
    assert not re.search(r"<bool>", run.stdout), "flags take no value: no <bool> metavar"


@pytest.mark.parametrize(
    "args",
    [
        ["-f", str(TEMPLATE_MANIFEST), "-o", "json", "config", "show", "-e", "dev"],
        ["config", "show", "-e", "dev", "-o", "json", "-f", str(TEMPLATE_MANIFEST)],
        ["-o", "json", "config", "show", "--env", "dev", "--manifest", str(TEMPLATE_MANIFEST)],
        ["config", "show", "--output=json", "-edev", f"--manifest={TEMPLATE_MANIFEST}"],
    ],
    ids=["before", "after", "mixed", "glued"],
)
def test_output_json_before_or_after(args: list[str]) -> None:
    run = run_inprocess(*args)
    assert run.code == 0, run.stderr
    doc = run.json()
    assert doc["command"] == "config show" and doc["ok"] is True


def test_after_subcommand_sets_every_global(no_sandbox: Path) -> None:
    """`status -e dev -o json -y --debug -q --no-color` reaches the AppContext exactly as before it."""
    from genaiops_cli import cli

    run = run_inprocess(
        "status", "-e", "dev", "-o", "json", "-y", "--debug", "-q", "--no-color", "-f", str(TEMPLATE_MANIFEST)
    )
    assert run.code == ExitCode.PROVISION, run.stderr  # the stand-in is not running: exit 5, not 2
    assert run.json()["error"]["code"] == "sandbox_unavailable"
    assert "Traceback" in run.stderr  # --debug after the subcommand took effect
    actx = cli._state["app"]
    assert (actx.assume_yes, actx.debug) == (True, True)  # (-e is status's own --env)
    assert actx.console.is_json and actx.console.verbosity == -1 and actx.console.color is False


def test_promote_yes_after_subcommand_is_not_a_usage_error(no_sandbox: Path) -> None:
    run = run_cli(
        "-f", str(TEMPLATE_MANIFEST), "promote", "--from", "staging", "--to", "prod", "-y", "-o", "json"
    )
    assert run.code == ExitCode.PROVISION, run.stderr
    assert run.json()["error"]["code"] == "sandbox_unavailable"


def test_verbose_counts_in_both_places() -> None:
    from genaiops_cli import cli

    run = run_inprocess("-v", "-f", str(TEMPLATE_MANIFEST), "validate", "-vv")
    assert run.code == 0, run.stderr
    assert cli._state["app"].console.verbosity == 3


@pytest.mark.parametrize("command", ["deploy", "swap", "rollback", "promote --to prod"])
def test_break_lock_is_a_flag_that_needs_reason_everywhere(command: str, no_sandbox: Path) -> None:
    run = run_inprocess(
        "-f", str(TEMPLATE_MANIFEST), "-e", "dev", "-o", "json", *command.split(), "--break-lock"
    )
    assert run.code == ExitCode.USAGE, run.stdout
    assert "--reason" in run.json()["error"]["message"]


def test_break_lock_no_longer_swallows_the_reason_as_its_value(no_sandbox: Path) -> None:
    """`--break-lock why --reason r`: "why" is a service argument, so parsing succeeds and the run
    gets as far as the (absent) stand-in, instead of taking "why" as the lock-breaking reason."""
    args = (
        "-f",
        str(TEMPLATE_MANIFEST),
        "-e",
        "dev",
        "-o",
        "json",
        "swap",
        "--break-lock",
        "why",
        "--reason",
        "r",
    )
    run = run_inprocess(*args)
    assert run.code == ExitCode.PROVISION, run.stdout
    assert run.json()["error"]["code"] == "sandbox_unavailable"


def test_skip_smoke_needs_reason() -> None:
    run = run_inprocess("-f", str(TEMPLATE_MANIFEST), "-e", "dev", "-o", "json", "swap", "--skip-smoke")
    assert run.code == ExitCode.USAGE
    assert run.json()["error"]["message"] == '--skip-smoke needs --reason "…"'
