"""The validated-manifest cache: a hit skips YAML and validation, and nothing that shaped the manifest
(its bytes, the variables it interpolates, the files it names, the code) can change without a fresh
load."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genaiops_cli.core.manifest import cache
from genaiops_cli.errors import ManifestError

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "agent"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GENAIOPS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GENAIOPS_NO_MANIFEST_CACHE", raising=False)
    monkeypatch.delenv("BASE_IMAGE", raising=False)
    shutil.copytree(TEMPLATE, tmp_path / "project")
    return tmp_path / "project"


def _base_image(manifest_path: Path) -> str:
    return cache.load_manifest(manifest_path).services["agent"].build.args["BASE_IMAGE"]


def _entries(project: Path) -> list[Path]:
    return sorted((project.parent / "cache" / "manifests").glob("*.pickle"))


def test_hit_returns_the_same_manifest_without_yaml_or_validation(project: Path) -> None:
    manifest_path = project / "genaiops.yaml"
    fresh = cache.load_manifest(manifest_path)
    assert len(_entries(project)) == 1
    probe = (
        "import json, sys; from pathlib import Path; from genaiops_cli.core.manifest import cache; "
        f"m = cache.load_manifest(Path({str(manifest_path)!r})); "
        "print(json.dumps([sorted(m.services), m.name, "
        "sorted(x for x in ('yaml', 'genaiops_cli.core.manifest.loader') if x in sys.modules)]))"
    )
    env = {**os.environ, "GENAIOPS_CACHE_DIR": str(project.parent / "cache")}
    env.pop("BASE_IMAGE", None)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    services, name, loaded = json.loads(out.stdout)
    assert services == sorted(fresh.services) and name == fresh.name
    assert loaded == []  # served from the cache: no PyYAML, no loader, no validation
    assert cache.load_manifest(manifest_path).model_dump() == fresh.model_dump()


def test_an_edited_manifest_is_loaded_afresh(project: Path) -> None:
    manifest_path = project / "genaiops.yaml"
    assert cache.load_manifest(manifest_path).name == "contoso-support"
    text = manifest_path.read_text()
    manifest_path.write_text(text.replace("name: contoso-support", "name: contoso-other", 1))
    assert cache.load_manifest(manifest_path).name == "contoso-other"


def test_a_changed_variable_is_interpolated_afresh(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest_path = project / "genaiops.yaml"
    assert _base_image(manifest_path) == "python:3.12-slim"  # unset: the default
    monkeypatch.setenv("BASE_IMAGE", "genaiops/python-base:3.11")
    assert _base_image(manifest_path) == "genaiops/python-base:3.11"
    monkeypatch.setenv("BASE_IMAGE", "other:1")
    assert _base_image(manifest_path) == "other:1"
    monkeypatch.delenv("BASE_IMAGE")
    assert _base_image(manifest_path) == "python:3.12-slim"


def test_a_named_file_that_now_leaves_the_project_is_reported(project: Path) -> None:
    manifest_path = project / "genaiops.yaml"
    cache.load_manifest(manifest_path)
    dockerfile = project / "src" / "agent" / "Dockerfile"
    dockerfile.unlink()
    dockerfile.symlink_to("/etc/hostname")
    with pytest.raises(ManifestError) as caught:
        cache.load_manifest(manifest_path)
    assert "outside the project" in str(caught.value.issues[0].message)


def test_an_invalid_manifest_is_never_stored(project: Path) -> None:
    manifest_path = project / "genaiops.yaml"
    good = manifest_path.read_text()
    manifest_path.write_text(good.replace("version: 1", "version: 7", 1))
    with pytest.raises(ManifestError):
        cache.load_manifest(manifest_path)
    assert _entries(project) == []


def test_entries_from_other_code_or_writable_by_others_are_not_used(project: Path) -> None:
    manifest_path = project / "genaiops.yaml"
    cache.load_manifest(manifest_path)
    (entry,) = _entries(project)
    import pickle

    stored = pickle.loads(entry.read_bytes())
    stored["manifest"].name = "from-the-cache"
    stored["code"] = ("older code",)
    entry.write_bytes(pickle.dumps(stored))
    assert cache.load_manifest(manifest_path).name == "contoso-support"  # other code: reloaded

    stored = pickle.loads(entry.read_bytes())
    stored["manifest"].name = "from-the-cache"
    entry.write_bytes(pickle.dumps(stored))
    assert cache.load_manifest(manifest_path).name == "from-the-cache"  # (the tampered hit is used…)
    entry.chmod(0o666)
    assert cache.load_manifest(manifest_path).name == "contoso-support"  # …unless others could write it


def test_switched_off(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAIOPS_NO_MANIFEST_CACHE", "1")
    cache.load_manifest(project / "genaiops.yaml")
    assert _entries(project) == []


def test_the_cache_keeps_a_bounded_number_of_manifests(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "MAX_ENTRIES", 3)
    for i in range(6):
        copy = project.parent / f"copy{i}"
        shutil.copytree(project, copy)
        cache.load_manifest(copy / "genaiops.yaml")
    assert len(_entries(project)) == 3
