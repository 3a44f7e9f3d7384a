"""`genaiops data` end to end in the stand-in: push a dataset (twice: one version), list, show,
pull; then an evaluation and a promotion gated on `foundry:qa@latest`, with the version it
resolved to recorded in the gate's evidence — and a new push moves `latest` for the next run."""

from __future__ import annotations

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, own_project


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return own_project(sandbox, tmp_path_factory.mktemp("data"), ("dev", "staging"), prefix="data")


def ok(run) -> dict:
    assert run.code == 0, run.stderr[-3000:] + run.stdout[-3000:]
    return run.json()["result"]


def test_push_list_show_pull(project: Project, tmp_path) -> None:
    first = ok(project.run("-o", "json", "data", "push", "qa", "data/eval.jsonl", "-e", "staging"))
    again = ok(project.run("-o", "json", "data", "push", "qa", "data/eval.jsonl", "-e", "staging"))
    assert first["created"] and not again["created"] and again["version"] == first["version"]
    listed = ok(project.run("-o", "json", "data", "list", "-e", "staging"))["datasets"]
    assert [(d["name"], d["version"]) for d in listed] == [("qa", first["version"])]
    shown = ok(project.run("-o", "json", "data", "show", "qa@latest", "-e", "staging"))
    assert list(shown["files"]) == ["eval.jsonl"] and shown["sha256"] == first["sha256"]
    pulled = ok(project.run("-o", "json", "data", "pull", "qa", str(tmp_path / "out"), "-e", "staging"))
    assert (tmp_path / "out" / "eval.jsonl").read_bytes() == (project.root / "data/eval.jsonl").read_bytes()
    assert pulled["version"] == first["version"]
    missing = project.run("-o", "json", "data", "show", "nope", "-e", "staging")
    assert missing.code == ExitCode.USAGE and missing.json()["error"]["code"] == "dataset_not_found"
    bad = project.run("data", "push", "qa", "genaiops.yaml", "-e", "staging")
    assert bad.code == ExitCode.USAGE
    assert "token" not in first and "sig=" not in str(first)  # nothing credential-shaped is printed


def test_promotion_gated_on_latest_records_the_pinned_version(project: Project) -> None:
    project.edit(
        "genaiops.yaml",
        "    dataset: data/eval.jsonl          # one JSON object per line",
        "    dataset: foundry:qa@latest        # one JSON object per line",
    )
    version = ok(project.run("-o", "json", "data", "push", "qa", "data/eval.jsonl", "-e", "staging"))[
        "version"
    ]
    assert project.run("validate").code == 0
    assert project.run("build", "--push", "-e", "dev").code == 0
    ok(project.run("-o", "json", "deploy", "-e", "dev", "--timeout", "60"))
    promoted = ok(project.run("-o", "json", "-y", "promote", "--to", "staging", "--timeout", "60"))
    quality = next(g for g in promoted["gates"] if g["name"] == "quality")
    assert quality == {"name": "quality", "verdict": "pass", "dataset": f"foundry:qa@{version}"}

    # a changed dataset is a new version, and `latest` follows it on the next run
    rows = (project.root / "data/eval.jsonl").read_text().splitlines()
    (project.root / "data/eval.jsonl").write_text("\n".join(rows[:-1]) + "\n")
    newer = ok(project.run("-o", "json", "data", "push", "qa", "data/eval.jsonl", "-e", "staging"))["version"]
    assert newer != version
    run = ok(project.run("-o", "json", "eval", "quality", "-e", "staging", "--label", "live"))
    assert run["evaluations"][0]["dataset"]["ref"] == f"foundry:qa@{newer}"
