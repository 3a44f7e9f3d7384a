"""What `genaiops sandbox up|status|env|down|reset` do.

`up` makes sure a Docker engine answers (engine.py), then spawns the daemon
(`python -m genaiops_sandbox.daemon --state-dir D`, its own session, output to D/logs/daemon.out)
and waits until it has written D/profile.json and answers `GET {arm}/sandbox/health` over HTTPS
trusting the stand-in CA. Everything is found again through pid files, so `down` stops only what
`up` started. Light imports only: the CLI loads this module on every sandbox command."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genaiops_sandbox.errors import SandboxError
from genaiops_sandbox.profile import PROFILE_FILE, Profile

DAEMON_MODULE = "genaiops_sandbox.daemon"
DAEMON_PID = "daemon.pid"
LOG_DIR = "logs"
DAEMON_LOG = "daemon.out"
LOCK_FILE = "control.lock"
RETRY_AFTER_ENV = "GENAIOPS_SANDBOX_RETRY_AFTER"
# `reset` wipes a folder only if it looks like a sandbox state dir (one of these is there).
SHARED_ENGINE_FILE = "shared-engine"
_SANDBOX_MARKS = {
    PROFILE_FILE,
    DAEMON_PID,
    LOG_DIR,
    LOCK_FILE,
    SHARED_ENGINE_FILE,
    "engine",
    "registries",
    "tls",
    "token-secret",
}


def _log_path(state_dir: Path) -> Path:
    return state_dir / LOG_DIR / DAEMON_LOG


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill 0; reap it if it is one.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def _is_our_daemon(pid: int, state_dir: Path) -> bool:
    """Guard against pid reuse: only signal a process started with `--state-dir <this dir>`."""
    try:
        args = [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
    except OSError:
        return sys.platform != "linux"  # no /proc: trust the pid file
    return "--state-dir" in args and str(state_dir) in args


def _daemon_pid(state_dir: Path) -> int:
    try:
        return int((state_dir / DAEMON_PID).read_text().strip())
    except (OSError, ValueError):
        return 0


def _running_pid(state_dir: Path) -> int:
    pid = _daemon_pid(state_dir)
    return pid if pid and _pid_alive(pid) and _is_our_daemon(pid, state_dir) else 0


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Two `up`s at once must not spawn two daemons."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / LOCK_FILE, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def healthy(profile: Profile, timeout: float = 2.0) -> bool:
    ctx = ssl.create_default_context(cafile=profile.ca_bundle)
    try:
        with urllib.request.urlopen(
            f"{profile.arm_endpoint.rstrip('/')}/sandbox/health", context=ctx, timeout=timeout
        ) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ssl.SSLError, ValueError):
        return False


def _healthy_profile(state_dir: Path) -> Profile | None:
    if not _running_pid(state_dir):
        return None
    try:
        profile = Profile.load(state_dir)
    except (json.JSONDecodeError, TypeError):
        return None
    if profile and Path(profile.ca_bundle).exists() and healthy(profile):
        return profile
    return None


def up(
    state_dir: Path,
    retry_after: int | None = None,
    timeout: float = 30.0,
    daemon_argv: list[str] | None = None,
) -> Profile:
    """Start the stand-in (idempotent: returns at once when it is already up and healthy).

    `daemon_argv` replaces `python -m genaiops_sandbox.daemon` (tests); `--state-dir D` is
    always appended."""
    state_dir = state_dir.resolve()
    with _locked(state_dir):
        profile = _healthy_profile(state_dir)
        if profile:
            return profile
        stale = _running_pid(state_dir)
        if stale:  # alive but not healthy: give it a moment (it may be starting), else replace it
            profile = _wait_healthy(state_dir, stale, min(timeout, 10.0), raise_on_exit=False)
            if profile:
                return profile
            _stop_pid(stale)

        from genaiops_sandbox.engine import ensure_engine

        engine = ensure_engine(state_dir)
        (state_dir / LOG_DIR).mkdir(parents=True, exist_ok=True)
        (state_dir / PROFILE_FILE).unlink(missing_ok=True)  # only the new daemon's profile counts
        env = {**os.environ, "DOCKER_HOST": engine.docker_host, "PYTHONUNBUFFERED": "1"}
        if retry_after is not None:
            env[RETRY_AFTER_ENV] = str(retry_after)
        argv = (daemon_argv or [sys.executable, "-m", DAEMON_MODULE]) + ["--state-dir", str(state_dir)]
        log_path = _log_path(state_dir)
        with open(log_path, "ab") as log:
            log.write(f"\n--- sandbox up {time.strftime('%Y-%m-%dT%H:%M:%S')} ---\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(state_dir),
                start_new_session=True,  # outlives this CLI process and its terminal
            )
        (state_dir / DAEMON_PID).write_text(str(proc.pid))
        profile = _wait_healthy(state_dir, proc.pid, timeout, raise_on_exit=True)
        if profile is None:
            _stop_pid(proc.pid)
            (state_dir / DAEMON_PID).unlink(missing_ok=True)
            raise SandboxError(
                f"the sandbox daemon did not become healthy within {timeout:.0f} s; last lines of "
                f"{log_path}:\n{_tail(log_path)}",
                hint=f"see {log_path}; `genaiops sandbox reset` starts from a clean state",
            )
        return profile


def _wait_healthy(state_dir: Path, pid: int, timeout: float, raise_on_exit: bool) -> Profile | None:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            if not raise_on_exit:
                return None
            (state_dir / DAEMON_PID).unlink(missing_ok=True)
            log_path = _log_path(state_dir)
            raise SandboxError(
                f"the sandbox daemon exited during start; last lines of {log_path}:\n{_tail(log_path)}",
                hint=f"see {log_path}; `genaiops sandbox reset` starts from a clean state",
            )
        try:
            profile = Profile.load(state_dir)
        except (json.JSONDecodeError, TypeError):
            profile = None  # being written
        if profile and profile.pid in (0, pid) and healthy(profile, timeout=1.0):
            return profile
        time.sleep(delay)
        delay = min(delay * 1.5, 0.3)
    return None


def _stop_pid(pid: int, wait_seconds: float = 15.0) -> bool:
    if not _pid_alive(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    return True


def _registries(state_dir: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    root = state_dir / "registries"
    if root.exists():
        for ports in sorted(root.glob("*/ports.json")):
            with contextlib.suppress(OSError, ValueError, KeyError):
                out[ports.parent.name] = f"127.0.0.1:{json.loads(ports.read_text())['front']}"
    return out


def status(state_dir: Path) -> dict[str, Any]:
    state_dir = state_dir.resolve()
    pid = _running_pid(state_dir)
    profile = None
    with contextlib.suppress(json.JSONDecodeError, TypeError):
        profile = Profile.load(state_dir)
    engine_marker = state_dir / "engine" / "started-by-genaiops.json"
    engine: dict[str, Any] = {"started_by_us": engine_marker.exists()}
    if engine_marker.exists():
        with contextlib.suppress(OSError, ValueError):
            marker = json.loads(engine_marker.read_text())
            engine.update({"docker_host": marker.get("docker_host"), "pid": marker.get("pid")})
    elif profile:
        engine["docker_host"] = profile.docker_host
    report: dict[str, Any] = {
        "running": bool(pid),
        "healthy": bool(pid and profile and healthy(profile)),
        "state_dir": str(state_dir),
        "daemon_pid": pid or None,
        "engine": engine,
        "registries": _registries(state_dir),
        "log_file": str(_log_path(state_dir)),
    }
    if pid and profile:
        report.update(
            {"arm_endpoint": profile.arm_endpoint, "router": profile.router, "ca_bundle": profile.ca_bundle}
        )
    return report


def record_base_image(state_dir: Path, name: str) -> Profile:
    """Note in the profile that `name` (assembled by baseimage.ensure_base_image) is in the engine, so
    genaiops can offer it to builds. Under the state lock: the daemon's own writes do not race it."""
    import dataclasses

    state_dir = state_dir.resolve()
    with _locked(state_dir):
        profile = env(state_dir)
        if profile.base_image != name:
            profile = dataclasses.replace(profile, base_image=name)
            profile.save(state_dir)
    return profile


