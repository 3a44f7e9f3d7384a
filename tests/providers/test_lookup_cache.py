"""providers/lookup_cache.py: the login-server cache that lets a no-op `build -e ENV` skip ARM."""

from __future__ import annotations

import json

import pytest

from genaiops_cli.providers import lookup_cache


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAIOPS_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("GENAIOPS_NO_LOOKUP_CACHE", raising=False)
    return tmp_path


def test_put_then_get_and_keys_are_case_insensitive(cache_dir):
    lookup_cache.put(lookup_cache.key("acr", "https://ARM", "sub", "RG", "crDev"), "crdev.azurecr.io")
    assert (
        lookup_cache.get(lookup_cache.key("acr", "https://arm", "SUB", "rg", "crdev")) == "crdev.azurecr.io"
    )
    assert lookup_cache.get(lookup_cache.key("acr", "https://other-arm", "sub", "rg", "crdev")) is None
    assert "token" not in (cache_dir / "lookups.json").read_text().lower()


def test_entries_expire(cache_dir):
    lookup_cache.put("k", "v", now=1000.0)
    assert lookup_cache.get("k", now=1000.0 + lookup_cache.MAX_AGE - 1) == "v"
    assert lookup_cache.get("k", now=1000.0 + lookup_cache.MAX_AGE + 1) is None


def test_forget_and_corrupt_file_and_switch_off(cache_dir, monkeypatch):
    lookup_cache.put("k", "v")
    lookup_cache.forget("k")
    assert lookup_cache.get("k") is None
    (cache_dir / "lookups.json").write_text("{not json")
    assert lookup_cache.get("k") is None  # a broken cache is a miss, never an error
    lookup_cache.put("k", "v2")
    assert json.loads((cache_dir / "lookups.json").read_text())["k"]["value"] == "v2"
    monkeypatch.setenv("GENAIOPS_NO_LOOKUP_CACHE", "1")
    assert lookup_cache.get("k") is None
