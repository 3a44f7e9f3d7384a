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


def _profile(state: Path, base_image: str) -> None:
    import json

    state.mkdir(parents=True)
    fields = ("arm_endpoint", "authority_host", "tenant_id", "client_id", "client_secret_file")
    profile = {k: "x" for k in (*fields, "subscription_id", "ca_bundle", "docker_host", "router")}
    (state / "profile.json").write_text(json.dumps({**profile, "base_image": base_image}))


def test_next_steps_provision_before_building(tmp_path: Path) -> None:
    run = run_cli(
        "-o", "json", "init", str(tmp_path / "p"), env={"GENAIOPS_SANDBOX_DIR": str(tmp_path / "none")}
    )
    steps = [s.split("#")[0].strip() for s in run.json()["result"]["next_steps"]]
    assert steps.index("genaiops sandbox up") < steps.index("genaiops provision -e dev -y")
    assert steps.index("genaiops provision -e dev -y") < steps.index("genaiops build --push -e dev")
    assert any("promote --to staging" in s for s in steps)
    text = (tmp_path / "p" / "genaiops.yaml").read_text()
    assert '"${BASE_IMAGE:-python:3.12-slim}"' in text  # no stand-in: the public image stays the default


def test_init_offers_the_stand_ins_offline_base_image(tmp_path: Path) -> None:
    state = tmp_path / "sbx"
    _profile(state, "genaiops/python-base:3.11")
    env = {"GENAIOPS_SANDBOX_DIR": str(state)}
    run = run_cli("init", str(tmp_path / "p"), env=env)
    assert run.code == 0, run.stderr
    assert "offline base image genaiops/python-base:3.11" in run.stdout
    assert "genaiops sandbox up" not in run.stdout  # it is running already
    text = (tmp_path / "p" / "genaiops.yaml").read_text()
    assert '"${BASE_IMAGE:-genaiops/python-base:3.11}"' in text
    shown = run_cli(
        "-o", "json", "config", "show", "-e", "dev", cwd=tmp_path / "p", env={**env, "BASE_IMAGE": ""}
    )
    assert "genaiops/python-base:3.11" in shown.stdout
