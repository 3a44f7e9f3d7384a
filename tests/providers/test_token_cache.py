"""providers/token_cache.py on its own: what is trusted, what is ignored, expiry with a margin. The
cross-process behaviour through the real SDK is in tests/e2e/test_token_cache.py."""

from __future__ import annotations

import base64
import json
import stat
import time
from pathlib import Path

import pytest

from genaiops_cli.providers import token_cache


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GENAIOPS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GENAIOPS_TOKEN_CACHE", raising=False)
    return tmp_path / "cache" / "tokens"


def jwt(exp: float) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part({'exp': int(exp), 'sub': 'x'})}.c2ln"


def test_the_folder_is_private_and_the_file_too(cache: Path) -> None:
    token = jwt(time.time() + 3600)
    token_cache.acr_put("k", token)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE((cache / "acr.json").stat().st_mode) == 0o600
    assert token_cache.acr_get("k", 60) == token


def test_a_token_is_used_only_while_it_has_more_than_the_margin_left() -> None:
    token_cache.acr_put("soon", jwt(time.time() + 200))
    assert token_cache.acr_get("soon", 60) is not None
    assert token_cache.acr_get("soon", token_cache.ACCESS_MARGIN) is None  # 200 s < 5 min
    token_cache.acr_put("gone", jwt(time.time() - 1))  # already expired: never stored
    token_cache.acr_put("opaque", "not-a-jwt")  # no expiry to respect: never stored
    assert token_cache.acr_get("gone", 0) is None and token_cache.acr_get("opaque", 0) is None


def test_forget_drops_only_the_named_tokens() -> None:
    for key in ("a", "b", "c"):
        token_cache.acr_put(key, jwt(time.time() + 3600))
    token_cache.acr_forget("a", "c", "missing")
    assert [token_cache.acr_get(k, 0) is not None for k in ("a", "b", "c")] == [False, True, False]


def test_a_file_others_can_read_is_ignored_and_replaced(cache: Path) -> None:
    token_cache.acr_put("k", jwt(time.time() + 3600))
    (cache / "acr.json").chmod(0o644)
    assert token_cache.acr_get("k", 0) is None
    token_cache.acr_put("j", jwt(time.time() + 3600))
    assert stat.S_IMODE((cache / "acr.json").stat().st_mode) == 0o600
    assert token_cache.acr_get("k", 0) is None, "nothing from the untrusted file was carried over"


def test_a_folder_others_can_enter_turns_the_cache_off(cache: Path) -> None:
    token_cache.acr_put("k", jwt(time.time() + 3600))
    cache.chmod(0o755)
    assert token_cache.folder() is None and token_cache.entra_persistence() is None
    assert token_cache.acr_get("k", 0) is None


@pytest.mark.parametrize("text", ["", "{", "[]", '{"format": "other", "tokens": {}}', '{"tokens": 3}'])
def test_garbage_in_the_acr_file_is_a_miss(cache: Path, text: str) -> None:
    token_cache.folder()
    (cache / "acr.json").write_text(text)
    (cache / "acr.json").chmod(0o600)
    assert token_cache.acr_get("k", 0) is None
    token_cache.acr_put("k", jwt(time.time() + 3600))
    assert token_cache.acr_get("k", 0) is not None


def test_opt_out_reads_and_writes_nothing(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAIOPS_TOKEN_CACHE", "0")
    token_cache.acr_put("k", jwt(time.time() + 3600))
    assert token_cache.entra_persistence() is None and token_cache.acr_get("k", 0) is None
    assert not cache.exists()


def test_the_entra_cache_is_genaiops_own_file_and_garbage_in_it_is_removed(cache: Path) -> None:
    options = token_cache.entra_persistence(token_cache.fingerprint("s3cret"))
    name = f"entra-{token_cache.fingerprint('s3cret')}"
    assert options.name == str(cache / name) and options.allow_unencrypted_storage
    assert token_cache.fingerprint("s3cret") != token_cache.fingerprint("other")
    good = {"AccessToken": {"k": {"secret": "t", "target": "s", "expires_on": "9", "cached_at": "1"}}}
    for text, kept in (
        (json.dumps(good), True),
        ("garbage", False),
        (json.dumps({"AccessToken": {"k": {"secret": "t", "target": "s"}}}), False),  # no expiry
        (json.dumps({"AccessToken": []}), False),
    ):
        path = cache / f"{name}.nocae"
        path.write_text(text)
        path.chmod(0o600)
        assert token_cache.entra_persistence(token_cache.fingerprint("s3cret")) is not None
        assert path.exists() == kept, text


def test_jwt_claims_reads_only_jwt_shaped_text() -> None:
    assert token_cache.jwt_claims(jwt(5))["exp"] == 5
    assert token_cache.jwt_claims("a.b") == {} and token_cache.jwt_claims("plain") == {}


def test_a_lock_file_left_by_a_killed_process_is_cleared(cache: Path) -> None:
    import os

    token_cache.folder()
    name = f"entra-{token_cache.fingerprint('s')}.nocae.lockfile"
    stale, fresh = cache / name, cache / "entra.nocae.lockfile"
    for lock in (stale, fresh):
        lock.write_text("4242 genaiops")
    os.utime(stale, (time.time() - 600, time.time() - 600))
    token_cache.entra_persistence(token_cache.fingerprint("s"))
    token_cache.entra_persistence()
    assert not stale.exists() and fresh.exists(), "a lock held right now is left alone"
