"""A no-op `build`, answered from a stamp before typer is imported (see launcher.py).

A `genaiops build` that finds every image up to date costs a fresh process ≈ 350 ms of CPU, almost
all of it importing typer, rich and pydantic to reach the same answer as last time; docker's client
answers its cache hit in ≈ 20 ms. When a full `build` run (no --push, --no-cache, --remote, --debug)
ends with every image up to date, this module writes a *no-op stamp*: everything that run's answer
depended on, and the exact text it printed. The next run with the same argv re-checks all of it with
stat calls, asks the engine once per image whether the image is still there with the same id, and
prints the same text; any difference, any error, anything unusual → the full path, unchanged.

What the stamp holds, and how it is gathered (while the full run executes, not by knowing the code):
- the key: argv exactly, cwd, uid, Python executable, version, flags and -W options, which of
  stdin/stdout/stderr are
  terminals and their sizes, the streams' encodings (text mode with stderr on a terminal is never
  stamped: the live progress display is time-dependent);
- every environment variable the run read (os.environ is swapped for a recording one), as a salted
  sha256 of its value — never the value; a run that iterated the whole environment keys on all of it;
- every path the run stat'ed, lstat'ed, opened or listed (os.stat/os.lstat wrapped, audit hooks for
  open and scandir/listdir): a file by its full stat (size, mtime/ctime ns, inode, device, mode — the
  digest cache's rule), a directory by identity (and by mtime, or its sorted names when it changed
  within 2 s, if it was listed), a missing path as missing. A file changed within 2 s of the stamp
  is compared by content (sha256) when small, except inside a build context, where it refuses the
  stamp (the digest cache's "racily clean" rule);
- the code: the file of every module loaded by the end of the run, by full stat;
- git HEAD of each build context (the build records carry the commit): re-read with `git rev-parse`;
- each image reference and its engine image id: one GET /images/<ref>/json each on the fast path;
- stdout and stderr in the order written, and the exit code (0).
A run is never stamped if it started a process other than git, connected anywhere but the Docker
engine's unix socket, wrote outside the project's build records and genaiops' cache directory, left
the environment changed, reached for a raw stdout/stderr buffer, or did not end with every image up
to date. The build records the run wrote are kept in the stamp as written: the fast path leaves a
record holding those bytes alone (the full path would rewrite the same bytes) and rewrites one that
another build changed only when the full path would write exactly those bytes over it (see
_records_to_write); otherwise it falls through. A successful no-op build writes no ledger entry,
event or CI annotation, so there is nothing else to replay.

Stamps live in $GENAIOPS_CACHE_DIR/noop (default ~/.cache/genaiops/noop): a 0700 directory, 0600 JSON
files, ignored unless owned by this user and not writable by others. GENAIOPS_FAST_BUILD=0 switches
it off. Only the standard library is imported here (and the engine probe, which is stdlib-only)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

FORMAT = "genaiops-noop-build-1"
RACY_NS = 2_000_000_000  # as core/build_context.py: a change within this window may not move mtime
MAX_HASHED = 1 << 20  # a racy file larger than this is not content-compared: no stamp
MAX_STAMPS = 64
DEFAULT_SOCKET = "/var/run/docker.sock"
_FLAGS = frozenset({"-q", "--quiet", "--no-color", "-y", "--yes", "-v", "--verbose"})
_VALUED = frozenset({"-e", "--env", "-f", "--manifest", "-o", "--output", "--platform"})
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_GIT_READS = frozenset({"rev-parse", "status", "config"})  # core/gitinfo.py's questions
_UNSAFE_EVENTS = frozenset({"os.system", "os.exec", "os.fork", "os.forkpty", "os.spawn", "pty.spawn"})


class _Refused(Exception):
    """This run cannot be stamped (or this stamp cannot be served)."""


def _trace(message: str) -> None:
    """Why the fast path was not taken, on stderr, only when GENAIOPS_FAST_BUILD_TRACE is set."""
    if os.environ.get("GENAIOPS_FAST_BUILD_TRACE"):
        sys.stderr.write(f"fast-build: {message}\n")


def _enabled() -> bool:
    return os.environ.get("GENAIOPS_FAST_BUILD", "1").lower() not in ("0", "false", "no", "off")


def stamp_dir() -> str:
    base = os.environ.get("GENAIOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "genaiops"
    )
    return os.path.join(base, "noop")


def _parse(args: list[str]) -> bool | None:
    """JSON output? for a plain `build` argv; None for anything else (other command, other option)."""
    command, json_mode, i = None, False, 0
    while i < len(args):
        arg = args[i]
        if arg in _VALUED:
            if i + 1 >= len(args):
                return None
            if arg in ("-o", "--output"):
                if args[i + 1] not in ("text", "json"):
                    return None
                json_mode = args[i + 1] == "json"
            i += 2
            continue
        if arg not in _FLAGS:
            if arg.startswith("-") or not _WORD.match(arg) or (command is None and arg != "build"):
                return None
            command = command or arg
        i += 1
    return json_mode if command else None


def _terminal() -> list:
    sizes: list = []
    for fd in (0, 1, 2):
        try:
            sizes.append(list(os.get_terminal_size(fd)) if os.isatty(fd) else None)
        except OSError:
            sizes.append(None)
    return sizes


def key_for(args: list[str]) -> str | None:
    """The stamp key of a `build` argv the fast path may answer, else None."""
    if not _enabled():
        return None
    json_mode = _parse(args)
    if json_mode is None:
        return None
    terminal = _terminal()
    if not json_mode and terminal[2] is not None:
        return None  # text mode on a terminal: a live, time-dependent progress display
    streams = [(getattr(s, "encoding", None), getattr(s, "errors", None)) for s in (sys.stdout, sys.stderr)]
    where = [os.getcwd(), os.getuid(), sys.executable, sys.version, list(sys.flags), sys.warnoptions]
    return json.dumps([FORMAT, args, where, terminal, streams])


def _stamp_path(key: str) -> str:
    return os.path.join(stamp_dir(), hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")


def _salted(salt: str, value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(f"{salt}\0{value}".encode()).hexdigest()


def _whole_environment(salt: str) -> str:
    return hashlib.sha256(f"{salt}\0{sorted(os.environ.items())!r}".encode()).hexdigest()


# -- evidence: how a path looked -------------------------------------------------------------------


def _sha256(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _names(path: str) -> str:
    return hashlib.sha256("\0".join(sorted(os.listdir(path))).encode()).hexdigest()


def _look(kind: str, path: str) -> os.stat_result | None:
    try:
        return os.lstat(path) if kind == "lstat" else os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _form(kind: str, path: str, st: os.stat_result | None) -> list | None:
    """The evidence of one path as the fast path compares it (no content, no racy decision)."""
    if st is None:
        return None
    mode = st.st_mode
    if kind == "list":
        return ["D", st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, mode]
    if stat.S_ISDIR(mode):  # stat'ed only: its identity, not the entries it holds
        return ["d", st.st_ino, st.st_dev, mode]
    if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
        return ["f", st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, mode]
    return ["o", st.st_ino, st.st_dev, mode]  # a socket or device: what it is, not what it holds


def _racy_form(kind: str, path: str, st: os.stat_result) -> list:
    """The evidence of a path changed within RACY_NS: by content, since its stat may not move."""
    if kind == "list":
        return ["N", st.st_ino, st.st_dev, st.st_mode, _names(path)]
    if stat.S_ISREG(st.st_mode) and st.st_size <= MAX_HASHED:
        return ["h", st.st_ino, st.st_dev, st.st_mode, st.st_size, _sha256(path)]
    raise _Refused(f"{path} changed within {RACY_NS // 10**9} s")


def _observe(kind: str, path: str, expected: list | None) -> list | None:
    """How the path looks now, in the form the stamp recorded."""
    st = _look("stat" if kind == "list" else kind, path)
    if st is None or expected is None or expected[0] not in ("h", "N"):
        return _form(kind, path, st)
    if expected[0] == "N":
        return ["N", st.st_ino, st.st_dev, st.st_mode, _names(path)] if stat.S_ISDIR(st.st_mode) else None
    if not stat.S_ISREG(st.st_mode) or st.st_size != expected[4]:
        return None
    return ["h", st.st_ino, st.st_dev, st.st_mode, st.st_size, _sha256(path)]


# -- the fast path ---------------------------------------------------------------------------------


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


_RECORD_REQUIRED = ("service", "source_hash", "repository", "tag", "image", "status")


def _previous(text: str | None) -> dict | None:
    """A build record as core/records.py load_record reads it: None when missing or unusable."""
    try:
        data = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return data if isinstance(data, dict) and all(k in data for k in _RECORD_REQUIRED) else None


def _records_to_write(records: list) -> list | None:
    """The build records to write, as the full path would: it rewrites each with the bytes the stamp
    holds, unless the record it reads first changes what it writes. core/build.py build_one keeps the
    previous digest and push time only when the previous record has the same source hash and
    registry; so another command's record (`build -e ENV` after `build`) is replaced by exactly the
    stamped bytes when that rule gives the stamped digest and push time, else → None (full path)."""
    pending = []
    for path, text in records:
        current = _read_text(path)
        if current == text:
            continue  # the full path rewrites the same bytes
        wrote, previous = json.loads(text), _previous(current)
        same = previous is not None and (previous["source_hash"], previous.get("registry")) == (
            wrote["source_hash"],
            wrote.get("registry"),
        )
        kept = (previous.get("digest"), previous.get("pushed_at")) if same else (None, None)  # type: ignore[union-attr]
        if kept != (wrote.get("digest"), wrote.get("pushed_at")):
            return None
        pending.append((path, text))
    return pending


def _write_records(pending: list) -> None:
    """As core/records.py save_record: a sibling .tmp file, then an atomic replace."""
    for path, text in pending:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = os.path.splitext(path)[0] + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)


def _read_stamp(path: str) -> dict | None:
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                return None  # not ours alone: never trusted
            stamp = json.load(fh)
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def _git_head(directory: str) -> str | None:
    """`git rev-parse HEAD` run in directory, as core/gitinfo.py asks it; None when that fails. Spawned
    without the subprocess module (its import costs more than the git run)."""
    read, write = os.pipe()
    try:
        with open(os.devnull, "wb") as null:
            pid = os.posix_spawnp(
                "git",
                ["git", "-C", directory, "rev-parse", "HEAD"],
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, null.fileno(), 0),
                    (os.POSIX_SPAWN_DUP2, write, 1),
                    (os.POSIX_SPAWN_DUP2, null.fileno(), 2),
                    (os.POSIX_SPAWN_CLOSE, read),
                ],
            )
    except FileNotFoundError:
        os.close(read)
        return None  # no git: gitinfo says None too
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as out:
        text = out.read().decode(errors="replace").strip()
    _, status = os.waitpid(pid, 0)
    return text if os.waitstatus_to_exitcode(status) == 0 and text else None


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def _quote(text: str) -> str:
    """urllib.parse.quote(text, safe="") as providers/docker/builder.py asks the engine, without
    importing urllib (≈ 10 ms on this path)."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode())


