"""Promotion overhead: wall time of `genaiops promote` minus the waits the service imposes.

Runs one real promotion in an existing project against a running stand-in (e.g. the quickstart's:
`GENAIOPS_SANDBOX_DIR=… python scripts/quickstart.py --dir DIR` leaves prod rolled back, so
`promote --from staging --to prod` has a release to move) under py-spy (`--idle`, 200 Hz, every
thread) and splits the main thread's wall time into:

- on CPU: genaiops itself (interpreter, imports, manifest, ledger, journal, gates' scoring);
- waiting for a response (socket/ssl reads, selects, futures of worker threads doing requests);
- sleeping: `time.sleep` / `asyncio.sleep` — LRO polling and health waits while the service works
  (service waits), or fixed sleeps of our own (overhead; the atomic lock removed the last one);
- overhead = on CPU + sleeps not spent waiting for the service; the goal is <= 1.5 s.

The stand-in's ARM log (GENAIOPS_SANDBOX_DIR/logs/sandbox.log) gives the ARM/Entra request count and
the service time it reports per request; the registry fronts' request logs are not read here.

    python benchmarks/promote_overhead.py --project DIR [--from staging --to prod]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _conditions import load

LOG_LINE = re.compile(r"^(\S+ \S+),\d+ INFO genaiops\.sandbox\.arm .*?: (\w+) (\S+) -> (\d+) \((\d+) ms\)")
# Leaf functions (py-spy's "Function (file:line)" with the line dropped) that mean the thread is not
# computing: waiting for the network or for another thread, or sleeping.
SLEEP_LEAVES = re.compile(r"^(sleep|time\.sleep) \(|asyncio/tasks\.py\)$")
WAIT_LEAVES = re.compile(
    r"^(SSLSocket\.(read|recv|recv_into|do_handshake)|socket\.(recv|recv_into|accept)|\w*Selector\.select|"
    r"select|poll|Condition\.wait|Event\.wait|lock\.acquire|_wait_for_tstate_lock|Thread\.join) "
)


def classify(stack: list[str]) -> str:
    if len(stack) == 1:  # only the thread's name: in native code, holding no Python frame (idle)
        return "wait"
    leaf = re.sub(r":\d+\)$", ")", stack[-1])
    if SLEEP_LEAVES.search(leaf):
        return "sleep"
    if WAIT_LEAVES.match(leaf):
        return "wait"
    return "cpu"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", type=Path, required=True)
    ap.add_argument("--from", dest="source", default="staging")
    ap.add_argument("--to", dest="target", default="prod")
    args = ap.parse_args()
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    log = Path(os.environ.get("GENAIOPS_SANDBOX_DIR", "")) / "logs" / "sandbox.log"
    argv = [sys.executable, "-m", "genaiops_cli", "-y", "promote", "--from", args.source, "--to", args.target]
    out = Path(tempfile.mkdtemp(prefix="gops-promote-")) / "raw.txt"
    before_lines = log.read_text().count("\n") if log.exists() else 0
    print(f"machine before: {load()}")
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    cmd = (
        [spy, "record", "--idle", "--threads", "-r", "200", "-f", "raw", "-o", str(out), "--", *argv]
        if spy
        else argv
    )
    proc = subprocess.run(cmd, cwd=args.project, capture_output=True, text=True)
    wall = time.perf_counter() - start
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage1.ru_utime - usage0.ru_utime + usage1.ru_stime - usage0.ru_stime
    print(f"machine after: {load()}")
    print(
        f"promote --from {args.source} --to {args.target}: exit {proc.returncode}, wall {wall:.2f} s, "
        f"CPU (user+sys, py-spy's own included when used) {cpu:.2f} s"
    )
    if proc.returncode != 0:
        print(proc.stderr[-1500:])
    if log.exists():
        lines = log.read_text().splitlines()[before_lines:]
        reqs = [m.groups() for line in lines if (m := LOG_LINE.match(line))]
        kinds = Counter(
            f"{method} {'token' if 'oauth2' in path else path.split('/providers/')[-1][:40]}"
            for _, method, path, _, _ in reqs
        )
        print(f"ARM/Entra requests: {len(reqs)}, service time they report: {sum(int(r[4]) for r in reqs)} ms")
        for kind, n in kinds.most_common(8):
            print(f"  {n:3d} × {kind}")
    if not spy or not out.exists():
        print("py-spy not found (pip install py-spy): no wall-time split")
        return
    main_thread: Counter[str] = Counter()
    sleeps: Counter[str] = Counter()
    hot: Counter[str] = Counter()  # on-CPU samples by the innermost genaiops_cli frame
    for line in out.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        stack = stack_text.split(";")
        if "MainThread" not in stack[0]:
            continue
        kind = classify(stack)
        main_thread[kind] += int(count)
        if kind == "cpu":
            ours = next((f for f in reversed(stack) if "genaiops_cli" in f), "?")
            hot[re.sub(r":\d+\)$", ")", ours)] += int(count)
        if kind == "sleep":
            caller = next((f for f in reversed(stack[:-1]) if "genaiops_cli" in f or "azure" in f), stack[-2])
            sleeps[re.sub(r"\s*\(.*?([\w/]+\.py):\d+\)", r" (\1)", caller)] += int(count)
    total = sum(main_thread.values()) or 1
    share = {k: wall * v / total for k, v in main_thread.items()}
    print(
        f"main thread: on CPU {share.get('cpu', 0):.2f} s, "
        f"waiting for responses {share.get('wait', 0):.2f} s, sleeping {share.get('sleep', 0):.2f} s "
        f"(of {wall:.2f} s wall; shares of py-spy's samples)"
    )
    for caller, n in sleeps.most_common(6):
        print(f"  sleep from {caller}: {wall * n / total:.2f} s")
    print("on CPU, by the innermost genaiops_cli frame:")
    for frame, n in hot.most_common(8):
        print(f"  {wall * n / total:.2f} s  {frame}")


if __name__ == "__main__":
    main()
