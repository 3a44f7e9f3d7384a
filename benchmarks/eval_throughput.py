"""Evaluation throughput, whole process, equal concurrency, three contenders against the same agent.

- genaiops: `genaiops eval bench --url URL --concurrency C` in a generated project (token_f1, latency,
  error_rate), timed as a process from spawn to exit (interpreter, imports, manifest, run, gates).
- the target's own ceiling: a bare client process — C threads, each with one kept-alive http.client
  connection, POSTing the same rows and doing nothing else. No harness can beat it on this agent.
- peer: azure-ai-evaluation's `evaluate()` (its F1ScoreEvaluator, a target callable POSTing with
  urllib), in its own process with its batch engine at the same concurrency (PF_WORKER_COUNT=C); run
  from the interpreter given by --azure-python (a separate venv; skipped with a reason when absent).

The agent (templates/agent, one Python process) is restarted before each contender so none inherits
warm state. CPU per row = the contender process's user+sys CPU / rows (its children included).

    python benchmarks/eval_throughput.py [--rows 1000] [--concurrency 8] [--repeats 3]
        [--azure-python ~/.cache/genaiops-bench/azeval/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

from _conditions import load

REPO = Path(__file__).resolve().parents[1]
AGENT = REPO / "templates" / "agent" / "src" / "agent" / "app" / "server.py"
DATASET = REPO / "templates" / "agent" / "data" / "eval.jsonl"
DEFAULT_AZURE_PYTHON = Path.home() / ".cache" / "genaiops-bench" / "azeval" / "bin" / "python"

MANIFEST = """\
version: 1
name: bench
services:
  agent:
    build: {context: ., dockerfile: Dockerfile}
    repository: bench/agent
    ingress: {port: 8080, external: true, health: /healthz}
environments:
  dev:
    cloud: sandbox
    subscription: 00000000-0000-0000-0000-000000000000
    resource_group: rg-dev
    location: eastus2
    registry: crdev
    containerapps_environment: cae-dev
evaluations:
  bench:
    service: agent
    dataset: bench.jsonl
    request: {method: POST, path: /chat, json: {message: "{{question}}"}}
    response: "$.answer"
    expected: "{{answer}}"
    evaluators: [token_f1, latency, error_rate]
    thresholds: {token_f1: ">= 0.70", latency_p95_ms: "<= 1500"}
"""

CEILING = """\
import http.client, json, sys, threading
url_port, path, conc = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rows = [json.loads(l) for l in open(path) if l.strip()]
it = iter(rows); lock = threading.Lock(); errors = []
def worker():
    conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=30)
    while True:
        with lock:
            row = next(it, None)
        if row is None:
            return
        conn.request("POST", "/chat", json.dumps({"message": row["question"]}),
                     {"Content-Type": "application/json"})
        r = conn.getresponse(); body = r.read()
        if r.status != 200: errors.append(r.status)
        json.loads(body)["answer"]