def env(state_dir: Path) -> Profile:
    state_dir = state_dir.resolve()
    profile = None
    with contextlib.suppress(json.JSONDecodeError, TypeError):
        profile = Profile.load(state_dir)
    if profile is None or not _running_pid(state_dir):
        raise SandboxError(
            f"the sandbox is not running in {state_dir}",
            hint="start it with `genaiops sandbox up`",
            code="sandbox_not_running",
        )
    return profile


def down(state_dir: Path) -> list[str]:
    """Stop the daemon (by its pid file) and the engine if — and only if — `up` started it.
    State is kept. Returns what was stopped."""
    from genaiops_sandbox.engine import stop_engine

    state_dir = state_dir.resolve()
    stopped: list[str] = []
    with _locked(state_dir):
        pid = _running_pid(state_dir)
        if pid and _stop_pid(pid):
            stopped.append(f"daemon (pid {pid})")
        (state_dir / DAEMON_PID).unlink(missing_ok=True)
        shared = _engine_of(state_dir)
        if shared:  # the profile goes, but a later reset must still find the revisions it left running
            (state_dir / SHARED_ENGINE_FILE).write_text(shared)
        (state_dir / PROFILE_FILE).unlink(missing_ok=True)
        stopped += _stop_orphan_registries(state_dir)
        if stop_engine(state_dir):
            stopped.append("docker engine")
    return stopped