def _image_ids_unchanged(images: list) -> bool:
    """One GET /images/<ref>/json per image, as the full path's no-op asks: same id, still there."""
    if not (os.environ.get("DOCKER_HOST") or os.path.exists(DEFAULT_SOCKET)):
        return False  # the engine would come from the stand-in's profile: the full path knows how
    from genaiops_cli.providers.docker.engine import engine_get_json

    for reference, image_id in images:
        status, body = engine_get_json(f"/images/{_quote(reference)}/json")
        if status != 200 or not isinstance(body, dict) or body.get("Id") != image_id:
            return False
    return True


def _changed(stamp: dict, key: str) -> str | None:
    """What no longer holds of the stamp (None: everything does)."""
    if stamp.get("format") != FORMAT or stamp.get("key") != key:
        return "another key"
    salt = stamp["salt"]
    if stamp.get("environment") is not None and stamp["environment"] != _whole_environment(salt):
        return "the environment"
    for name, value in stamp["env"].items():
        if _salted(salt, os.environ.get(name)) != value:
            return f"${name}"
    for kind, path, form in stamp["paths"]:
        if _observe(kind, path, form) != form:
            return f"{kind} {path}"
    for directory, commit in stamp["git"]:
        if _git_head(directory) != commit:
            return f"git HEAD of {directory}"
    return None if _image_ids_unchanged(stamp["images"]) else "an image"


