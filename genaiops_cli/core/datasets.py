"""Versioned, content-addressed datasets in an environment's storage (the DatasetStore port).

A dataset version is its content: the SHA-256 of its files (sorted relative path + each file's
SHA-256), so the same bytes always give the same version and a changed byte a new one — pushing
twice is a no-op, and `foundry:NAME@VERSION` in a manifest names exactly one set of bytes.
`@latest` is the most recently pushed version; evaluations resolve it once and record the pinned
`foundry:NAME@VERSION` in their evidence. Reading a version back checks every file's SHA-256, so
what gates a release is what was pushed."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genaiops_cli.errors import ExitCode, GenAIOpsError, UsageError

SCHEME = "foundry:"
LATEST = "latest"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
VERSION = re.compile(r"^[0-9a-f]{12}$")
DATA_SUFFIXES = (".jsonl", ".csv")
MAX_FILES = 10_000


class DatasetNotFound(UsageError):
    code = "dataset_not_found"


class DatasetCorrupt(GenAIOpsError):
    """Stored bytes that do not match their record: exit 6, as a registry blob failing its digest
    check (registry_raw.py) — the storage is wrong, not genaiops (exit 1 would say a bug)."""

    exit_code = ExitCode.BUILD
    code = "dataset_corrupt"


@dataclass(frozen=True)
class DatasetRef:
    name: str
    version: str  # a version or "latest"

    def __str__(self) -> str:
        return f"{SCHEME}{self.name}@{self.version}"


def is_remote(value: str) -> bool:
    return value.startswith(SCHEME)


def parse_ref(text: str, *, default_latest: bool = True) -> DatasetRef:
    """`NAME`, `NAME@VERSION`, `NAME@latest`, with or without the `foundry:` prefix."""
    body = text[len(SCHEME) :] if text.startswith(SCHEME) else text
    name, at, version = body.partition("@")
    if not NAME.match(name):
        raise UsageError(
            f"bad dataset name {name!r}",
            hint="letters, digits, '.', '_' or '-' (up to 128), e.g. `foundry:qa-set@latest`",
        )
    if not at:
        if not default_latest:
            raise UsageError(f"dataset {text!r} names no version", hint=f"use `{SCHEME}{name}@latest`")
        version = LATEST
    if version != LATEST and not VERSION.match(version):
        raise UsageError(
            f"bad dataset version {version!r}",
            hint="a version is the 12 hex digits `genaiops data push` printed, or `latest`",
        )
    return DatasetRef(name, version)


def collect(path: Path) -> dict[str, bytes]:
    """The files of a dataset: one .jsonl/.csv file, or every regular file under a folder (relative
    POSIX paths; symlinks and hidden entries skipped so a push never leaves the folder)."""
    if path.is_file():
        if path.suffix.lower() not in DATA_SUFFIXES:
            raise UsageError(f"{path}: not a .jsonl or .csv file", hint="push a .jsonl/.csv file or a folder")
        return {path.name: path.read_bytes()}
    if not path.is_dir():
        raise UsageError(f"{path}: no such file or folder", hint="give a .jsonl/.csv file or a folder")
    files: dict[str, bytes] = {}
    for item in sorted(path.rglob("*")):
        rel = item.relative_to(path)
        if any(p.startswith(".") for p in rel.parts) or item.is_symlink() or not item.is_file():
            continue
        files[rel.as_posix()] = item.read_bytes()
        if len(files) > MAX_FILES:
            raise UsageError(f"{path}: more than {MAX_FILES} files", hint="push a smaller folder")
    if not files:
        raise UsageError(f"{path}: the folder has no files", hint="add the dataset's .jsonl/.csv files")
    return files


def check_rows(path: Path, files: Mapping[str, bytes]) -> None:
    """Every .jsonl/.csv file parses (DatasetError, exit 3, with file:line otherwise): a dataset
    that cannot gate anything is refused before it is uploaded."""
    from genaiops_cli.core.evaluation.dataset import load_rows

    for rel in files:
        if rel.lower().endswith(DATA_SUFFIXES):
            load_rows(path if path.is_file() else path / rel)


def digest(files: Mapping[str, bytes]) -> tuple[str, dict[str, str]]:
    """(tree SHA-256, per-file SHA-256). The tree hash covers paths and contents, in path order."""
    each = {p: hashlib.sha256(files[p]).hexdigest() for p in sorted(files)}
    tree = hashlib.sha256("".join(f"{p}\0{h}\n" for p, h in each.items()).encode()).hexdigest()
    return tree, each


def push(
    store: Any, name: str, files: Mapping[str, bytes], now: dt.datetime | None = None
) -> tuple[dict, bool]:
    """Store `files` as a content-addressed version of `name`: (its record, whether it is new)."""
    parse_ref(name)  # the name's rules
    tree, each = digest(files)
    version = tree[:12]
    for existing in store.versions(name):
        if existing.get("version") == version:
            return dict(existing), False
    record = {
        "name": name,
        "version": version,
        "sha256": tree,
        "files": each,
        "bytes": sum(len(b) for b in files.values()),
        "created": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="microseconds"),
    }
    created = store.put(name, version, files, record)
    return record, created


def resolve(store: Any, ref: DatasetRef) -> dict[str, Any]:
    """The full record `ref` names (with its files); `latest` is the most recently created version."""
    brief = _find(store, ref)
    return {**brief, **dict(store.record(ref.name, str(brief["version"])))}


def _find(store: Any, ref: DatasetRef) -> dict[str, Any]:
    versions = [dict(v) for v in store.versions(ref.name)]
    if not versions:
        raise DatasetNotFound(
            f"no dataset named {ref.name!r} in {store.location}",
            hint=f"push it first: genaiops data push {ref.name} PATH -e ENV",
        )
    if ref.version == LATEST:
        return max(versions, key=lambda v: (str(v.get("created", "")), str(v.get("version"))))
    for v in versions:
        if v.get("version") == ref.version:
            return v
    known = ", ".join(sorted(str(v.get("version")) for v in versions))
    raise DatasetNotFound(f"dataset {ref.name!r} has no version {ref.version!r}", hint=f"versions: {known}")


def cached(store: Any, record: Mapping[str, Any], cache: Path) -> Path:
    """The version's files under `cache/NAME/VERSION/`, downloaded once."""
    return materialize(store, record, cache / str(record["name"]) / str(record["version"]))


