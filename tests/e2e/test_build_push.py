"""Build and push through the real engine into the stand-in's ACR (issue: build and push)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, make_project


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(sandbox, tmp_path_factory.mktemp("build"), ("dev",))


def builds(run) -> dict[str, dict]:
    assert run.code == 0, run.stderr
    return {b["service"]: b for b in run.json()["result"]["builds"]}


def test_build_skip_rebuild_and_push(project: Project) -> None:
    first = builds(project.run("-o", "json", "build"))["agent"]
    assert first["status"] in ("built", "up_to_date")
    again = builds(project.run("-o", "json", "build"))["agent"]
    assert again["status"] == "up_to_date" and again["source_hash"] == first["source_hash"]

    # A change no earlier run made: the Docker engine is shared (other runs, other checkouts), and a
    # content-addressed build of an edit someone already built is rightly "up_to_date".
    project.edit("src/agent/app/knowledge.json", "15 dollars", f"{secrets.randbelow(10**9)} dollars")
    changed = builds(project.run("-o", "json", "build"))["agent"]
    assert changed["status"] == "built" and changed["source_hash"] != first["source_hash"]

    import docker

    docker.from_env().images.get("genaiops/python-base:3.11").tag("genaiops/python-base", "alias")
    other_arg = builds(project.run("-o", "json", "build", env={"BASE_IMAGE": "genaiops/python-base:alias"}))
    assert other_arg["agent"]["source_hash"] != changed["source_hash"], "build args are part of the hash"

    pushed = builds(project.run("-o", "json", "build", "--push", "-e", "dev"))["agent"]
    assert pushed["status"] == "pushed"
    assert pushed["digest"].startswith("sha256:")
    assert pushed["pinned"] == f"{pushed['registry']}/contoso/agent@{pushed['digest']}"
    record = json.loads((project.root / ".genaiops/builds/agent.json").read_text())
    assert record["digest"] == pushed["digest"]

    # the registry, read through the real ContainerRegistryClient, has the same digest
    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure import acr

    target = target_for("sandbox", None)
    assert acr.manifest_digest(target, pushed["registry"], "contoso/agent", pushed["tag"]) == pushed["digest"]

    # a fresh checkout (no local record, no local image needed) finds the build in the registry
    (project.root / ".genaiops/builds/agent.json").unlink()
    found = builds(project.run("-o", "json", "build", "-e", "dev"))["agent"]
    assert found["status"] in ("in_registry", "up_to_date")


def test_push_without_build_is_exit_6(project: Project) -> None:
    project.edit("src/agent/app/knowledge.json", "24 hours", "25 hours")
    run = project.run("-o", "json", "push", "-e", "dev")
    assert run.code == ExitCode.BUILD
    assert "genaiops build" in run.json()["error"]["hint"]


def test_build_error_shows_failing_step(project: Project) -> None:
    dockerfile = project.root / "src/agent/Dockerfile"
    original = dockerfile.read_text()
    dockerfile.write_text(original.replace("COPY app/ /app/", "COPY app/ /app/\nRUN exit 42"))
    try:
        run = project.run("-o", "json", "build")
    finally:
        dockerfile.write_text(original)
    assert run.code == ExitCode.BUILD
    error = run.json()["error"]
    assert "exit 42" in error["message"] or "42" in error["message"]
    assert error["details"]["log"], "the last lines of the build output are reported"


@pytest.mark.parametrize(
    ("field", "value", "needle", "code"),
    [
        # A context outside the project is refused when the manifest loads (release safety).
        ("context", "../../outside", "outside the project", ExitCode.MANIFEST),
        ("dockerfile", "Nope.Dockerfile", "no Dockerfile", ExitCode.BUILD),
    ],
)
def test_bad_build_paths_exit_cleanly(
    project: Project, field: str, value: str, needle: str, code: int
) -> None:
    manifest = project.root / "genaiops.yaml"
    original = manifest.read_text()
    line = "context: src/agent" if field == "context" else "dockerfile: Dockerfile"
    manifest.write_text(original.replace(line, f"{field}: {value}", 1))
    try:
        run = project.run("-o", "json", "build")
    finally:
        manifest.write_text(original)
    assert run.code == code, run.stdout + run.stderr
    assert needle in run.json()["error"]["message"]


def test_engine_unreachable_is_exit_6_with_hint(project: Project) -> None:
    run = project.run(
        "-o", "json", "build", "--no-cache", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    )
    assert run.code == ExitCode.BUILD
    assert "DOCKER_HOST" in run.json()["error"]["hint"]


def test_wrong_secret_is_exit_4_and_secret_never_printed(project: Project, tmp_path: Path) -> None:
    from genaiops_sandbox.profile import Profile

    profile = Profile.load(project.sandbox.state_dir)
    assert profile is not None
    fake_dir = tmp_path / "sandbox"
    fake_dir.mkdir()
    wrong = fake_dir / "client-secret"
    wrong.write_text("not-the-secret")
    profile.client_secret_file = str(wrong)
    profile.save(fake_dir)
    run = project.run("-o", "json", "push", "-e", "dev", env={"GENAIOPS_SANDBOX_DIR": str(fake_dir)})
    real_secret = Profile.load(project.sandbox.state_dir).client_secret()  # type: ignore[union-attr]
    assert run.code in (ExitCode.AUTH, ExitCode.BUILD), run.stdout
    assert real_secret not in run.stdout + run.stderr
    assert "not-the-secret" not in run.stdout + run.stderr
