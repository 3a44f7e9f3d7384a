"""Rendered `--help` screens, cached on disk so a repeated `genaiops [GROUP] [COMMAND] --help` costs
an interpreter start and one file read instead of typer + rich + pydantic (see launcher.py).

Correctness rests on the key. A screen is reused only when everything that shapes it is the same:
- the argv (only `--help`/`-h` after at most two command words is cached: nothing else to parse),
- the code: size and mtime of every module of genaiops_cli, commands/ and of typer's and rich's
  `__init__` (an upgrade rewrites them), the Python version and executable,
- the terminal: which of stdin/stdout/stderr are TTYs, their sizes, stdout's encoding,
- every environment variable typer, rich or genaiops read for layout and colour (COLUMNS, TERM*,
  NO_COLOR, FORCE_COLOR, …, GENAIOPS_*).
The file name hashes argv + terminal + environment; the code fingerprint is stored inside and compared,
so an upgrade overwrites the entry instead of adding one. GENAIOPS_HELP_CACHE=0 switches it off.
Only the standard library is imported here: this runs before anything else.
"""

from __future__ import annotations

import os
import re
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_WORD = re.compile(r"[a-z][a-z0-9-]*\Z")
_HELP = ("--help", "-h")
# Environment that typer, rich or genaiops read when laying out or colouring help text.
_ENV = re.compile(
    r"(COLUMNS|LINES|TERM.*|COLORTERM|.*COLOR.*|PY_COLORS|CI|GITHUB_ACTIONS|TTY_.*|JUPYTER_.*|"
    r"DATABRICKS_.*|_?TYPER_.*|GENAIOPS_.*|LANG|LC_.*|PYTHONIOENCODING|PYTHONUTF8|HOME|XDG_.*|"
    r"VSCODE_.*|WT_SESSION|ANSICON|ConEmuANSI)\Z"
)
_FORMAT = "genaiops-help-cache 1"


def _enabled() -> bool:
    return os.environ.get("GENAIOPS_HELP_CACHE", "1") not in ("0", "false", "no", "off")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "genaiops" / "help"


def key_for(args: list[str]) -> str | None:
    """The cache key of a help-shaped argv, or None when the argv is not one (or caching is off)."""
    if not _enabled() or not 1 <= len(args) <= 3 or args[-1] not in _HELP:
        return None
    if not all(_WORD.match(word) for word in args[:-1]):
        return None
    terminal = []
    for fd in (0, 1, 2):
        try:
            terminal.append(os.get_terminal_size(fd) if os.isatty(fd) else None)
        except OSError:
            terminal.append(None)
    env = sorted((k, v) for k, v in os.environ.items() if _ENV.match(k))
    encoding = getattr(sys.stdout, "encoding", None)
    return repr((_FORMAT, args, terminal, encoding, env))


def _fingerprint() -> str:
    package = Path(__file__).parent
    stats = []
    for folder in (package, package / "commands"):
        with os.scandir(folder) as entries:
            stats += [
                (e.path, e.stat().st_mtime_ns, e.stat().st_size) for e in entries if e.name.endswith(".py")
            ]
    from importlib.util import find_spec

    for name in ("typer", "rich"):
        spec = find_spec(name)
        origin = spec.origin if spec is not None else None
        stat = os.stat(origin) if origin else None
        stats.append((name, origin, stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0))
    return repr((sys.version, sys.executable, sorted(stats, key=repr)))


def _path(key: str) -> Path:
    return cache_dir() / f"{zlib.crc32(key.encode()):08x}.txt"


def serve(key: str) -> bool:
    """Print the cached screen for key; False when there is none valid for this code."""
    try:
        stored = _path(key).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    header, sep, screen = stored.partition("\n\0\n")
    if not sep or header != f"{key}\n{_fingerprint()}":
        return False
    sys.stdout.write(screen)
    sys.stdout.flush()
    return True


def _store(key: str, screen: str) -> None:
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(f"{key}\n{_fingerprint()}\n\0\n{screen}", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs the next run its render


class _Tee:
    """stdout for typer/rich (TTY-ness, size, encoding all the real stream's), recording the text."""

    def __init__(self, stream: object) -> None:
        self._stream = stream
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        written = self._stream.write(text)  # type: ignore[attr-defined]
        self.parts.append(text)  # after: click probes for a binary stream with write(b"")
        return written

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


@contextmanager
def recording(key: str) -> Iterator[None]:
    """Run the CLI with stdout recorded; store the screen if it exited 0 having printed something."""
    real, tee = sys.stdout, _Tee(sys.stdout)
    sys.stdout = tee  # type: ignore[assignment]
    code: object = 1
    try:
        yield
        code = 0
    except SystemExit as exc:
        code = exc.code
        raise
    finally:
        sys.stdout = real
        if code in (0, None) and tee.parts:
            _store(key, "".join(tee.parts))
