"""Where the official Azure REST specs come from. They are Microsoft's files, not ours: this
repository keeps only a pin list (`azure-specs.pins.tsv`: upstream path, size, sha256, commit) and
finds the files, in order, at

1. `$GENAIOPS_AZURE_SPECS` (a folder laid out like the upstream repository),
2. `../shared/azure-specs` beside the repository checkout,
3. a local cache (`$XDG_CACHE_HOME/genaiops/azure-specs/<pin list hash>`) filled earlier by 4,
4. a download of exactly the pinned files from the upstream repository at their pinned commits,
   each verified against its sha256 (only when the network allows; `GENAIOPS_AZURE_SPECS_DOWNLOAD=0`
   turns it off).

When none works, `locate()` says why, and callers skip only their spec assertions."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SPECS_ENV = "GENAIOPS_AZURE_SPECS"
DOWNLOAD_ENV = "GENAIOPS_AZURE_SPECS_DOWNLOAD"
PINS = Path(__file__).with_name("azure-specs.pins.tsv")
UPSTREAM = "https://raw.githubusercontent.com/Azure/azure-rest-api-specs"
COMPLETE_MARKER = ".verified"


@dataclass(frozen=True)
class Pin:
    path: str
    size: int
    sha256: str
    commit: str


@dataclass(frozen=True)
class Located:
    root: Path | None  # None: no specs; `reason` says what was tried
    source: str  # "env", "shared", "cache", "download" or "none"
    reason: str = ""

    @property
    def found(self) -> bool:
        return self.root is not None


def read_pins(path: Path = PINS) -> list[Pin]:
    pins = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            rel, size, sha, commit = line.split("\t")
            pins.append(Pin(rel, int(size), sha, commit))
    return pins


def pins_digest(pins: list[Pin]) -> str:
    return hashlib.sha256("\n".join(f"{p.path}\t{p.sha256}" for p in pins).encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mismatches(root: Path, pins: list[Pin]) -> list[str]:
    """Pinned files that are missing under `root` or whose bytes differ from the pin."""
    bad = []
    for pin in pins:
        file = root / pin.path
        if not file.is_file() or _sha256(file) != pin.sha256:
            bad.append(pin.path)
    return bad


def repo_shared_specs() -> Path:
    # sandbox/genaiops_sandbox/specs_source.py → the repository root is three levels up.
    return Path(__file__).resolve().parents[2].parent / "shared" / "azure-specs"


def cache_dir(pins: list[Pin]) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "genaiops" / "azure-specs" / pins_digest(pins)


def download(pins: list[Pin], dest: Path, base_url: str = UPSTREAM, timeout: float = 10.0) -> None:
    """Fetch every pinned file into `dest` (atomically: all verified, or nothing left behind)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=dest.parent))
    try:
        for pin in pins:
            with urllib.request.urlopen(f"{base_url}/{pin.commit}/{pin.path}", timeout=timeout) as resp:
                data = resp.read(pin.size + 1)
            digest = hashlib.sha256(data).hexdigest()
            if digest != pin.sha256:
                raise ValueError(f"{pin.path}: sha256 {digest[:12]}… is not the pinned {pin.sha256[:12]}…")
            target = staging / pin.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (staging / COMPLETE_MARKER).write_text(pins_digest(pins))
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _usable(root: Path) -> bool:
    return (root / "specification").is_dir()


def locate(
    pins: list[Pin] | None = None,
    allow_download: bool | None = None,
    shared: Path | None = None,
    base_url: str = UPSTREAM,
) -> Located:
    pins = pins if pins is not None else read_pins()
    tried = []
    explicit = os.environ.get(SPECS_ENV)
    if explicit:
        root = Path(explicit).expanduser().resolve()
        if _usable(root):
            return Located(root, "env")
        tried.append(f"${SPECS_ENV}={explicit} has no specification/ folder")
    shared = shared or repo_shared_specs()
    if _usable(shared):
        return Located(shared.resolve(), "shared")
    tried.append(f"no {shared}")
    cached = cache_dir(pins)
    if (cached / COMPLETE_MARKER).is_file():
        return Located(cached, "cache")
    if allow_download is None:
        allow_download = os.environ.get(DOWNLOAD_ENV, "1") != "0"
    if not allow_download:
        tried.append(f"download off (${DOWNLOAD_ENV}=0)")
        return Located(None, "none", "; ".join(tried))
    try:
        download(pins, cached, base_url)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        tried.append(f"download of the {len(pins)} pinned files failed ({exc})")
        return Located(None, "none", "; ".join(tried))
    return Located(cached, "download")
