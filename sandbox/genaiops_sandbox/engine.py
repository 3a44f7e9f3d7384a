"""The Docker engine the stand-in runs revisions on.

Prefer an engine that already answers (DOCKER_HOST, else the default socket). Only when none does,
and we are root on Linux with `dockerd` installed, start a private one the way ../shared/RIG.md
measured it: own bridge, iptables untouched (a second dockerd with iptables on flushes the shared
DOCKER chains), all roots and the socket under the state dir. A marker file records that *we*
started it, so `stop_engine` never stops an engine somebody else owns."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from genaiops_sandbox.errors import SandboxError

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
ENGINE_DIR = "engine"
MARKER = "started-by-genaiops.json"
INSTALL_HINT = (
    "install Docker (Debian: `apt-get install -y docker.io`) and start it, or set DOCKER_HOST to a "
    "reachable engine; as root on Linux the sandbox starts a private dockerd by itself"
)
# Unix socket paths are limited to 108 bytes; containerd nests its own sockets under the exec root.
_MAX_EXEC_ROOT = 60


@dataclass(frozen=True)
class EngineInfo:
    docker_host: str
    started_by_us: bool


def engine_answers(docker_host: str, timeout: float = 2.0) -> bool:
    import docker

    try:
        client = docker.DockerClient(base_url=docker_host, timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure means "not usable", the caller decides what to do next
        return False


def _engine_dir(state_dir: Path) -> Path:
    return state_dir / ENGINE_DIR


def _exec_root(engine_dir: Path) -> Path:
    wanted = engine_dir / "exec"
    if len(str(wanted)) <= _MAX_EXEC_ROOT:
        return wanted
    digest = hashlib.sha256(str(engine_dir.resolve()).encode()).hexdigest()[:10]
    return Path("/tmp") / f"genaiops-exec-{digest}"


def _marker(state_dir: Path) -> dict | None:
    path = _engine_dir(state_dir) / MARKER
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_engine(state_dir: Path, wait_seconds: float = 10.0) -> EngineInfo:
    """A reachable engine; starts a private dockerd only when nothing else answers."""
    marker = _marker(state_dir)
    if marker and engine_answers(marker["docker_host"]):
        return EngineInfo(marker["docker_host"], started_by_us=True)

    candidates = [os.environ["DOCKER_HOST"]] if os.environ.get("DOCKER_HOST") else []
    candidates.append(DEFAULT_SOCKET)
    for host in candidates:
        if engine_answers(host):
            return EngineInfo(host, started_by_us=False)

    if not (sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("dockerd")):
        raise SandboxError(
            f"no Docker engine answers at {', '.join(candidates)}",
            hint=INSTALL_HINT,
            code="docker_unavailable",
        )
    return _start_private_engine(state_dir, wait_seconds)


def _used_networks() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False)
    nets = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if "inet" in parts:
            nets.append(ipaddress.ip_interface(parts[parts.index("inet") + 1]).network)
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True, check=False)
    for line in routes.stdout.splitlines():
        first = line.split()[0] if line.split() else ""
        if "/" in first:
            try:
                nets.append(ipaddress.ip_network(first, strict=False))
            except ValueError:
                pass
    return nets


def _pick_subnet(seed: str) -> ipaddress.IPv4Network:
    """A private /24 no interface or route uses; the start point depends on the state dir so two
    sandboxes on one machine don't race for the same one."""
    used = _used_networks()
    start = int(hashlib.sha256(seed.encode()).hexdigest(), 16) % 200
    for i in range(250):
        candidate = ipaddress.ip_network(f"10.{213 + (start + i) // 250 % 40}.{(start + i) % 250}.0/24")
        if not any(candidate.overlaps(n) for n in used):
            return candidate
    raise SandboxError("no free private /24 for the sandbox engine's bridge", hint=INSTALL_HINT)


