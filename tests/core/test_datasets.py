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
from tests.core.fakes import MemoryDatasets

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
    with pytest.raises(datasets.DatasetCorrupt):
        datasets.materialize(store, datasets.resolve(store, datasets.parse_ref("qa")), tmp_path)
    assert not (tmp_path / "qa.jsonl").exists()


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
