"""Not signed in reads as exactly that: one error line naming the ways to sign in (and a hint), exit 4,
azure-identity's own report only with -v. A real DefaultAzureCredential, on a machine with no sign-in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genaiops_cli.errors import ExitCode

from .helpers import TEMPLATE_MANIFEST, run_cli


@pytest.fixture
def azure_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / "genaiops.yaml").write_text(
        TEMPLATE_MANIFEST.read_text().replace("cloud: sandbox", "cloud: azure")
    )
    home = tmp_path / "home"
    home.mkdir()
    # No way to sign in: no az/azd token cache (fresh HOME), no service principal or workload identity.
    env = {k: "" for k in os.environ if k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
    env.update(HOME=str(home), AZURE_SUBSCRIPTION_ID="00000000-0000-0000-0000-000000000000")
    return tmp_path, env


def test_not_signed_in_is_one_line_and_exit_4(azure_project: tuple[Path, dict[str, str]]) -> None:
    project, env = azure_project
    run = run_cli("status", "-e", "dev", cwd=project, env=env, timeout=120)
    assert run.code == ExitCode.AUTH, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 2, run.stderr  # the error and its hint; no SDK warnings
    assert lines[0].startswith("error: not signed in to Azure: sign in with `az login`")
    for way in ("workload identity", "managed identity", "AZURE_CLIENT_SECRET"):
        assert way in lines[0]
    assert lines[1].startswith("hint: re-run with -v")
    assert "DefaultAzureCredential" not in run.stderr


def test_json_error_code_and_identity_report_only_with_v(azure_project: tuple[Path, dict[str, str]]) -> None:
    project, env = azure_project
    js = run_cli("status", "-e", "dev", "-o", "json", cwd=project, env=env, timeout=120)
    assert js.code == ExitCode.AUTH
    assert js.json()["error"]["code"] == "not_signed_in"
    assert js.stderr == ""
    loud = run_cli("status", "-e", "dev", "-v", cwd=project, env=env, timeout=120)
    assert loud.code == ExitCode.AUTH
    assert "DefaultAzureCredential failed to retrieve a token" in loud.stderr
