"""The CLI in a real 80-column terminal against the stand-in: status keeps full revision names, and an
interactive rollback that cannot happen says why instead of asking first."""

from __future__ import annotations

import pytest

from genaiops_cli.errors import ExitCode
from tests.cli.helpers import run_pty

from .conftest import BASE_IMAGE, Project, Sandbox, make_project


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = make_project(sandbox, tmp_path_factory.mktemp("terminal"), ("staging",))
    # Its own app name: the session's stand-in is shared, and the blue/green story expects to create
    # contoso-support-agent in staging itself.
    project.edit("genaiops.yaml", "name: contoso-support\n", "name: contoso-terminal\n")
    return project


def test_status_and_rollback_in_an_80_column_terminal(project: Project) -> None:
    built = project.run("build", "--push", "-e", "staging")
    assert built.code == 0, built.stderr
    setup = ("--force", "--reason", "test setup")  # first revision: staging's gates are not the subject
    deployed = project.run("-o", "json", "deploy", "-e", "staging", "--timeout", "60", *setup)
    assert deployed.code == 0, deployed.stderr
    revision = deployed.json()["result"]["deployments"][0]["revision"]

    env = {"BASE_IMAGE": BASE_IMAGE, "NO_COLOR": "1"}
    status = run_pty("status", "-e", "staging", cwd=project.root, env=env, columns=80)
    assert status.code == 0, status.stdout
    assert revision in status.stdout, status.stdout  # never `contoso-sup…`
    assert all(len(line) <= 80 for line in status.stdout.splitlines()), status.stdout

    # Nothing to roll back to: said at once, in a terminal where a question could have been asked.
    rollback = run_pty("rollback", "-e", "staging", cwd=project.root, env=env, columns=80, timeout=90)
    assert rollback.code == ExitCode.DEPLOY, rollback.stdout
    assert "no previous revision" in rollback.stdout
    assert "Roll back" not in rollback.stdout and "[y/N]" not in rollback.stdout
