"""Tokens kept between processes, so a fresh `genaiops` does not sign in from scratch every time.

Two files in one private folder, $GENAIOPS_CACHE_DIR/tokens (default $XDG_CACHE_HOME/genaiops/tokens,
i.e. ~/.cache/genaiops/tokens), created 0700:

- `entra[-<secret fingerprint>].nocae` (and `.cae`): azure-identity's own persistent MSAL cache
  (`TokenCachePersistenceOptions`), named for genaiops alone so it never shares another tool's cache;
  a service principal's secret gives its own file (see `fingerprint`).
  Encrypted through libsecret where a keyring is usable; otherwise a plain 0600 JSON file, as the
  Azure CLI keeps its MSAL cache on Linux.
- `acr.json`: Azure Container Registry refresh tokens (≈ 3 h) and scoped access tokens (≈ 75 min),
  keyed by a hash of registry + Entra identity + tenant (+ scope), each used only while it has more
  than a margin of life left — what `docker login` keeps after `az acr login`, plus its access tokens.

A file that is not owned by this user, is readable or writable by anyone else, or does not parse as
what genaiops writes there is ignored (and replaced on the next write), never an error: the worst it
costs is a sign-in. No token is ever logged or printed; only this module reads the files.
GENAIOPS_TOKEN_CACHE=0 turns both off (every process signs in afresh, tokens held in memory only)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

_LOG = logging.getLogger("genaiops.token_cache")
ENTRA_NAME = "entra"  # azure-identity appends ".nocae" / ".cae"
ACR_FILE = "acr.json"
FORMAT = "genaiops-acr-tokens-1"
REFRESH_MARGIN = 15 * 60.0  # a refresh token is also docker's password for a whole push
ACCESS_MARGIN = 5 * 60.0
STALE_LOCK = 60.0
_OFF = {"0", "false", "no", "off"}
_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get("GENAIOPS_TOKEN_CACHE", "1").strip().lower() not in _OFF


def folder() -> Path | None:
    """The private token folder (created 0700), or None when the cache is off or the folder is not
    this user's alone (then nothing is read or written there)."""
    if not enabled():
        return None
    base = os.environ.get("GENAIOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "genaiops"
    )
    path = Path(base) / "tokens"
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        _LOG.debug("token cache off: %s is not a directory of this user's alone (mode 0700)", path)
        return None
    return path


def _private(path: Path) -> bool | None:
    """True: a regular file of this user's, mode 0600 or stricter. False: present but not that.
    None: absent."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def _discard(path: Path, why: str) -> bool:
    """Remove a cache file genaiops will not trust; True when it is gone."""
    _LOG.debug("token cache: ignoring %s (%s)", path, why)
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


# ---- Entra (azure-identity's persistent MSAL cache)


def _msal_cache_is_sound(data: Any) -> bool:
    """The shape MSAL's SerializableTokenCache writes: {credential type: {key: entry}}; access tokens
    carry the fields MSAL reads on a hit (a missing one would fail the sign-in instead of missing)."""
    if not isinstance(data, dict):
        return False
    for entries in data.values():
        if not isinstance(entries, dict) or not all(isinstance(e, dict) for e in entries.values()):
            return False
    for entry in data.get("AccessToken", {}).values():
        if not isinstance(entry.get("secret"), str) or not isinstance(entry.get("target"), str):
            return False
        try:
            int(entry["expires_on"]), int(entry.get("cached_at", 0))
        except (KeyError, TypeError, ValueError):
            return False
    return True


def fingerprint(secret: str) -> str:
    """A short one-way name for the secret a credential signs in with: tokens obtained with one secret
    are never served to a configuration holding another (a wrong or rotated secret signs in afresh
    and fails as it should, instead of riding on a cached token)."""
    return hashlib.sha256(b"genaiops-token-cache\n" + secret.encode()).hexdigest()[:16]


def entra_persistence(secret_fingerprint: str = "") -> Any | None:
    """azure-identity's TokenCachePersistenceOptions for genaiops' own cache file, or None (cache off,
    folder not private, or a file there that cannot be trusted and cannot be removed).

    The name is the file's absolute path without its suffix: azure-identity joins it under
    ~/.IdentityService, and joining an absolute path yields that path, so the cache lives with
    genaiops' other caches (GENAIOPS_CACHE_DIR moves it; tests get one each)."""
    where = folder()
    if where is None:
        return None
    name = f"{ENTRA_NAME}-{secret_fingerprint}" if secret_fingerprint else ENTRA_NAME
    for suffix in (".nocae", ".cae"):
        path = where / (name + suffix)
        _clear_stale_lock(Path(f"{path}.lockfile"))
        private = _private(path)
        if private is None:
            continue
        if not private:
            if not _discard(path, "not a 0600 file of this user's"):
                return None
            continue
        try:
            text = path.read_text(encoding="utf-8")
            sound = not text.strip() or _msal_cache_is_sound(json.loads(text))
        except (OSError, ValueError):
            sound = False
        if not sound and not _discard(path, "not a token cache genaiops wrote"):
            return None
    from azure.identity import TokenCachePersistenceOptions

    return TokenCachePersistenceOptions(name=str(where / name), allow_unencrypted_storage=True)


