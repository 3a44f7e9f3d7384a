"""Content-addressed datasets over an in-memory DatasetStore: versions follow the bytes, `@latest`
is the newest push and is pinned where it is read, tampered bytes are refused, and evaluations
name a pushed dataset with the manifest's file and field path when it cannot be read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from genaiops_cli.core import datasets
from genaiops_cli.core.evaluation import engine
from genaiops_cli.core.manifest.loader import load_manifest
from genaiops_cli.core.manifest.model import Evaluation
from genaiops_cli.errors import ExitCode, ManifestError
from tests.core.fakes import MemoryDatasetRegistry, MemoryDatasets

ROWS = b'{"question": "2+2?", "answer": "4"}\n{"question": "3+3?", "answer": "6"}\n'
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_same_bytes_same_version_and_one_upload() -> None:
    store = MemoryDatasets()
    first, created = datasets.push(store, "qa", {"qa.jsonl": ROWS}, now=T0)
    again, created_again = datasets.push(store, "qa", {"qa.jsonl": ROWS}, now=T0 + dt.timedelta(1))
    assert created and not created_again
    assert again["version"] == first["version"] and store.puts == 1
    changed, _ = datasets.push(store, "qa", {"qa.jsonl": ROWS.replace(b"4", b"5")})
    assert changed["version"] != first["version"] and store.puts == 2


def test_a_renamed_file_is_a_new_version() -> None:
    assert datasets.digest({"a.jsonl": ROWS})[0] != datasets.digest({"b.jsonl": ROWS})[0]


def test_folder_push_skips_hidden_files_and_symlinks(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "qa.jsonl").write_bytes(ROWS)
    (tmp_path / "d" / ".secret").write_text("x")
    (tmp_path / "outside.txt").write_text("not part of it")
    (tmp_path / "d" / "link.txt").symlink_to(tmp_path / "outside.txt")
    assert set(datasets.collect(tmp_path / "d")) == {"qa.jsonl"}


def test_latest_is_the_newest_push_and_unknowns_say_what_exists() -> None:
    store = MemoryDatasets()
    old, _ = datasets.push(store, "qa", {"qa.jsonl": ROWS}, now=T0)
    new, _ = datasets.push(store, "qa", {"qa.jsonl": ROWS + ROWS}, now=T0 + dt.timedelta(hours=1))
    assert datasets.resolve(store, datasets.parse_ref("foundry:qa@latest"))["version"] == new["version"]
    assert datasets.resolve(store, datasets.parse_ref(f"qa@{old['version']}"))["files"] == old["files"]
    with pytest.raises(datasets.DatasetNotFound) as missing:
        datasets.resolve(store, datasets.parse_ref("qb@latest"))
    assert "data push qb" in (missing.value.hint or "")
    with pytest.raises(datasets.DatasetNotFound) as wrong:
        datasets.resolve(store, datasets.parse_ref("qa@0123456789ab"))
    assert old["version"] in (wrong.value.hint or "") and new["version"] in (wrong.value.hint or "")


@pytest.mark.parametrize("text", ["foundry:", "foundry:q a@latest", "qa@v1", "qa@LATEST"])
def test_bad_references_are_usage_errors(text: str) -> None:
    with pytest.raises(datasets.UsageError):
        datasets.parse_ref(text)


def test_tampered_bytes_are_refused_not_read(tmp_path: Path) -> None:
    store = MemoryDatasets()
    record, _ = datasets.push(store, "qa", {"qa.jsonl": ROWS})
    store.tamper("qa", record["version"], "qa.jsonl", ROWS.replace(b"4", b"5"))
    with pytest.raises(datasets.DatasetCorrupt) as err:
        datasets.materialize(store, datasets.resolve(store, datasets.parse_ref("qa")), tmp_path)
    assert not (tmp_path / "qa.jsonl").exists()
    # the storage is wrong, not genaiops: exit 6 as a registry blob failing its digest check, never 1
    assert (err.value.exit_code, err.value.code) == (ExitCode.BUILD, "dataset_corrupt")


def test_a_destination_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    """`data pull qa FILE` (a file where the folder should be): exit 2 naming the path, not exit 1."""
    store = MemoryDatasets()
    datasets.push(store, "qa", {"qa.jsonl": ROWS})
    (tmp_path / "dest").write_text("a file, not a folder")
    with pytest.raises(datasets.UsageError) as err:
        datasets.materialize(store, datasets.resolve(store, datasets.parse_ref("qa")), tmp_path / "dest")
    assert err.value.exit_code == ExitCode.USAGE and str(tmp_path / "dest") in err.value.message


def test_a_record_never_chooses_where_files_are_written(tmp_path: Path) -> None:
    store = MemoryDatasets()
    record, _ = datasets.push(store, "qa", {"qa.jsonl": ROWS})
    evil = {**store.record("qa", record["version"]), "files": {"../../x.jsonl": "0" * 64}}
    with pytest.raises(datasets.DatasetCorrupt):
        datasets.materialize(store, evil, tmp_path / "root")


def _evaluation(dataset: str) -> Evaluation:
    return Evaluation.model_validate(
        {
            "service": "agent",
            "dataset": dataset,
            "request": {"method": "POST", "path": "/chat", "json": {"message": "{{question}}"}},
            "response": "$.answer",
            "evaluators": ["token_f1"],
        }
    )


def test_evaluation_reads_latest_and_pins_the_version(tmp_path: Path) -> None:
    store = MemoryDatasets()
    record, _ = datasets.push(store, "qa", {"qa.jsonl": ROWS})
    fetch = datasets.fetcher(lambda: store, tmp_path)
    prepared = engine.prepare("quality", _evaluation("foundry:qa@latest"), tmp_path, fetch=fetch)
    assert prepared.dataset_ref == f"foundry:qa@{record['version']}"
    assert len(prepared.rows) == 2 and prepared.dataset.is_relative_to(tmp_path / ".genaiops" / "datasets")


def test_evaluation_of_a_missing_dataset_points_at_the_manifest(tmp_path: Path) -> None:
    fetch = datasets.fetcher(MemoryDatasets, tmp_path)
    with pytest.raises(ManifestError) as err:
        engine.prepare(
            "quality", _evaluation("foundry:qa@latest"), tmp_path, fetch=fetch, manifest_file="m.yaml"
        )
    issue = err.value.issues[0]
    assert (issue.file, issue.path, err.value.exit_code) == ("m.yaml", "evaluations.quality.dataset", 3)
    with pytest.raises(ManifestError) as no_env:
        engine.prepare("quality", _evaluation("foundry:qa@latest"), tmp_path)
    assert "-e ENV" in (no_env.value.issues[0].hint or "")


def test_manifest_checks_a_reference_with_file_and_line(tmp_path: Path) -> None:
    base = (Path(__file__).parent / "manifests" / "base.yaml").read_text()
    f = tmp_path / "genaiops.yaml"
    f.write_text(base.replace("dataset: data/eval.jsonl", "dataset: foundry:qa"), encoding="utf-8")
    with pytest.raises(ManifestError) as err:
        load_manifest(f, environ={})
    issue = next(i for i in err.value.issues if i.path and i.path.endswith(".dataset"))
    assert issue.line == 16 and "latest" in (issue.hint or "") + issue.message
    assert err.value.exit_code == ExitCode.MANIFEST
    f.write_text(base.replace("dataset: data/eval.jsonl", "dataset: foundry:qa@latest"), encoding="utf-8")
    assert load_manifest(f, environ={}).evaluations  # no file check for a pushed dataset


# ---------------------------------------------------------------- registered in a Foundry project
def _registered() -> tuple[datasets.RegisteredDatasets, MemoryDatasets, MemoryDatasetRegistry]:
    store, registry = MemoryDatasets(), MemoryDatasetRegistry()
    return datasets.RegisteredDatasets(store, registry), store, registry


def test_a_push_uploads_then_registers_once_and_the_same_bytes_register_nothing() -> None:
    catalog, store, registry = _registered()
    first, created = datasets.push(catalog, "qa", {"qa.jsonl": ROWS}, now=T0)
    again, created_again = datasets.push(catalog, "qa", {"qa.jsonl": ROWS}, now=T0 + dt.timedelta(1))
    assert created and not created_again and again["version"] == first["version"]
    assert store.puts == 1 and registry.registrations == 1
    (entry,) = registry.versions("qa")
    assert entry["type"] == "uri_file" and entry["version"] == first["version"]
    assert entry["dataUri"] == store.url("qa", first["version"], "qa.jsonl") and "?" not in entry["dataUri"]
    assert entry["tags"]["genaiops-sha256"] == first["sha256"]


def test_a_folder_registers_as_uri_folder_and_a_version_uploaded_earlier_is_registered() -> None:
    catalog, store, registry = _registered()
    folder = {"qa.jsonl": ROWS, "notes/readme.txt": b"hi"}
    before, _ = datasets.push(store, "qa", folder, now=T0)  # pushed while the env had no project
    record, created = datasets.push(catalog, "qa", folder, now=T0 + dt.timedelta(1))
    assert created and record["version"] == before["version"] and store.puts == 1
    (entry,) = registry.versions("qa")
    assert entry["type"] == "uri_folder" and entry["dataUri"] == store.url("qa", record["version"])


def test_listing_and_latest_read_the_registry() -> None:
    catalog, store, registry = _registered()
    old, _ = datasets.push(catalog, "qa", {"qa.jsonl": ROWS}, now=T0)
    new, _ = datasets.push(catalog, "qa", {"qa.jsonl": ROWS + ROWS}, now=T0 + dt.timedelta(hours=1))
    datasets.push(catalog, "qa", {"qa.jsonl": ROWS}, now=T0 + dt.timedelta(hours=2))  # old bytes again
    assert catalog.names() == ["qa"]
    assert sorted(v["version"] for v in catalog.versions("qa")) == sorted([old["version"], new["version"]])
    latest = datasets.resolve(catalog, datasets.parse_ref("foundry:qa@latest"))
    assert latest["version"] == new["version"], "re-pushing old bytes does not move latest"
    assert latest["files"] == {"qa.jsonl": new["files"]["qa.jsonl"]} and latest["data_uri"]
    # the registry is the truth: a version dropped from the project is no longer latest
    del registry.sets["qa"][new["version"]]
    assert datasets.resolve(catalog, datasets.parse_ref("qa@latest"))["version"] == old["version"]
    with pytest.raises(datasets.DatasetNotFound) as missing:
        datasets.resolve(catalog, datasets.parse_ref("qb@latest"))
    assert registry.location in missing.value.message


def test_a_version_registered_by_someone_else_is_refused_with_a_hint(tmp_path: Path) -> None:
    catalog, _, registry = _registered()
    registry.register("ext", "7", "https://elsewhere/x.jsonl", False, {})
    with pytest.raises(datasets.DatasetNotFound) as err:
        datasets.cached(catalog, datasets.resolve(catalog, datasets.parse_ref("ext@latest")), tmp_path)
    assert "no content record" in err.value.message and "data push ext" in (err.value.hint or "")


def test_an_environment_with_a_foundry_project_registers_there(tmp_path: Path) -> None:
    from genaiops_cli.core.environment import open_environment
    from tests.core.fakes import MANIFEST, MemoryCloud, World

    world = World(tmp_path)
    endpoint = "https://ai-x.services.ai.azure.com/api/projects/p"
    text = MANIFEST.replace(
        "    strategy: bluegreen\n", f"    strategy: bluegreen\n    foundry_project: {endpoint}\n"
    )
    (tmp_path / "genaiops.yaml").write_text(text)
    manifest = load_manifest(tmp_path / "genaiops.yaml")
    clouds = {name: MemoryCloud(world) for name in ("dev", "prod")}
    envs = {n: open_environment(manifest, n, clouds[n], {}, provisioned=None) for n in clouds}
    assert isinstance(envs["prod"].datasets, datasets.RegisteredDatasets)
    assert clouds["prod"].registry_endpoint == endpoint
    assert envs["dev"].datasets is clouds["dev"].dataset_store, (
        "no project: the blob records are the registry"
    )
