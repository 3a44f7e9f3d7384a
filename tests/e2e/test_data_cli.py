"""`genaiops data` end to end in the stand-in. Staging has a Foundry project: a push uploads with
Entra and registers the version in the project (seen through the real SDK's `datasets.list_versions`
and `get`); pushing the same bytes registers nothing; list/show/pull read the project's registry.
Dev has none: its blob records are the registry. Then an evaluation and a promotion gated on
`foundry:qa@latest`, with the version it resolved to recorded in the gate's evidence — and a new
push moves `latest` in the project for the next run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, own_project


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    from genaiops_cli.core.cloud import target_for
    from tests.e2e.infra import ensure_foundry_project

    p = own_project(sandbox, tmp_path_factory.mktemp("data"), ("dev", "staging"), prefix="data")
    endpoint = ensure_foundry_project(target_for("sandbox", None), "rg-data-staging", "ai-data", "proj-data")
    gates = "    gates: [smoke, quality, safety]\n"
    p.edit("genaiops.yaml", gates, f"{gates}    foundry_project: {endpoint}\n")
    p.foundry = endpoint  # type: ignore[attr-defined]
    return p


def ok(run) -> dict:
    assert run.code == 0, run.stderr[-3000:] + run.stdout[-3000:]
    return run.json()["result"]


def registry(project: Project) -> Any:
    """The project's datasets through azure-ai-projects, as any other Foundry client sees them."""
    from azure.ai.projects import AIProjectClient

    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure import clients

    target = target_for("sandbox", None)
    endpoint = project.foundry  # type: ignore[attr-defined]
    return AIProjectClient(endpoint, clients.credential(target), connection_verify=target.verify).datasets


def test_push_registers_in_the_project_list_show_pull(project: Project, tmp_path) -> None:
    first = ok(project.run("-o", "json", "data", "push", "qa", "data/eval.jsonl", "-e", "staging"))
    again = ok(project.run("-o", "json", "data", "push", "qa", "data/eval.jsonl", "-e", "staging"))
    assert first["created"] and not again["created"] and again["version"] == first["version"]
    text = project.run("data", "push", "qa", "data/eval.jsonl", "-e", "staging")  # the text rendering
    assert text.code == 0 and "unchanged" in text.stdout and "1 file(s)" in text.stdout, text.stderr
    assert first["registry"] == project.foundry  # type: ignore[attr-defined]
    (registered,) = registry(project).list_versions("qa")  # the same bytes registered nothing new
    assert registered.version == first["version"] and registered.type == "uri_file"
    got = registry(project).get("qa", first["version"])
    assert got.data_uri.endswith(f"/qa/{first['version']}/files/eval.jsonl") and "?" not in got.data_uri
    assert got.tags["genaiops-sha256"] == first["sha256"]

    listed = ok(project.run("-o", "json", "data", "list", "-e", "staging"))["datasets"]
    assert [(d["name"], d["version"], d["data_uri"]) for d in listed] == [
        ("qa", first["version"], got.data_uri)
    ]
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

    # dev has no Foundry project: the storage account's records are the registry
    dev = ok(project.run("-o", "json", "data", "push", "dev-only", "data/eval.jsonl", "-e", "dev"))
    assert "/api/projects/" not in dev["registry"] and dev["created"]
    assert [d["name"] for d in ok(project.run("-o", "json", "data", "list", "-e", "dev"))["datasets"]] == [
        "dev-only"
    ]
    assert [d.name for d in registry(project).list()] == ["qa"]


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

    # a changed dataset is a new version in the project, and `latest` follows it on the next run
    rows = (project.root / "data/eval.jsonl").read_text().splitlines()
    (project.root / "data/eval.jsonl").write_text("\n".join(rows[:-1]) + "\n")
    newer = ok(project.run("-o", "json", "data", "push", "qa", "data/eval.jsonl", "-e", "staging"))["version"]
    assert newer != version
    assert sorted(v.version for v in registry(project).list_versions("qa")) == sorted([version, newer])
    assert {d.name: d.version for d in registry(project).list()} == {"qa": newer}
    run = ok(project.run("-o", "json", "eval", "quality", "-e", "staging", "--label", "live"))
    assert run["evaluations"][0]["dataset"]["ref"] == f"foundry:qa@{newer}"


@pytest.fixture
def faults(sandbox: Sandbox) -> Iterator[Any]:
    from genaiops_sandbox.faults import FaultInjector

    injector = FaultInjector(sandbox.profile)
    yield injector
    injector.clear()


def test_a_push_failing_past_the_retries_leaves_no_half_version_then_one_rerun(
    project: Project, faults: Any
) -> None:
    """The dataset's files land, then its record's PUT fails past the SDK's retries (500): a clean
    failure (exit 6 with a hint, never 1), no version listed (the record is written last: files
    without it are no version), and one re-run finishes the push (the files already there are kept).
    Slow by the SDK's own backoff (≈ 18 + 24 + 42 s before it gives up)."""
    record = r"^/[^/]+/genaiops-datasets/flaky/[^/]+/dataset\.json$"
    faults.add("PUT", record, "500", count=4, service="blob", operation="blob-put")
    first = project.run("-o", "json", "data", "push", "flaky", "data/eval.jsonl", "-e", "dev")
    assert faults.rules() == [], "the record's PUT was never made"
    assert first.code == ExitCode.BUILD, first.stdout[-2000:] + first.stderr[-2000:]
    error = first.json()["error"]
    assert error["code"] == "storage_failed" and error["hint"]
    listed = ok(project.run("-o", "json", "data", "list", "-e", "dev"))["datasets"]
    assert "flaky" not in [d["name"] for d in listed]
    again = ok(project.run("-o", "json", "data", "push", "flaky", "data/eval.jsonl", "-e", "dev"))
    assert again["created"]
    listed = ok(project.run("-o", "json", "data", "list", "-e", "dev"))["datasets"]
    assert [d["version"] for d in listed if d["name"] == "flaky"] == [again["version"]]
    pulled = ok(project.run("-o", "json", "data", "show", "flaky@latest", "-e", "dev"))
    assert list(pulled["files"]) == ["eval.jsonl"] and pulled["sha256"] == again["sha256"]


def test_a_registration_failing_past_the_retries_registers_nothing_then_one_rerun(
    project: Project, faults: Any
) -> None:
    """Staging's push uploads, then the project refuses the registration past the SDK's retries
    (429 × 4, Retry-After 1 s): a clean failure (exit 6, never 1), nothing registered in the
    project (the uploaded blobs are no version there), and one re-run registers it."""
    faults.add("PATCH", r"/datasets/flaky-registry/versions/", "429", count=4, retry_after=1)
    first = project.run("-o", "json", "data", "push", "flaky-registry", "data/eval.jsonl", "-e", "staging")
    assert faults.rules() == [], "the registration was never made"
    assert first.code == ExitCode.BUILD, first.stdout[-2000:] + first.stderr[-2000:]
    assert first.json()["error"]["hint"]
    assert "flaky-registry" not in [d.name for d in registry(project).list()]
    again = ok(
        project.run("-o", "json", "data", "push", "flaky-registry", "data/eval.jsonl", "-e", "staging")
    )
    assert again["created"]
    assert [v.version for v in registry(project).list_versions("flaky-registry")] == [again["version"]]