def _ensure_bridge(name: str, subnet: ipaddress.IPv4Network) -> None:
    exists = subprocess.run(["ip", "link", "show", name], capture_output=True, check=False).returncode == 0
    if not exists:
        gateway = f"{next(subnet.hosts())}/{subnet.prefixlen}"
        for cmd in (
            ["ip", "link", "add", name, "type", "bridge"],
            ["ip", "addr", "add", gateway, "dev", name],
        ):
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if res.returncode != 0:
                raise SandboxError(f"`{' '.join(cmd)}` failed: {res.stderr.strip()}", hint=INSTALL_HINT)
    subprocess.run(["ip", "link", "set", name, "up"], capture_output=True, check=False)


def _start_private_engine(state_dir: Path, wait_seconds: float) -> EngineInfo:
    engine_dir = _engine_dir(state_dir)
    engine_dir.mkdir(parents=True, exist_ok=True)
    seed = str(engine_dir.resolve())
    bridge = "gnops" + hashlib.sha256(seed.encode()).hexdigest()[:8]
    subnet = _pick_subnet(seed)
    _ensure_bridge(bridge, subnet)

    socket = engine_dir / "docker.sock"
    pidfile = engine_dir / "dockerd.pid"
    exec_root = _exec_root(engine_dir)
    docker_host = f"unix://{socket}"
    log = open(engine_dir / "dockerd.log", "ab")
    proc = subprocess.Popen(
        [
            "dockerd",
            "-H",
            docker_host,
            "--data-root",
            str(engine_dir / "data"),
            "--exec-root",
            str(exec_root),
            "--pidfile",
            str(pidfile),
            "--iptables=false",
            "--ip-masq=false",
            "--bridge",
            bridge,
            "--storage-driver",
            "overlay2",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,  # survives the CLI process that started it
    )
    log.close()
    (engine_dir / MARKER).write_text(
        json.dumps({"pid": proc.pid, "docker_host": docker_host, "bridge": bridge, "subnet": str(subnet)})
    )
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if socket.exists() and engine_answers(docker_host, timeout=1.0):
            return EngineInfo(docker_host, started_by_us=True)
        time.sleep(0.1)
    tail = _tail(engine_dir / "dockerd.log")
    stop_engine(state_dir)
    raise SandboxError(
        f"the private dockerd did not answer within {wait_seconds:.0f} s; last log lines:\n{tail}",
        hint=INSTALL_HINT,
        code="docker_unavailable",
    )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_engine(state_dir: Path, wait_seconds: float = 15.0) -> bool:
    """Stop the engine only if we started it (marker + pid file). Returns whether one was stopped."""
    marker = _marker(state_dir)
    if not marker:
        return False
    engine_dir = _engine_dir(state_dir)
    pid = int(marker["pid"])
    pidfile = engine_dir / "dockerd.pid"
    if pidfile.exists():
        try:
            pid = int(pidfile.read_text().strip() or pid)
        except ValueError:
            pass
    stopped = False
    if _pid_alive(pid):
        _stop_containers(marker["docker_host"])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline and _pid_alive(pid):
            _reap(pid)
            time.sleep(0.1)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
        stopped = True
    subprocess.run(["ip", "link", "del", marker["bridge"]], capture_output=True, check=False)
    (engine_dir / MARKER).unlink(missing_ok=True)
    return stopped


def _stop_containers(docker_host: str, grace: int = 2) -> None:
    """Stop the private engine's containers with a short grace, all at once, before dockerd itself:
    dockerd gives each container its 10 s stop timeout on shutdown, and a PID 1 that ignores SIGTERM
    (most images without an init) made `sandbox down` take 16 s."""
    import threading

    import docker  # heavy: imported only when a private engine is stopped

    try:
        client = docker.DockerClient(base_url=docker_host, timeout=grace + 10)
        running = client.containers.list()
    except Exception:  # the engine is already gone or hung: dockerd's own shutdown handles the rest
        return

    def stop(ctr: object) -> None:
        try:
            ctr.stop(timeout=grace)  # type: ignore[attr-defined]
        except Exception:  # gone meanwhile
            pass

    threads = [threading.Thread(target=stop, args=(c,), daemon=True) for c in running]
    for t in threads:
        t.start()
    for t in threads:
        t.join(grace + 10)
    client.close()


def _reap(pid: int) -> None:
    """Collect our own child so it does not linger as a zombie (which still looks alive to kill 0)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
