"""Remote builds through the stand-in's ACR Tasks (issue: build and push, remote build).

The CLI runs with DOCKER_HOST pointing nowhere: a remote build must not need a local engine. The
stand-in builds on its own engine and pushes into its registry; the digest is read back through
the real ContainerRegistryClient."""

from __future__ import annotations

import json
import uuid

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, make_project

NO_LOCAL_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
SAS_MARKERS = ("sig=", "&se=", "/source/")


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(sandbox, tmp_path_factory.mktemp("remote"), ("dev",))


def fresh_sources(project: Project) -> None:
    """A source hash no other test pushed to the shared dev registry."""
    (project.root / "src/agent/app/build-id.txt").write_text(uuid.uuid4().hex)


def assert_no_sas(run) -> None:
    for marker in SAS_MARKERS:
        assert marker not in run.stdout and marker not in run.stderr, f"{marker!r} leaked into the output"


def test_remote_build_pushes_and_records_the_digest(project: Project) -> None:
    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure import acr

    fresh_sources(project)
    run = project.run("-o", "json", "build", "--remote", "--push", "-e", "dev", env=NO_LOCAL_ENGINE)
    assert run.code == 0, run.stdout + run.stderr
    assert_no_sas(run)
    build = {b["service"]: b for b in run.json()["result"]["builds"]}["agent"]
    assert build["status"] == "pushed"
    assert build["digest"].startswith("sha256:")
    assert build["pinned"] == f"{build['registry']}/contoso/agent@{build['digest']}"
    record = json.loads((project.root / ".genaiops/builds/agent.json").read_text())
    assert record["digest"] == build["digest"] and record["source_hash"] == build["source_hash"]
    target = target_for("sandbox", None)
    assert acr.manifest_digest(target, build["registry"], "contoso/agent", build["tag"]) == build["digest"]

    again = project.run("-o", "json", "build", "--remote", "-e", "dev", env=NO_LOCAL_ENGINE)
    assert again.code == 0, again.stderr
    assert again.json()["result"]["builds"][0]["status"] == "in_registry", "unchanged sources are not rebuilt"


def test_remote_build_streams_the_run_log(project: Project) -> None:
    fresh_sources(project)
    run = project.run("-v", "build", "--remote", "-e", "dev", env=NO_LOCAL_ENGINE)
    assert run.code == 0, run.stderr
    assert_no_sas(run)
    assert "COPY app/ /app/" in run.stderr, "the engine's build steps come through the run log"
    assert "Successfully pushed image" in run.stderr


def test_manifest_remote_true_needs_no_flag(project: Project) -> None:
    manifest = project.root / "genaiops.yaml"
    original = manifest.read_text()
    manifest.write_text(
        original.replace("dockerfile: Dockerfile", "dockerfile: Dockerfile\n      remote: true", 1)
    )
    fresh_sources(project)
    try:
        run = project.run("-o", "json", "build", "-e", "dev", env=NO_LOCAL_ENGINE)
        without_env = project.run("-o", "json", "build", env=NO_LOCAL_ENGINE)
    finally:
        manifest.write_text(original)
    assert run.code == 0, run.stderr
    assert run.json()["result"]["builds"][0]["status"] == "pushed"
    assert without_env.code == ExitCode.USAGE, "a remote build needs an environment's registry"


def test_broken_dockerfile_is_exit_6_with_the_run_log(project: Project) -> None:
    dockerfile = project.root / "src/agent/Dockerfile"
    original = dockerfile.read_text()
    dockerfile.write_text(original.replace("COPY app/ /app/", "COPY app/ /app/\nRUN exit 42"))
    try:
        run = project.run("-o", "json", "build", "--remote", "--push", "-e", "dev", env=NO_LOCAL_ENGINE)
    finally:
        dockerfile.write_text(original)
    assert run.code == ExitCode.BUILD, run.stdout + run.stderr
    assert_no_sas(run)
    error = run.json()["error"]
    assert "remote build cb" in error["message"] and "failed" in error["message"]
    log = error["details"]["log"]
    assert any("42" in line for line in log), log
    assert any("failed after" in line for line in log), log
