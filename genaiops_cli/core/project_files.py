"""Files a manifest names: inside the project, regular, and read without hanging.

A manifest can come from an untrusted pull request. A dataset or probe file pointing at `../..`,
an absolute path or a symlink to /etc/passwd would have its lines sent to the target as requests,
so every file a manifest names must resolve (symlinks included) inside the project directory —
unless whoever runs genaiops opts in with GENAIOPS_ALLOW_OUTSIDE_PROJECT=1 (an environment variable
of the runner, not a manifest setting, so the manifest cannot grant it to itself).

Opening a FIFO for reading blocks until a writer appears, and a character device (/dev/zero) never
ends: files are opened non-blocking and refused unless they are regular files."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from pathlib import Path

ALLOW_OUTSIDE_ENV = "GENAIOPS_ALLOW_OUTSIDE_PROJECT"


class FileProblem(Exception):
    """Why a named file cannot be used, with a hint; callers turn it into their own error type."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def outside_allowed(environ: Mapping[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get(ALLOW_OUTSIDE_ENV, "")
    return value.strip().lower() in ("1", "true", "yes")


def check_inside(project: Path, named: str | Path, environ: Mapping[str, str] | None = None) -> Path:
    """The resolved path of `named` (relative to `project`); FileProblem when it leaves the project."""
    root = Path(project).resolve()
    if "\x00" in str(named):
        raise FileProblem(
            f"{str(named)!r} contains a NUL character", "name a file path without control characters"
        )
    try:
        target = (root / named).resolve()  # follows symlinks: a link to /etc/passwd resolves there
    except (OSError, ValueError) as exc:  # e.g. a symlink loop or a name the OS refuses
        raise FileProblem(
            f"{str(named)!r} is not a usable path: {exc}", "name a file inside the project"
        ) from None
    if target == root or root in target.parents or outside_allowed(environ):
        return target
    return _refuse(named, target, root)


def _refuse(named: str | Path, target: Path, root: Path) -> Path:
    raise FileProblem(
        f"{str(named)!r} resolves to {target}, outside the project {root}",
        "keep the files a manifest names inside its directory; a runner that trusts the manifest "
        f"can allow outside files with {ALLOW_OUTSIDE_ENV}=1",
    )


def check_regular(path: Path) -> None:
    """FileProblem unless `path` is missing or a regular file (FIFOs, devices, sockets refused)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise FileProblem(f"cannot read {path}: {exc.strerror or exc}", "check the path") from None
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise FileProblem(f"{path} is not a regular file ({_kind(mode)})", "point it at a plain file")


def read_regular(path: Path, max_bytes: int) -> bytes:
    """Up to max_bytes + 1 bytes of a regular file, never blocking on a FIFO or reading a device."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO opened for... writing only; keep the message uniform
            raise FileProblem(f"{path} is not a regular file (FIFO)", "point it at a plain file") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise FileProblem(f"{path} is not a regular file ({_kind(mode)})", "point it at a plain file")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            return fh.read(max_bytes + 1)
    finally:
        if fd >= 0:
            os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"