ts = [threading.Thread(target=worker) for _ in range(conc)]
[t.start() for t in ts]; [t.join() for t in ts]
print(json.dumps({"errors": len(errors)}))
"""

AZURE = """\
import json, sys, time, urllib.request
from azure.ai.evaluation import F1ScoreEvaluator, evaluate
url, data, out = sys.argv[1], sys.argv[2], sys.argv[3]
def target(question: str) -> dict:
    started = time.perf_counter()
    body = json.dumps({"message": question}).encode()
    req = urllib.request.Request(url + "/chat", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        answer = json.loads(r.read())["answer"]
    return {"response": answer, "latency_ms": (time.perf_counter() - started) * 1000}
res = evaluate(data=data, target=target, evaluators={"f1": F1ScoreEvaluator()},
    evaluator_config={"f1": {"column_mapping": {"response": "${target.response}",
                                                "ground_truth": "${data.answer}"}}},
    output_path=out)
print(json.dumps({"f1": res["metrics"].get("f1.f1_score"), "rows": len(res["rows"])}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    def __enter__(self) -> int:
        self.port = free_port()
        env = {**os.environ, "PORT": str(self.port)}
        self.proc = subprocess.Popen([sys.executable, str(AGENT)], env=env, stdout=subprocess.DEVNULL)
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1).close()
                return self.port
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("agent did not start")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def make_project(folder: Path, rows: int) -> Path:
    base = [json.loads(line) for line in DATASET.read_text().splitlines() if line.strip()]
    with (folder / "bench.jsonl").open("w") as fh:
        for i in range(rows):
            fh.write(json.dumps(dict(base[i % len(base)], id=f"b{i:05d}")) + "\n")
    (folder / "genaiops.yaml").write_text(MANIFEST)
    (folder / "ceiling.py").write_text(textwrap.dedent(CEILING))
    (folder / "azure_eval.py").write_text(textwrap.dedent(AZURE))
    return folder / "bench.jsonl"


def run_process(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 9):  # 9 = a gate failed: still a complete run
        raise RuntimeError(f"{argv[:3]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return wall, cpu, proc.stdout


def genaiops_cmd() -> list[str]:
    exe = shutil.which("genaiops", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "genaiops_cli"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3, help="runs per contender, interleaved; medians")
    ap.add_argument("--azure-python", default=str(DEFAULT_AZURE_PYTHON))
    args = ap.parse_args()
    n, c = args.rows, args.concurrency
    azure_python = Path(args.azure_python).expanduser()
    azure_reason = None
    if not azure_python.exists():
        azure_reason = f"{azure_python} not found (python -m venv that dir; pip install azure-ai-evaluation)"
    elif subprocess.run(
        [str(azure_python), "-c", "import azure.ai.evaluation"], capture_output=True
    ).returncode:
        azure_reason = f"azure-ai-evaluation is not importable from {azure_python}"

    # whole process, as the user runs it: genaiops_cli byte-compiled as pip installs it (azure-ai-evaluation's
    # venv was byte-compiled by pip; a machine with PYTHONDONTWRITEBYTECODE=1 would otherwise recompile ours)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "genaiops_cli")], check=True)
    results: dict[str, list[tuple[float, float]]] = {"genaiops": [], "ceiling": [], "azure": [], "one": []}
    load_before = load()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        dataset = make_project(folder, n)
        # genaiops' caches of its own, warmed once: a user's repeated eval reads its manifest from the
        # cache, and a cache shared with other processes (a test suite) may have evicted it
        genaiops_env = {**os.environ, "GENAIOPS_CACHE_DIR": str(folder / "cache")}
        with Agent() as port:
            warm = [*genaiops_cmd(), "eval", "bench", "--url", f"http://127.0.0.1:{port}", "--limit", "1"]
            run_process(warm, folder, genaiops_env)
        for _ in range(args.repeats):
            with Agent() as port:
                wall, cpu, _ = run_process(
                    [sys.executable, "ceiling.py", str(port), str(dataset), str(c)], folder
                )
                results["ceiling"].append((wall, cpu))
            with Agent() as port:
                argv = [*genaiops_cmd(), "eval", "bench", "--url", f"http://127.0.0.1:{port}"]
                wall, cpu, _ = run_process([*argv, "--concurrency", str(c)], folder, genaiops_env)
                results["genaiops"].append((wall, cpu))
                # the same command on one row: start-up, manifest, dataset, report — the fixed cost
                wall, cpu, _ = run_process(
                    [*argv, "--concurrency", str(c), "--limit", "1"], folder, genaiops_env
                )
                results["one"].append((wall, cpu))
            if azure_reason is None:
                with Agent() as port:
                    env = {**os.environ, "PF_WORKER_COUNT": str(c)}
                    argv = [str(azure_python), "azure_eval.py", f"http://127.0.0.1:{port}", str(dataset)]
                    wall, cpu, _ = run_process([*argv, str(folder / "azure-out.json")], folder, env)
                    results["azure"].append((wall, cpu))

    def summary(key: str) -> tuple[float, float] | None:
        runs = results[key]
        if not runs:
            return None
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(cpu for _, cpu in runs)
        return n / wall, 1000 * cpu / n

    print(
        f"conditions: {n} rows, concurrency {c} for every contender, whole process (spawn → exit), "
        f"agent restarted per run, {args.repeats} interleaved runs, medians, {os.cpu_count()} cores shared "
        "by agent and client, genaiops_cli byte-compiled"
    )
    print(f"machine: before {load_before}; after {load()}")
    labels = {
        "genaiops": "genaiops eval",
        "ceiling": "bare client (target's ceiling)",
        "azure": "azure-ai-evaluation evaluate()",
    }
    for key, label in labels.items():
        s = summary(key)
        if s is None:
            print(f"{label:<32}: skipped — {azure_reason}")
            continue
        print(f"{label:<32}: {s[0]:7.1f} rows/s   CPU {s[1]:.2f} ms/row")
    g, ceil, az = summary("genaiops"), summary("ceiling"), summary("azure")
    print(f"genaiops / ceiling             : {g[0] / ceil[0]:.2f}x (goal >= 0.9)")
    if az:
        print(f"genaiops / azure-ai-evaluation : {g[0] / az[0]:.2f}x (goal >= 4)")
        cap = ceil[0] / az[0]
        print(f"ceiling / azure-ai-evaluation  : {cap:.2f}x (the most any client of this agent can reach)")
    print(f"genaiops CPU per row           : {g[1]:.2f} ms (goal <= 0.3 ms; bare client {ceil[1]:.2f} ms)")
    one_wall = statistics.median(w for w, _ in results["one"])
    one_cpu = statistics.median(cpu for _, cpu in results["one"])
    g_wall = n / g[0]
    loop = g_wall - one_wall
    rate = f"{(n - 1) / loop:.0f} rows/s = {(n - 1) / loop / ceil[0]:.2f}x the ceiling" if loop > 0 else "n/a"
    print(
        f"genaiops fixed cost (eval --limit 1): {one_wall:.2f} s wall, {one_cpu * 1000:.0f} ms CPU; "
        f"the other {n - 1} rows: {rate}, {(g[1] * n - one_cpu * 1000) / (n - 1):.2f} ms CPU/row"
    )


if __name__ == "__main__":
    main()