def materialize(store: Any, record: Mapping[str, Any], root: Path) -> Path:
    """The version's files written under `root` (a file already there with the right SHA-256 is
    kept; each download is checked against the record: a mismatch is DatasetCorrupt, never data)."""
    for rel, sha in dict(record.get("files") or {}).items():
        if rel.startswith("/") or ".." in rel.split("/"):  # a record is data: it never picks where we write
            raise DatasetCorrupt(
                f"{record['name']}@{record['version']}: bad file path {rel!r}", hint="push again"
            )
        local = root / rel
        if local.is_file() and hashlib.sha256(local.read_bytes()).hexdigest() == sha:
            continue
        data = store.read(record["name"], record["version"], rel)
        if hashlib.sha256(data).hexdigest() != sha:
            raise DatasetCorrupt(
                f"{record['name']}@{record['version']}: {rel} does not match its recorded SHA-256",
                hint=f"the stored blob was changed after the push: restore it, or delete the version's "
                f"blobs ({record['name']}/{record['version']}/ in the dataset container) and push again",
            )
        _write(local, data)
    return root


def _write(local: Path, data: bytes) -> None:
    """Write through a `.part` file (a reader never sees half a file); a folder that cannot be
    written (a file in its place, no permission, a full disk) is the caller's to fix, not a bug."""
    tmp = local.with_name(local.name + ".part")
    try:
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.replace(local)
    except OSError as exc:
        raise UsageError(
            f"cannot write {local}: {exc.strerror or exc}", hint="give a folder you can write to"
        ) from None