def _stop_orphan_registries(state_dir: Path) -> list[str]:
    """Registry backends the daemon should have stopped (it was killed hard): ours by pid file and
    command line (which names our config file), never anything else."""
    stopped = []
    for pidfile in sorted((state_dir / "registries").glob("*/registry.pid")):
        with contextlib.suppress(OSError, ValueError):
            pid = int(pidfile.read_text().strip())
            config = str(pidfile.parent / "config.yml")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            if _pid_alive(pid) and config in cmdline:
                _stop_pid(pid, wait_seconds=5)
                stopped.append(f"registry {pidfile.parent.name} (pid {pid})")
        pidfile.unlink(missing_ok=True)
    return stopped


def reset(state_dir: Path) -> None:
    """`down`, then wipe the state dir (resources, registries, tokens, engine data)."""
    state_dir = state_dir.resolve()
    if not state_dir.exists():
        return
    entries = {entry.name for entry in state_dir.iterdir()}
    if state_dir in (Path("/"), Path.home().resolve()) or (entries and not entries & _SANDBOX_MARKS):
        raise SandboxError(
            f"refusing to wipe {state_dir}: it does not look like a sandbox state dir",
            hint="pass the sandbox's own --state-dir, or remove the folder yourself",
            code="sandbox_reset_refused",
        )
    docker_host = _engine_of(state_dir)
    down(state_dir)
    if docker_host:
        _remove_containers(state_dir, docker_host)
    _unmount_below(state_dir)
    shutil.rmtree(state_dir, ignore_errors=True)
    if state_dir.exists():
        shutil.rmtree(state_dir)  # second try surfaces the real error


def _engine_of(state_dir: Path) -> str | None:
    """The shared engine this stand-in ran its containers on (None: a private engine, which `down`
    stops with everything in it, or no profile)."""
    if (state_dir / "engine" / "started-by-genaiops.json").exists():
        return None
    with contextlib.suppress(json.JSONDecodeError, TypeError, OSError):
        profile = Profile.load(state_dir)
        if profile and profile.docker_host:
            return profile.docker_host
    with contextlib.suppress(OSError):  # written by `down`, which removes the profile
        return (state_dir / SHARED_ENGINE_FILE).read_text().strip() or None
    return None


def _remove_containers(state_dir: Path, docker_host: str) -> None:
    """The containers this stand-in started on a shared engine (its `genaiops.instance` label), so
    a reset leaves no revision running; other stand-ins' containers are never touched."""
    try:
        import docker  # heavy: imported only when a reset needs it

        from genaiops_sandbox.runtime import L_INSTANCE, instance_id

        client = docker.DockerClient(base_url=docker_host, timeout=30)
    except Exception:  # no engine or no docker module: nothing of ours can run there
        return
    try:
        label = f"{L_INSTANCE}={instance_id(state_dir)}"
        for ctr in client.containers.list(all=True, filters={"label": label}):
            with contextlib.suppress(Exception):
                ctr.remove(force=True)
    except Exception:  # engine gone meanwhile
        pass
    finally:
        client.close()


def _unmount_below(root: Path) -> None:
    """A dockerd that died hard can leave overlay mounts under its data root; rmtree can't pass them."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return
    prefix = str(root) + "/"
    points = sorted((line.split()[1] for line in mounts if line.split()[1].startswith(prefix)), reverse=True)
    for point in points:
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