def _clear_stale_lock(lock: Path) -> None:
    """msal-extensions holds its lock file for the milliseconds of one write; one older than
    STALE_LOCK was left by a killed process and would cost every later write a 5 s wait."""
    try:
        if time.time() - lock.stat().st_mtime > STALE_LOCK:
            _discard(lock, "a lock left by a process that is gone")
    except OSError:
        pass


# ---- ACR tokens


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified: only to read its expiry or whom it names (never trusted for
    access — the registry checks the signature). {} when it is not a JWT."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def acr_key(*parts: str) -> str:
    return hashlib.sha256("\n".join(p.lower() for p in parts).encode()).hexdigest()


def _acr_file() -> Path | None:
    where = folder()
    return None if where is None else where / ACR_FILE


def _read_acr(path: Path) -> dict[str, dict[str, Any]]:
    if not _private(path):
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("tokens"), dict):
        return {}
    return {
        k: v
        for k, v in data["tokens"].items()
        if isinstance(v, dict) and isinstance(v.get("token"), str) and isinstance(v.get("exp"), int | float)
    }


def _write_acr(path: Path, tokens: dict[str, dict[str, Any]]) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".acr-")  # created 0600
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"format": FORMAT, "tokens": tokens}, fh)
        os.replace(tmp, path)  # atomic; also replaces a file that was ignored for its mode
    except OSError:
        pass  # an unwritable cache only costs the next process a token request


def acr_get(key: str, margin: float) -> str | None:
    path = _acr_file()
    if path is None:
        return None
    entry = _read_acr(path).get(key)
    if entry is None or float(entry["exp"]) - time.time() <= margin:
        return None
    return str(entry["token"])


def acr_put(key: str, token: str) -> None:
    """Remember an ACR token until its own `exp` claim (a token without one is not kept)."""
    exp = jwt_claims(token).get("exp")
    path = _acr_file()
    if path is None or not isinstance(exp, int | float) or exp <= time.time():
        return
    with _lock:
        now = time.time()
        tokens = {k: v for k, v in _read_acr(path).items() if float(v["exp"]) > now}  # prune expired
        tokens[key] = {"token": token, "exp": exp}
        _write_acr(path, tokens)


def acr_forget(*keys: str) -> None:
    """Drop tokens the registry refused (revoked, or from a registry that was re-created)."""
    path = _acr_file()
    if path is None:
        return
    with _lock:
        tokens = _read_acr(path)
        if [k for k in keys if tokens.pop(k, None) is not None]:
            _write_acr(path, tokens)
