"""A small on-disk cache for cloud lookups whose answer cannot change while the resource exists — today
a registry's login server. It lets a no-op `build -e ENV` skip Entra sign-in, the SDK imports and the
ARM round trip (≈ 0.7 s of its 1 s).

Entries are keyed by everything that names the resource (ARM endpoint, subscription, resource group,
name): a new stand-in gets a new subscription id and endpoint, so its entries never match an old one.
They expire after MAX_AGE anyway, and a caller that finds the cached answer wrong (the registry
refuses it) drops the entry with `forget`. Nothing secret is stored. Lives in $XDG_CACHE_HOME/genaiops
(GENAIOPS_CACHE_DIR overrides; GENAIOPS_NO_LOOKUP_CACHE=1 turns it off)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

MAX_AGE = 24 * 3600.0
FILE_NAME = "lookups.json"


def cache_file() -> Path | None:
    if os.environ.get("GENAIOPS_NO_LOOKUP_CACHE"):
        return None
    base = os.environ.get("GENAIOPS_CACHE_DIR")
    if base:
        return Path(base) / FILE_NAME
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "genaiops" / FILE_NAME


def _read(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: dict[str, dict]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lookups-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=0, sort_keys=True)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new file, never half
    except OSError:
        pass  # a cache that can't be written is just a cache miss next time


def key(*parts: str) -> str:
    return "|".join(p.lower() for p in parts)


def get(name: str, now: float | None = None) -> str | None:
    path = cache_file()
    if path is None:
        return None
    entry = _read(path).get(name)
    if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
        return None
    if (now or time.time()) - float(entry.get("at", 0)) > MAX_AGE:
        return None
    return str(entry["value"])


def put(name: str, value: str, now: float | None = None) -> None:
    path = cache_file()
    if path is None:
        return
    data = _read(path)
    current = now or time.time()
    data = {k: v for k, v in data.items() if current - float(v.get("at", 0)) <= MAX_AGE}  # prune
    data[name] = {"value": value, "at": current}
    _write(path, data)


def forget(name: str) -> None:
    path = cache_file()
    if path is None:
        return
    data = _read(path)
    if data.pop(name, None) is not None:
        _write(path, data)
