"""Datasets in the stand-in's Blob service through azure-storage-blob over HTTPS with Entra bearer
tokens: content-addressed versions (same bytes → same version, a changed byte → a new one), a large
file uploaded in blocks and read back byte for byte, and the CLI (`data push/list/show/pull`)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

from genaiops_cli.core import datasets

from .conftest import Sandbox


def store(resource_group: str):
    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure.blob_datasets import dataset_store

    return dataset_store(target_for("sandbox", None), resource_group, None)


def test_same_bytes_same_version_changed_bytes_new_version(sandbox: Sandbox, tmp_path: Path) -> None:
    s = store(f"rg-data-{uuid.uuid4().hex[:6]}")
    rows = b'{"question": "2+2?", "answer": "4"}\n'
    first, created = datasets.push(s, "qa", {"qa.jsonl": rows})
    again, created_again = datasets.push(s, "qa", {"qa.jsonl": rows})
    assert created and not created_again and again["version"] == first["version"]
    changed, created_changed = datasets.push(s, "qa", {"qa.jsonl": rows + b'{"question": "3+3?"}\n'})
    assert created_changed and changed["version"] != first["version"]
    assert sorted(v["version"] for v in s.versions("qa")) == sorted([first["version"], changed["version"]])
    assert s.names() == ["qa"]
    latest = datasets.resolve(s, datasets.parse_ref("foundry:qa@latest"))
    assert latest["version"] == changed["version"]
    root = datasets.cached(s, datasets.resolve(s, datasets.parse_ref(f"qa@{first['version']}")), tmp_path)
    assert (root / "qa.jsonl").read_bytes() == rows


def test_large_file_goes_up_in_blocks_and_comes_back_whole(sandbox: Sandbox, tmp_path: Path) -> None:
    s = store(f"rg-data-{uuid.uuid4().hex[:6]}")
    line = json.dumps({"question": "x" * 200, "answer": "y"}).encode() + b"\n"
    big = line * (9 * 1024 * 1024 // len(line))  # > 2 blocks of 4 MiB
    record, _ = datasets.push(s, "big", {"big.jsonl": big, "notes/readme.txt": b"hello"})
    root = datasets.materialize(s, record, tmp_path / "out")
    assert hashlib.sha256((root / "big.jsonl").read_bytes()).digest() == hashlib.sha256(big).digest()
    assert (root / "notes" / "readme.txt").read_bytes() == b"hello"