def serve(key: str) -> int | None:
    """Replay the recorded no-op output if everything it depended on is unchanged; its exit code,
    or None (nothing printed) for the full path."""
    stamp = _read_stamp(_stamp_path(key))
    if stamp is None:
        return None
    try:
        changed = _changed(stamp, key)
        pending = _records_to_write(stamp["records"]) if changed is None else None
        if changed is not None or pending is None:
            _trace(f"changed: {changed or 'a build record'}")
            return None
        chunks, code = stamp["output"], stamp["exit"]
        _write_records(pending)
    except Exception as exc:  # a damaged or foreign stamp, an engine that does not answer: full path
        _trace(f"stamp unusable: {exc!r}")
        return None
    streams = (sys.stdout, sys.stderr)
    for which, text in chunks:
        streams[which].write(text)
        streams[which].flush()
    return int(code)


# -- recording a full run --------------------------------------------------------------------------


class _RecordingEnviron(os._Environ):  # type: ignore[name-defined]
    """os.environ, remembering every name read or written (its value before the run touched it) and
    whether it was iterated."""

    def __init__(self, base: os._Environ) -> None:  # type: ignore[name-defined]
        super().__init__(base._data, base.encodekey, base.decodekey, base.encodevalue, base.decodevalue)
        self.seen: dict[str, str | None] = {}
        self.iterated = False

    def _original(self, key: str) -> None:
        if key not in self.seen:
            encoded = self.encodekey(key)
            self.seen[key] = self.decodevalue(self._data[encoded]) if encoded in self._data else None

    def __getitem__(self, key: str) -> str:
        try:
            value = super().__getitem__(key)
        except KeyError:
            self.seen.setdefault(key, None)
            raise
        self.seen.setdefault(key, value)
        return value

    def __iter__(self) -> Iterator[str]:
        self.iterated = True
        return super().__iter__()

    def __setitem__(self, key: str, value: str) -> None:
        self._original(key)  # typer sets and restores PYDANTIC_DISABLE_PLUGINS around a conversion
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._original(key)
        super().__delitem__(key)