def data_file(record: Mapping[str, Any], root: Path) -> Path:
    """The one .jsonl/.csv file an evaluation reads from a version."""
    data = [p for p in dict(record.get("files") or {}) if p.lower().endswith(DATA_SUFFIXES)]
    if len(data) != 1:
        raise UsageError(
            f"{record['name']}@{record['version']} has {len(data)} data files; an evaluation reads one",
            hint="push the evaluation's file on its own (genaiops data push NAME FILE.jsonl)",
        )
    return root / data[0]


TAG = "genaiops-"  # prefix of the tags a registered version carries: its content summary


class RegisteredDatasets:
    """A DatasetStore whose registry of versions is the environment's Foundry project (a
    core.ports.DatasetRegistry). The bytes and records stay in the storage account, uploaded with
    Entra exactly as without a project; each new version is then registered in the project as a
    dataset version pointing at its blobs (uri_file for a single file, else uri_folder) and tagged
    with its content summary. Listing and `@latest` read the project. The SDK's upload helpers are
    never used: they upload through a SAS the project hands out."""

    def __init__(self, store: Any, registry: Any) -> None:
        self.store, self.registry = store, registry
        self.location = str(registry.location)

    def names(self) -> list[str]:
        return sorted(self.registry.names())

    def versions(self, name: str) -> list[dict[str, Any]]:
        return [registered_summary(v) for v in self.registry.versions(name)]

    def put(self, name: str, version: str, files: Mapping[str, bytes], record: Mapping[str, Any]) -> bool:
        """Upload (idempotent), then register unless the project already has this version: True
        when it was registered now."""
        self.store.put(name, version, files, record)
        if any(str(v.get("version")) == version for v in self.registry.versions(name)):
            return False
        (first,) = files if len(files) == 1 else ("",)
        single = bool(first) and "/" not in first
        uri = self.store.url(name, version, first if single else "")
        tags = {
            f"{TAG}sha256": str(record["sha256"]),
            f"{TAG}created": str(record["created"]),
            f"{TAG}bytes": str(record["bytes"]),
            f"{TAG}files": str(len(files)),
        }
        self.registry.register(name, version, uri, not single, tags)
        return True

    def record(self, name: str, version: str) -> Mapping[str, Any]:
        if not any(v.get("version") == version for v in self.store.versions(name)):
            raise DatasetNotFound(
                f"{name}@{version} is registered in {self.location} but has no content record in "
                f"{self.store.location}",
                hint=f"genaiops reads the datasets it pushed: genaiops data push {name} PATH -e ENV",
            )
        return self.store.record(name, version)

    def read(self, name: str, version: str, path: str) -> bytes:
        return bytes(self.store.read(name, version, path))

    def url(self, name: str, version: str, path: str = "") -> str:
        return str(self.store.url(name, version, path))


def registered_summary(version: Mapping[str, Any]) -> dict[str, Any]:
    """A registry entry (wire shape) as the summary DatasetStore.versions gives; a version that
    genaiops did not register has no content tags (empty sha256 and created)."""
    tags = dict(version.get("tags") or {})

    def number(key: str) -> int:
        text = str(tags.get(f"{TAG}{key}") or "0")
        return int(text) if text.isdigit() else 0

    return {
        "name": str(version.get("name", "")),
        "version": str(version.get("version", "")),
        "sha256": str(tags.get(f"{TAG}sha256", "")),
        "created": str(tags.get(f"{TAG}created", "")),
        "bytes": number("bytes"),
        "file_count": number("files"),
        "data_uri": str(version.get("dataUri", "")),
    }


CACHE_DIR = Path(".genaiops") / "datasets"


def fetcher(store_of: Callable[[], Any], project: Path) -> Callable[[str], tuple[Path, str]]:
    """What evaluations read a pushed dataset with: `foundry:NAME@VERSION|latest` → (the local
    copy of its data file under `<project>/.genaiops/datasets/`, the pinned `foundry:NAME@VERSION`).
    `store_of` is called only when a pushed dataset is named (opening an environment may cost a call)."""

    def fetch(text: str) -> tuple[Path, str]:
        store = store_of()
        record = resolve(store, parse_ref(text, default_latest=False))
        root = cached(store, record, Path(project) / CACHE_DIR)
        return data_file(record, root), f"{SCHEME}{record['name']}@{record['version']}"

    return fetch
