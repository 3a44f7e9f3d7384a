"""Where the quickstart's wall time goes when genaiops is not on CPU: one quickstart run with every
step under py-spy (`--idle`, 100 Hz, all threads), then per step: wall, CPU of the genaiops process,
and the main thread's samples split into on CPU / waiting for a response / sleeping, with the
genaiops (or SDK) frame that waited longest.

The figures of the quickstart itself come from `scripts/quickstart.py` without a profiler (py-spy
costs CPU on the same 2 cores); this script answers "what is each step waiting for".

    GENAIOPS_SANDBOX_DIR=/tmp/x-sbx python benchmarks/quickstart_waits.py --dir /tmp/x-qs [--fresh]
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from _conditions import load
from promote_overhead import classify

REPO = Path(__file__).resolve().parents[1]
# py-spy exits 0 whatever its child did, and the quickstart checks exit codes (the regressed release
# must end with 9): start the command, attach py-spy to it, and exit with the command's own code.
# Attaching misses the first few ms of interpreter start-up, which waits for nothing.
ATTACH = """
import subprocess, sys
spy, raw, *argv = sys.argv[1:]
child = subprocess.Popen(argv)
rec = ["record", "--idle", "--threads", "-r", "100", "-f", "raw", "-o", raw, "--pid", str(child.pid)]
profiler = subprocess.Popen([spy, *rec], stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
code = child.wait()
profiler.wait()
sys.exit(code)
"""


def quickstart_module() -> object:
    spec = importlib.util.spec_from_file_location("quickstart", REPO / "scripts" / "quickstart.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["quickstart"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


TICK = os.sysconf("SC_CLK_TCK")
CGROUP = Path("/sys/fs/cgroup/cpuacct/docker")  # cgroup v1 + cgroupfs, as on this machine


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its reaped children and its live descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / TICK  # utime stime cutime cstime
        todo.extend(children.get(current, []))
    return total


def standin_cpu(state_dir: Path) -> float:
    try:
        return tree_cpu(int((state_dir / "daemon.pid").read_text().split()[0]))
    except (OSError, ValueError):
        return 0.0


def containers_cpu(state_dir: Path) -> dict[str, float]:
    """CPU seconds of each of this stand-in's containers (revisions, jobs) by cgroup; a container
    removed during a step takes its share with it, so this undercounts steps that replace them."""
    instance = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--no-trunc", "--filter", f"label=genaiops.instance={instance}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    found = {}
    for cid in ids:
        try:
            found[cid] = int((CGROUP / cid / "cpuacct.usage").read_text()) / 1e9
        except OSError:
            continue
    return found


def machine_busy() -> float:
    """CPU seconds all cores spent busy (anything but idle and iowait) since boot."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICK


def waiter(stack: list[str]) -> str:
    """The frame a wait or sleep is charged to: the innermost genaiops_cli frame, else the SDK's."""
    for marker in ("genaiops_cli", "azure", "httpx", "docker"):
        frame = next((f for f in reversed(stack[:-1]) if marker in f), None)
        if frame:
            return re.sub(r"\s*\((?:.*/)?([\w/]+/[\w]+\.py):(\d+)\)", r" (\1:\2)", frame)
    return stack[-1]


def split(raw: Path, wall: float) -> tuple[dict[str, float], list[tuple[str, float]]]:
    kinds: Counter[str] = Counter()
    waits: Counter[str] = Counter()
    if not raw.exists():
        return {}, []
    for line in raw.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        stack = stack_text.split(";")
        if "MainThread" not in stack[0]:
            continue
        kind = classify(stack)
        kinds[kind] += int(count)
        if kind != "cpu":
            waits[f"{kind}: {waiter(stack)}"] += int(count)
    total = sum(kinds.values()) or 1
    shares = {k: wall * v / total for k, v in kinds.items()}
    return shares, [(w, wall * n / total) for w, n in waits.most_common(2)]


def main() -> int:
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not spy:
        print("py-spy not found (pip install py-spy)")
        return 2
    out = Path(tempfile.mkdtemp(prefix="gops-qs-waits-"))
    qs = quickstart_module()
    plain = qs.genaiops
    counter = iter(range(1, 1000))

    def profiled(*args: str) -> list[str]:
        raw = out / f"{next(counter):02d}.txt"
        return [sys.executable, "-c", ATTACH, spy, str(raw), *plain(*args)]

    qs.genaiops = profiled
    state_dir = Path(os.environ.get("GENAIOPS_SANDBOX_DIR", str(Path.cwd() / "sandbox")))
    others: dict[int, tuple[float, float, float]] = {}  # id(step) -> stand-in, containers, machine
    plain_run = qs.run

    def measured(step: object, cwd: Path, env: dict[str, str]) -> object:
        before = (standin_cpu(state_dir), containers_cpu(state_dir), machine_busy())
        done = plain_run(step, cwd, env)
        after = (standin_cpu(state_dir), containers_cpu(state_dir), machine_busy())
        revisions = sum(v - before[1].get(k, 0.0) for k, v in after[1].items())
        others[id(done)] = (after[0] - before[0], revisions, after[2] - before[2])
        return done

    qs.run = measured
    steps: list = []
    real_summary = qs.summary

    def keep(found: list, failed: bool) -> None:
        steps.extend(found)
        real_summary(found, failed)

    qs.summary = keep
    print(f"machine before: {load()}")
    try:
        code = qs.main()
    except SystemExit as stop:
        code = int(stop.code or 0)
    print(f"machine after: {load()}")
    print("CPU includes py-spy's own sampling; step figures without a profiler: scripts/quickstart.py")
    print("wall, CPU of genaiops; the main thread's samples: on CPU (incl. waiting for a core), waiting")
    print("for responses or threads, sleeping; stand-in = daemon + registries CPU; revs = this stand-in's")
    print("containers; busy = CPU seconds both cores spent on anything (2 × wall = saturated)")
    print(
        f"{'#':>2} {'step':34} {'wall':>6} {'CPU':>5} {'on CPU':>6} {'wait':>5} {'sleep':>5} "
        f"{'stand-in':>8} {'revs':>5} {'busy':>5}  longest waits"
    )
    raws = sorted(out.glob("*.txt"))
    # the first profiled command is `sandbox reset` when --fresh wiped an earlier run
    offset = len(raws) - len(steps)
    for i, step in enumerate(steps, 1):
        raw = out / f"{i + offset:02d}.txt"
        shares, top = split(raw, step.seconds)
        where = "; ".join(f"{w} {s:.1f}s" for w, s in top if s >= 0.1)
        standin, revs, busy = others.get(id(step), (0.0, 0.0, 0.0))
        print(
            f"{i:2d} {step.title[:34]:34} {step.seconds:6.1f} {step.cpu:5.2f} {shares.get('cpu', 0):6.1f} "
            f"{shares.get('wait', 0):5.1f} {shares.get('sleep', 0):5.1f} "
            f"{standin:8.2f} {revs:5.2f} {busy:5.1f}  {where}"
        )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
