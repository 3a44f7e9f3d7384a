"""The validated manifest, remembered between runs: every command that reads genaiops.yaml paid
≈ 150 ms of CPU for it (PyYAML, the line-aware composer, pydantic building the validators of ~30
models, the rules) — a third of a no-op command. A hit costs the models' class definitions
(`defer_build`: no validator is built until something validates) and one unpickle.

A cached manifest is used only when everything that shaped it is unchanged:
- the manifest's bytes (sha256) at the same absolute path;
- every environment variable interpolation looked up (name → value, or unset), recorded while it
  was loaded — a manifest whose `${VAR}` now reads differently is loaded afresh;
- the code that validates it: size and mtime of the manifest package's modules, errors.py,
  project_files.py, and the pydantic / pydantic-core versions, the Python version;
- the files it names (contexts, Dockerfiles, datasets, probes, templates) still stay inside the
  project — re-checked on every hit (named_files.py); any problem → the full load reports it.
A manifest with errors is never stored (ManifestError propagates from the full load).

Stored in $GENAIOPS_CACHE_DIR/manifests (default $XDG_CACHE_HOME/genaiops, i.e. ~/.cache/genaiops),
one pickle per manifest path, in a 0700 directory; a file not owned by this user or writable by
others is ignored (a pickle is code). GENAIOPS_NO_MANIFEST_CACHE=1 switches it off."""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from genaiops_cli.core.manifest import named_files
from genaiops_cli.core.manifest.model import MANIFEST_FILENAMES, Manifest
from genaiops_cli.core.project_files import FileProblem, read_regular

FORMAT = "genaiops-manifest-cache-1"
MAX_BYTES = 1024 * 1024  # as the loader: a larger file is refused there, never cached
MAX_ENTRIES = 32  # manifests remembered (one per path); the least recently written go first


def cache_dir() -> Path | None:
    if os.environ.get("GENAIOPS_NO_MANIFEST_CACHE"):
        return None
    base = os.environ.get("GENAIOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "genaiops"
    )
    return Path(base) / "manifests"


class RecordingEnviron(Mapping[str, str]):
    """os.environ as interpolation sees it, remembering every name asked for (None = unset)."""

    def __init__(self, base: Mapping[str, str]) -> None:
        self._base = base
        self.seen: dict[str, str | None] = {}
        self.iterated = False  # depended on the whole environment: not cacheable

    def __getitem__(self, name: str) -> str:
        value = self._base.get(name)
        self.seen[name] = value
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self.seen[name] = self._base.get(name)
        return self.seen[name] is not None

    def get(self, name: str, default: Any = None) -> Any:
        value = self._base.get(name)
        self.seen[name] = value
        return default if value is None else value

    def __iter__(self) -> Iterator[str]:
        self.iterated = True
        return iter(self._base)

    def __len__(self) -> int:
        self.iterated = True
        return len(self._base)


@lru_cache(maxsize=1)  # once per process: the code does not change under a running command
def code_fingerprint() -> tuple:
    import pydantic
    import pydantic_core

    here = Path(__file__).parent
    files = sorted(here.glob("*.py")) + [here.parent.parent / "errors.py", here.parent / "project_files.py"]
    stats = []
    for f in files:
        try:
            st = f.stat()
            stats.append((f.name, st.st_mtime_ns, st.st_size))
        except OSError:
            stats.append((f.name, 0, 0))
    return (FORMAT, sys.version, pydantic.VERSION, pydantic_core.__version__, tuple(stats))


def _entry_path(folder: Path, manifest: Path) -> Path:
    return folder / f"{hashlib.sha256(str(manifest).encode()).hexdigest()[:32]}.pickle"


def _read_entry(path: Path) -> dict | None:
    try:
        with path.open("rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                return None  # not ours alone: never unpickle it
            entry = pickle.load(fh)
    except Exception:  # unreadable, truncated, written by other code: a miss, never an error
        return None
    return entry if isinstance(entry, dict) else None


def _write_entry(path: Path, entry: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-")  # created 0600
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(entry, fh, protocol=pickle.HIGHEST_PROTOCOL)
        existed = path.exists()
        os.replace(tmp, path)
        if not existed:  # a new entry: the only time the count grows
            _prune(path.parent)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass  # a cache that cannot be written only costs the next run a full load


def _prune(folder: Path) -> None:
    """Keep MAX_ENTRIES: manifests in temporary directories must not pile up."""
    entries = []
    for entry in os.scandir(folder):
        if entry.name.endswith(".pickle"):
            try:
                entries.append((entry.stat().st_mtime_ns, entry.path))
            except OSError:
                continue
    for _, stale in sorted(entries, reverse=True)[MAX_ENTRIES:]:
        try:
            os.unlink(stale)
        except OSError:
            pass


def _still_valid(entry: dict, digest: str, environ: Mapping[str, str]) -> Manifest | None:
    manifest = entry.get("manifest")
    env = entry.get("env")
    if not isinstance(manifest, Manifest) or not isinstance(env, dict) or entry.get("digest") != digest:
        return None
    if entry.get("code") != code_fingerprint():
        return None
    if any(environ.get(name) != value for name, value in env.items()):
        return None
    project = Path(entry.get("project", ""))
    named = named_files.named_files(project, manifest.services, manifest.evaluations, manifest.environments)
    if named_files.problems(project, named):
        return None  # the full load reports it with file:line
    return manifest


def find_manifest(explicit: Path | None) -> Path:
    """loader.find_manifest without importing the loader when the answer is plain: `-f FILE` that is a
    file, or the nearest genaiops.yaml/.yml up from the cwd. Anything else (a directory, a missing
    file, nothing found) goes to the loader, which explains it."""
    if explicit is not None and Path(explicit).is_file():
        return Path(explicit)
    if explicit is None:
        here = Path.cwd().resolve()
        for folder in (here, *here.parents):
            for name in MANIFEST_FILENAMES:
                if (folder / name).is_file():
                    return folder / name
    from genaiops_cli.core.manifest.loader import find_manifest as explain

    return explain(explicit)


def load_manifest(path: Path) -> Manifest:
    """loader.load_manifest(path), from the cache when nothing that shaped it changed."""
    folder = cache_dir()
    try:
        absolute = Path(path).resolve()
        data = read_regular(absolute, MAX_BYTES)
    except (OSError, FileProblem, ValueError):
        folder = None  # the full load reports what is wrong with the file
    if folder is not None:
        digest = hashlib.sha256(data).hexdigest()
        entry_file = _entry_path(folder, absolute)
        entry = _read_entry(entry_file)
        cached = _still_valid(entry, digest, os.environ) if entry is not None else None
        if cached is not None:
            cached._path = Path(path)
            return cached
    from genaiops_cli.core.manifest.loader import load_manifest as full_load

    environ = RecordingEnviron(os.environ)
    manifest = full_load(Path(path), environ)
    if folder is None or environ.iterated:
        return manifest
    try:
        unchanged = hashlib.sha256(read_regular(absolute, MAX_BYTES)).hexdigest() == digest
    except (OSError, FileProblem):
        unchanged = False
    if unchanged:  # not edited while it was being loaded
        entry = {
            "code": code_fingerprint(),
            "digest": digest,
            "env": dict(environ.seen),
            "project": str(absolute.parent),
            "manifest": manifest,
        }
        _write_entry(entry_file, entry)
    return manifest
