"""What a build sees, and the source hash that decides whether a build is needed at all.

The file set follows Docker's .dockerignore rules (moby/patternmatcher): patterns are cleaned, a
leading '/' is dropped, '**' spans directories, '!' re-includes, the last matching pattern wins and
a pattern that matches a parent directory matches everything below it. The Dockerfile and the
.dockerignore are always part of the context, as with `docker build`.

Pure: standard library only, so `build` can decide "up to date" before loading any SDK.

Content digests are remembered per context (see DigestCache) keyed by each file's full stat, so an
unchanged tree is walked and stat'ed but not re-read and re-hashed."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import stat
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

HASH_VERSION = "genaiops-source-v1"


@dataclass(frozen=True)
class IgnorePattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(.*/)?")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out))


def parse_dockerignore(text: str) -> list[IgnorePattern]:
    patterns: list[IgnorePattern] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        line = posixpath.normpath(line.replace("\\", "/")) if line else line
        if len(line) > 1 and line.startswith("/"):
            line = line.lstrip("/")
        if not line or line == ".":
            continue
        patterns.append(IgnorePattern(line, exclusion, _pattern_regex(line)))
    return patterns


def is_ignored(rel_path: str, patterns: list[IgnorePattern]) -> bool:
    """Docker's MatchesOrParentMatches: the last pattern matching the path or one of its parents wins."""
    parents = rel_path.split("/")[:-1]
    prefixes = ["/".join(parents[: i + 1]) for i in range(len(parents))]
    ignored = False
    for pattern in patterns:
        if pattern.regex.match(rel_path) or any(pattern.regex.match(p) for p in prefixes):
            ignored = not pattern.exclusion
    return ignored


@dataclass(frozen=True)
class ContextFile:
    path: str  # relative, '/'-separated
    kind: str  # "file" | "dir" | "symlink"
    mode: int
    digest: str = ""  # sha256 of content (files) or link target (symlinks)


@dataclass
class BuildContext:
    root: Path
    dockerfile: str  # relative to root, '/'-separated
    files: list[ContextFile] = field(default_factory=list)

    @property
    def file_count(self) -> int:
        return sum(1 for f in self.files if f.kind == "file")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# A file whose mtime or ctime is this close to the scan may still be written within the same timestamp
# tick (the "racily clean" case git's index knows): its digest is used but not remembered.
RACY_NS = 2_000_000_000
DIGEST_CACHE_FORMAT = "genaiops-context-digests-v1"


def digest_cache_dir() -> Path | None:
    """$GENAIOPS_CACHE_DIR or $XDG_CACHE_HOME/genaiops (~/.cache/genaiops), /contexts; None when
    GENAIOPS_NO_DIGEST_CACHE is set."""
    if os.environ.get("GENAIOPS_NO_DIGEST_CACHE"):
        return None
    base = os.environ.get("GENAIOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "genaiops"
    )
    return Path(base) / "contexts"


class DigestCache:
    """sha256 of each context file, reused while the file's stat is identical: size, mtime and ctime
    in nanoseconds, inode, device and mode. Any write changes mtime and ctime (and a restored mtime
    still changes ctime), so a changed file is always re-hashed. Files touched within RACY_NS of the
    scan are hashed but not remembered. One JSON file per context root, replaced atomically; a cache
    that cannot be read or written only costs the re-hash."""

    def __init__(self, root: Path, folder: Path | None) -> None:
        name = hashlib.sha256(str(root).encode()).hexdigest()[:32]
        self.path = folder / f"{name}.json" if folder is not None else None
        self.root = str(root)
        self.known: dict[str, list] = self._load()
        self.fresh: dict[str, list] = {}
        self.now_ns = time.time_ns()

    def _load(self) -> dict[str, list]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        ok = (
            isinstance(data, dict)
            and data.get("format") == DIGEST_CACHE_FORMAT
            and data.get("root") == self.root
        )
        files = data.get("files") if ok else None
        return files if isinstance(files, dict) else {}

    def digest(self, rel: str, full: Path, st: os.stat_result) -> str:
        key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_mode]
        hit = self.known.get(rel)
        if isinstance(hit, list) and len(hit) == 2 and hit[0] == key and isinstance(hit[1], str):
            digest = hit[1]
        else:
            digest = _sha256_file(full)
        if self.now_ns - max(st.st_mtime_ns, st.st_ctime_ns) > RACY_NS:
            self.fresh[rel] = [key, digest]
        return digest

    def save(self) -> None:
        if self.path is None or self.fresh == self.known:
            return
        body = {"format": DIGEST_CACHE_FORMAT, "root": self.root, "files": self.fresh}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".digests-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(body, fh, separators=(",", ":"))
            os.replace(tmp, self.path)
        except OSError:
            pass


def scan_context(root: Path, dockerfile: str = "Dockerfile", cache_dir: Path | None = None) -> BuildContext:
    """The files `docker build` would send for `root`, hashed (digests reused from the DigestCache in
    `cache_dir`, default digest_cache_dir()). Raises FileNotFoundError / NotADirectoryError for a
    missing context; the caller turns that into a BuildError."""
    root = root.resolve()
    if not root.is_dir():
        raise NotADirectoryError(str(root))
    digests = DigestCache(root, cache_dir if cache_dir is not None else digest_cache_dir())
    ignore_file = root / ".dockerignore"
    patterns = parse_dockerignore(ignore_file.read_text(errors="replace")) if ignore_file.exists() else []
    always = {dockerfile, ".dockerignore"}
    can_reinclude = any(p.exclusion for p in patterns)
    files: list[ContextFile] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir
        kept_dirs = []
        for name in sorted(dirnames):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            full = Path(dirpath, name)
            if full.is_symlink():
                filenames.append(name)  # a symlink to a dir is sent as a link, not followed
                continue
            ignored = is_ignored(rel, patterns)
            if not ignored:
                files.append(ContextFile(rel, "dir", stat.S_IMODE(full.lstat().st_mode)))
            if not ignored or can_reinclude:
                kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if rel not in always and is_ignored(rel, patterns):
                continue
            full = Path(dirpath, name)
            st = full.lstat()
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(full)
                files.append(ContextFile(rel, "symlink", 0o777, hashlib.sha256(target.encode()).hexdigest()))
            elif stat.S_ISREG(st.st_mode):
                files.append(
                    ContextFile(rel, "file", stat.S_IMODE(st.st_mode), digests.digest(rel, full, st))
                )
    files.sort(key=lambda f: f.path)
    digests.save()
    return BuildContext(root=root, dockerfile=dockerfile, files=files)


def source_hash(
    context: BuildContext,
    dockerfile_text: bytes,
    build_args: Mapping[str, str],
    platform: str | None,
    target: str | None = None,
    extra: Iterable[str] = (),
) -> str:
    """sha256 over everything that changes the image: the context files (path, type, exec bit,
    content), the Dockerfile, the interpolated build args, the platform and the target stage."""
    h = hashlib.sha256()
    h.update(HASH_VERSION.encode())
    for f in context.files:
        executable = "x" if f.mode & 0o111 and f.kind == "file" else "-"
        h.update(f"\0{f.kind}\0{f.path}\0{executable}\0{f.digest}".encode())
    h.update(b"\0dockerfile\0" + hashlib.sha256(dockerfile_text).hexdigest().encode())
    h.update(
        json.dumps(
            {
                "args": dict(sorted(build_args.items())),
                "platform": platform or "",
                "target": target or "",
                "extra": list(extra),
            },
            sort_keys=True,
        ).encode()
    )
    return h.hexdigest()
