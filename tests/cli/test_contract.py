"""The CLI contract (DESIGN §7): envelope, exit codes, streams, no tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from genaiops_cli import __version__
from genaiops_cli.errors import ExitCode

from .helpers import TEMPLATE_MANIFEST, run_cli

BROKEN = """version: 1
name: demo
services:
  agent:
    image: example/agent:1
    host: containerapp
    ingress: {port: 8080}
environments:
  dev:
    cloud: sandbox
    subscription: 00000000-0000-0000-0000-000000000000
    resource_group: rg-dev
    location: eastus2
    registry: crdev
    containerapps_environment: cae-dev
    strategy: sideways
"""


def test_version_prints_package_version() -> None:
    run = run_cli("--version")
    assert run.code == 0
    assert run.stdout.strip() == f"genaiops {__version__}"


def test_help_lists_every_registered_command() -> None:
    from genaiops_cli.commands import COMMAND_MODULES

    run = run_cli("--help")
    assert run.code == 0
    for name in COMMAND_MODULES:
        assert name in run.stdout


def test_validate_template_text_and_json() -> None:
    text = run_cli("-f", str(TEMPLATE_MANIFEST), "validate")
    assert text.code == 0, text.stderr
    assert "valid" in text.stdout
    js = run_cli("-f", str(TEMPLATE_MANIFEST), "--output", "json", "validate")
    assert js.code == 0, js.stderr
    doc = js.json()
    assert doc["schema"] == "genaiops/v1"
    assert doc["command"] == "validate"
    assert doc["ok"] is True
    assert doc["result"]["valid"] is True
    assert "agent" in doc["result"]["services"]


def test_broken_manifest_exit_3_with_location(tmp_path: Path) -> None:
    manifest = tmp_path / "genaiops.yaml"
    manifest.write_text(BROKEN)
    run = run_cli("-f", str(manifest), "validate")
    assert run.code == ExitCode.MANIFEST
    assert "Traceback" not in run.stderr
    assert f"{manifest}:16:" in run.stderr
    assert "environments.dev.strategy" in run.stderr
    js = run_cli("-f", str(manifest), "-o", "json", "validate")
    assert js.code == ExitCode.MANIFEST
    doc = js.json()
    assert doc["ok"] is False
    assert doc["error"]["code"] == "manifest_invalid"
    assert doc["error"]["hint"]
    issue = doc["error"]["details"]["issues"][0]
    assert (issue["line"], issue["path"]) == (16, "environments.dev.strategy")
    assert js.stderr.strip() == ""  # in JSON mode the error is only in the envelope... and not twice


def test_manifest_found_by_walking_up(tmp_path: Path) -> None:
    (tmp_path / "genaiops.yaml").write_text(TEMPLATE_MANIFEST.read_text())
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    run = run_cli("-o", "json", "validate", cwd=nested)
    assert run.code == 0, run.stderr
    assert Path(run.json()["result"]["manifest"]).resolve() == (tmp_path / "genaiops.yaml").resolve()


def test_no_manifest_anywhere_is_exit_3(tmp_path: Path) -> None:
    run = run_cli("-o", "json", "validate", cwd=tmp_path)
    assert run.code == ExitCode.MANIFEST
    assert run.json()["error"]["hint"]


@pytest.mark.parametrize(
    "args",
    [["no-such-command"], ["validate", "--no-such-option"], ["--output", "yaml", "validate"]],
)
def test_usage_errors_exit_2_with_envelope(args: list[str]) -> None:
    run = run_cli("-o", "json", *args) if "--output" not in args else run_cli(*args)
    assert run.code == ExitCode.USAGE
    assert "Traceback" not in run.stderr + run.stdout
    if "--output" not in args:
        doc = run.json()
        assert doc["ok"] is False and doc["error"]["code"] == "usage_error"


def test_schema_command_prints_committed_schema() -> None:
    import json

    run = run_cli("schema")
    assert run.code == 0
    committed = json.loads((TEMPLATE_MANIFEST.parents[2] / "docs" / "genaiops.schema.json").read_text())
    assert json.loads(run.stdout) == committed
    js = run_cli("-o", "json", "schema")
    assert js.json()["result"] == committed


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    text = TEMPLATE_MANIFEST.read_text()
    manifest = tmp_path / "genaiops.yaml"
    manifest.write_text(text)
    run = run_cli(
        "-f",
        str(manifest),
        "-o",
        "json",
        "config",
        "show",
        "--env",
        "dev",
        env={"GENAIOPS_TEST_TOKEN": "s3cr3t"},
    )
    assert run.code == 0, run.stderr
    result = run.json()["result"]
    assert result["environment"] == "dev"
    assert "agent" in result["services"]


def test_config_show_needs_env() -> None:
    run = run_cli("-f", str(TEMPLATE_MANIFEST), "-o", "json", "config", "show")
    assert run.code == ExitCode.USAGE
    assert "--env" in run.json()["error"]["hint"]


def test_unknown_environment_is_reported() -> None:
    run = run_cli("-f", str(TEMPLATE_MANIFEST), "-o", "json", "config", "show", "--env", "prdo")
    assert run.code in (ExitCode.USAGE, ExitCode.MANIFEST)
    assert "prod" in (run.json()["error"]["message"] + (run.json()["error"]["hint"] or ""))


def test_debug_shows_traceback_only_when_asked(tmp_path: Path) -> None:
    manifest = tmp_path / "genaiops.yaml"
    manifest.write_text(BROKEN)
    plain = run_cli("-f", str(manifest), "validate")
    debug = run_cli("--debug", "-f", str(manifest), "validate")
    assert "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr
    assert plain.code == debug.code == ExitCode.MANIFEST


def test_exit_code_table_is_documented() -> None:
    doc = (TEMPLATE_MANIFEST.parents[2] / "docs" / "cli-contract.md").read_text()
    for name, value in vars(ExitCode).items():
        if name.isupper():
            assert f"| {value} " in doc, f"exit code {name}={value} missing from docs/cli-contract.md"
