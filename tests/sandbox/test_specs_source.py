"""Finding the official Azure REST specs on any clone: the pin list, the lookup order, a verified
download into a cache, and that validation still fails on a violation when the specs are present."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from genaiops_sandbox import specs_source
from genaiops_sandbox.specs_source import Pin, download, locate, mismatches, read_pins
from tests.conftest import azure_specs, require_specs


def _pin(path: str, content: bytes) -> Pin:
    return Pin(path, len(content), hashlib.sha256(content).hexdigest(), "0" * 40)


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback server laid out like the upstream repository: /<commit>/<path>."""
    root = tmp_path / "upstream"

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", root
    finally:
        server.shutdown()


def _publish(root: Path, pin: Pin, content: bytes) -> None:
    target = root / pin.commit / pin.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)


def test_the_pin_list_names_every_file_with_its_hash_and_commit() -> None:
    pins = read_pins()
    assert len(pins) >= 50
    assert all(
        len(p.sha256) == 64 and len(p.commit) == 40 and p.path.startswith("specification/") for p in pins
    )


def test_a_download_is_verified_and_lands_whole(
    upstream: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = upstream
    files = {"specification/a/one.json": b'{"one": 1}', "specification/b/two.json": b'{"two": 2}'}
    pins = [_pin(path, content) for path, content in files.items()]
    for pin, content in zip(pins, files.values(), strict=True):
        _publish(root, pin, content)
    monkeypatch.delenv("GENAIOPS_AZURE_SPECS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    first = locate(pins, allow_download=True, shared=tmp_path / "no-shared", base_url=base)
    assert first.source == "download" and first.root is not None
    assert mismatches(first.root, pins) == []
    again = locate(pins, allow_download=False, shared=tmp_path / "no-shared", base_url=base)
    assert again.source == "cache" and again.root == first.root


def test_a_file_that_does_not_match_its_pin_is_refused_and_nothing_is_kept(
    upstream: tuple[str, Path], tmp_path: Path
) -> None:
    base, root = upstream
    good, bad = _pin("specification/a.json", b"{}"), _pin("specification/b.json", b'{"b": 1}')
    _publish(root, good, b"{}")
    _publish(root, bad, b'{"b": 2}')  # tampered upstream copy
    dest = tmp_path / "cache" / "x"
    with pytest.raises(ValueError, match="is not the pinned"):
        download([good, bad], dest, base)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_lookup_order_and_the_reason_when_nothing_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pins = [_pin("specification/a.json", b"{}")]
    explicit = tmp_path / "explicit"
    (explicit / "specification").mkdir(parents=True)
    shared = tmp_path / "shared"
    (shared / "specification").mkdir(parents=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    monkeypatch.setenv("GENAIOPS_AZURE_SPECS", str(explicit))
    assert locate(pins, allow_download=False, shared=shared).source == "env"
    monkeypatch.delenv("GENAIOPS_AZURE_SPECS")
    assert locate(pins, allow_download=False, shared=shared).source == "shared"
    nothing = locate(pins, allow_download=False, shared=tmp_path / "absent")
    assert not nothing.found and "download off" in nothing.reason and "absent" in nothing.reason
    offline = locate(pins, allow_download=True, shared=tmp_path / "absent", base_url="http://127.0.0.1:9")
    assert not offline.found and "download of the 1 pinned files failed" in offline.reason


def test_the_copy_in_use_matches_the_pins() -> None:
    require_specs()
    where = azure_specs()
    assert mismatches(where.root, read_pins()) == []


def test_with_specs_present_a_violation_is_reported() -> None:
    require_specs()
    from genaiops_sandbox.specs import SpecValidator

    path = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/app"
    good = {"location": "eastus", "properties": {"configuration": {"activeRevisionsMode": "Multiple"}}}
    bad = {"location": "eastus", "properties": {"configuration": {"ingress": {"targetPort": "eighty"}}}}
    validator = SpecValidator()
    assert validator.check("GET", path, "2026-07-01", None, 200, good) == []
    assert validator.check("GET", path, "2026-07-01", None, 200, bad)


def test_module_defaults_point_at_the_shipped_pin_list() -> None:
    assert specs_source.PINS.name == "azure-specs.pins.tsv" and specs_source.PINS.is_file()