class _Tee:
    """A stream for the CLI (TTY-ness, size, encoding all the real one's), recording what it writes."""

    def __init__(self, stream: object, which: int, recorder: _Recorder) -> None:
        self._stream, self._which, self._recorder = stream, which, recorder

    def write(self, text: str) -> int:
        written = self._stream.write(text)  # type: ignore[attr-defined]
        self._recorder.output.append([self._which, text])
        return written

    def __getattr__(self, name: str) -> object:
        if name == "buffer":  # bytes written there would bypass the record
            self._recorder.refuse("raw stream buffer")
        return getattr(self._stream, name)


def _absolute(path: object, cwd: str) -> str | None:
    if isinstance(path, int) or path is None:
        return None
    text = os.fsdecode(os.fspath(path))  # type: ignore[arg-type]
    return text if text.startswith("/") else os.path.join(cwd, text)


def _is_write(mode: object, flags: object) -> bool:
    if isinstance(mode, str) and any(c in mode for c in "wax+"):
        return True
    writes = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    return isinstance(flags, int) and bool(flags & writes)


class _Recorder:
    def __init__(self, key: str) -> None:
        self.key = key
        self.cwd = os.getcwd()
        self.salt = os.urandom(16).hex()
        self.environment = _whole_environment(self.salt)
        self.paths: dict[tuple[str, str], None] = {}  # (stat|lstat|list, absolute path), in order
        self.written: set[str] = set()
        self.connected: set[str] = set()
        self.refusals: list[str] = []
        self.output: list[list] = []
        self.active = False

    def refuse(self, why: str) -> None:
        self.refusals.append(why)

    def _note(self, kind: str, path: object) -> None:
        absolute = _absolute(path, self.cwd)
        if absolute is not None:
            self.paths[(kind, absolute)] = None

    def audit(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            if _is_write(args[1], args[2]):
                absolute = _absolute(args[0], self.cwd)
                if absolute is not None:
                    self.written.add(absolute)
            else:
                self._note("stat", args[0])
        elif event in ("os.scandir", "os.listdir"):
            self._note("list", args[0] if args[0] is not None else ".")
        elif event == "subprocess.Popen":
            argv = [os.fsdecode(a) for a in args[1]] if isinstance(args[1], list | tuple) else []
            if (
                not argv
                or os.path.basename(argv[0]) != "git"
                or argv[1:2] != [a for a in argv[1:2] if a in _GIT_READS]
            ):
                self.refuse(f"started {argv[:2]}")
        elif event == "socket.connect":
            self.connected.add(repr(args[1]))
        elif event in _UNSAFE_EVENTS:
            self.refuse(event)

    def start(self) -> None:
        from genaiops_cli import fast_build_note

        fast_build_note.NOTE = {}
        self.real = (os.environ, os.stat, os.lstat, sys.stdout, sys.stderr)
        self.env = _RecordingEnviron(os.environ)
        real_stat, real_lstat = os.stat, os.lstat

        def recording_stat(path, *, dir_fd=None, follow_symlinks=True):  # type: ignore[no-untyped-def]
            if self.active:
                if dir_fd is not None:
                    self.refuse("stat relative to a directory descriptor")
                self._note("stat" if follow_symlinks else "lstat", path)
            return real_stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)

        def recording_lstat(path, *, dir_fd=None):  # type: ignore[no-untyped-def]
            if self.active:
                if dir_fd is not None:
                    self.refuse("lstat relative to a directory descriptor")
                self._note("lstat", path)
            return real_lstat(path, dir_fd=dir_fd)

        os.environ, os.stat, os.lstat = self.env, recording_stat, recording_lstat  # type: ignore[assignment]
        sys.stdout, sys.stderr = _Tee(sys.stdout, 0, self), _Tee(sys.stderr, 1, self)  # type: ignore[assignment]
        sys.addaudithook(self.audit)  # cannot be removed: `active` turns it off
        self.active = True

    def stop(self) -> None:
        self.active = False
        os.environ, os.stat, os.lstat, sys.stdout, sys.stderr = self.real  # type: ignore[assignment]

    def stamp(self, code: object) -> dict:
        """The stamp of this run, or _Refused."""
        from genaiops_cli import fast_build_note

        note = fast_build_note.NOTE
        if code not in (0, None) or not note:
            raise _Refused("not a no-op build")
        if self.refusals:
            raise _Refused(", ".join(self.refusals))
        if _whole_environment(self.salt) != self.environment:
            raise _Refused("the run left the environment changed")
        self._check_reach(note)
        contexts = tuple(directory.rstrip("/") + "/" for directory, _ in note["git"])
        records = [[path, _read_text(path)] for path in note["records"]]
        if any(text is None for _, text in records):
            raise _Refused("a build record is missing")
        paths = []
        now = time.time_ns()
        for kind, path in self._everything():
            if path in note["records"]:
                continue  # compared by what the full path would write into it (_records_to_write)
            st = _look("stat" if kind == "list" else kind, path)
            racy = st is not None and now - max(st.st_mtime_ns, st.st_ctime_ns) <= RACY_NS
            if racy and kind != "list" and not stat.S_ISDIR(st.st_mode) and path.startswith(contexts):
                raise _Refused(f"{path} in a build context changed within {RACY_NS // 10**9} s")
            racy = racy and (kind == "list" or not stat.S_ISDIR(st.st_mode))  # type: ignore[union-attr]
            paths.append([kind, path, _racy_form(kind, path, st) if racy else _form(kind, path, st)])  # type: ignore[arg-type]
        env = {name: _salted(self.salt, value) for name, value in self.env.seen.items()}
        return {
            "format": FORMAT,
            "key": self.key,
            "salt": self.salt,
            "environment": self.environment if self.env.iterated else None,
            "env": env,
            "paths": paths,
            "git": note["git"],
            "images": note["images"],
            "records": records,
            "output": self.output,
            "exit": 0,
        }

    def _check_reach(self, note: dict) -> None:
        """Nothing reached beyond the engine's socket, the build records and genaiops' caches."""
        engine = os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
        if not engine.startswith("unix://") or not all(
            c == repr(engine[len("unix://") :]) for c in self.connected
        ):
            raise _Refused(f"connected to {sorted(self.connected)}")
        allowed = (
            os.path.join(note["base_dir"], ".genaiops", "builds") + "/",
            os.path.dirname(stamp_dir()) + "/",
        )
        outside = sorted(p for p in self.written if not p.startswith(allowed))
        if outside:
            raise _Refused(f"wrote {outside[:3]}")

    def _everything(self) -> list[tuple[str, str]]:
        """Every path the run looked at that still matters, and the file of every loaded module."""
        noop = stamp_dir() + "/"
        # bytecode the import system opened: the module's source (its __file__, below) decides
        seen = {p: None for p in self.paths if not p[1].endswith(".pyc") and not p[1].startswith(noop)}
        for module in list(sys.modules.values()):
            origin = getattr(module, "__file__", None)
            if isinstance(origin, str) and origin.startswith("/"):
                seen[("stat", origin)] = None
        return list(seen)


def _save(stamp: dict) -> None:
    import tempfile  # only when stamping: its import alone costs the fast path ~10 ms

    path = _stamp_path(stamp["key"])
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".stamp-")  # created 0600
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(stamp, fh, separators=(",", ":"))
        os.replace(tmp, path)
        _prune(folder)
    except OSError:
        pass  # no stamp: the next run takes the full path


def _prune(folder: str) -> None:
    entries = []
    for entry in os.scandir(folder):
        if entry.name.endswith(".json"):
            try:
                entries.append((entry.stat().st_mtime_ns, entry.path))
            except OSError:
                continue
    for _, stale in sorted(entries, reverse=True)[MAX_STAMPS:]:
        try:
            os.unlink(stale)
        except OSError:
            pass


@contextmanager
def recording(key: str) -> Iterator[None]:
    """Run the full CLI recording what it depends on; stamp it if it was a clean no-op build."""
    recorder = _Recorder(key)
    recorder.start()
    code: object = 1
    try:
        yield
        code = 0
    except SystemExit as exc:
        code = exc.code
        raise
    finally:
        recorder.stop()
        try:
            _save(recorder.stamp(code))
        except Exception as exc:  # _Refused, or anything else: recording never changes the run
            _trace(f"not stamped: {exc}")
