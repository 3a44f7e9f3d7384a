"""Evaluation throughput: 1,000 rows against the sample agent (a local process), token_f1 + latency.

genaiops: the real pipeline (prepare → async HTTP runner → scoring → gates) in-process.
Peer: azure-ai-evaluation's `evaluate()` with a target callable calling the same endpoint and its
F1ScoreEvaluator, in the same run, when the package is installed (optional extra `evaluation`).
Both score the same 1,000 rows; the agent is restarted between them so neither inherits warm state.

    python benchmarks/eval_throughput.py [--rows 1000] [--concurrency 8] [--skip-azure]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
AGENT = REPO / "templates" / "agent" / "src" / "agent" / "app" / "server.py"
DATASET = REPO / "templates" / "agent" / "data" / "eval.jsonl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    def __enter__(self) -> str:
        port = free_port()
        env = {**os.environ, "PORT": str(port)}
        self.proc = subprocess.Popen([sys.executable, str(AGENT)], env=env, stdout=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1).close()
                return url
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("agent did not start")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def make_dataset(folder: Path, rows: int) -> Path:
    base = [json.loads(line) for line in DATASET.read_text().splitlines() if line.strip()]
    path = folder / "bench.jsonl"
    with path.open("w") as fh:
        for i in range(rows):
            row = dict(base[i % len(base)], id=f"b{i:05d}")
            fh.write(json.dumps(row) + "\n")
    return path


def run_genaiops(folder: Path, url: str, concurrency: int) -> tuple[float, dict]:
    from genaiops_cli.core.evaluation import engine
    from genaiops_cli.core.evaluation.runner import RunOptions, Target
    from genaiops_cli.core.manifest.model import Evaluation
    from genaiops_cli.providers.http import async_http_client

    spec = Evaluation.model_validate(
        {
            "service": "agent",
            "dataset": "bench.jsonl",
            "request": {"method": "POST", "path": "/chat", "json": {"message": "{{question}}"}},
            "response": "$.answer",
            "expected": "{{answer}}",
            "evaluators": ["token_f1", "latency", "error_rate"],
            "thresholds": {"token_f1": ">= 0.70", "latency_p95_ms": "<= 1500"},
        }
    )
    import httpx

    started = time.perf_counter()
    cpu = time.process_time()
    prepared = engine.prepare("bench", spec, folder)
    targets = {"bench": engine.Targets(Target(url))}

    def factory(t: Target):
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        return async_http_client(timeout=30, limits=limits)

    [result] = asyncio.run(
        engine.run_evaluations([prepared], targets, factory, RunOptions(concurrency=concurrency))
    )
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    return seconds, {
        "cpu_s": round(cpu, 2),
        "token_f1": result.metrics["token_f1"],
        "latency_p95_ms": result.metrics["latency_p95_ms"],
        "error_rate": result.metrics["error_rate"],
        "verdict": result.verdict,
    }


def run_azure(folder: Path, dataset: Path, url: str) -> tuple[float, dict]:
    from azure.ai.evaluation import F1ScoreEvaluator, evaluate

    def target(question: str) -> dict:
        started = time.perf_counter()
        body = json.dumps({"message": question}).encode()
        req = urllib.request.Request(url + "/chat", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            answer = json.loads(r.read())["answer"]
        return {"response": answer, "latency_ms": (time.perf_counter() - started) * 1000}

    started = time.perf_counter()
    cpu = time.process_time()
    out = evaluate(
        data=str(dataset),
        target=target,
        evaluators={"f1": F1ScoreEvaluator()},
        evaluator_config={
            "f1": {"column_mapping": {"response": "${target.response}", "ground_truth": "${data.answer}"}}
        },
        output_path=str(folder / "azure-result.json"),
    )
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    lat = sorted(r.get("outputs.latency_ms", 0) for r in out["rows"])
    p95 = lat[int(0.95 * (len(lat) - 1))] if lat else None
    return seconds, {
        "cpu_s": round(cpu, 2),
        "f1": out["metrics"].get("f1.f1_score"),
        "latency_p95_ms": p95,
        "rows": len(out["rows"]),
    }


def import_seconds(module: str) -> float:
    """Cold import time in a fresh interpreter: what every CI job pays before the first row."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--skip-azure", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        dataset = make_dataset(folder, args.rows)
        with Agent() as url:
            g_seconds, g_metrics = run_genaiops(folder, url, args.concurrency)
        g_rate = args.rows / g_seconds
        print(
            f"genaiops             : {args.rows} rows in {g_seconds:.2f}s = {g_rate:.1f} rows/s  {g_metrics}"
        )
        g_import = import_seconds("genaiops_cli.core.evaluation.engine, genaiops_cli.providers.http")
        if args.skip_azure:
            return
        try:
            import azure.ai.evaluation  # noqa: F401
        except ImportError:
            print("azure-ai-evaluation : not installed (pip install azure-ai-evaluation); no ratio")
            return
        with Agent() as url:
            a_seconds, a_metrics = run_azure(folder, dataset, url)
        a_rate = args.rows / a_seconds
        a_import = import_seconds("azure.ai.evaluation")
        print(
            f"azure-ai-evaluation : {args.rows} rows in {a_seconds:.2f}s = {a_rate:.1f} rows/s  {a_metrics}"
        )
        print(f"ratio (warm, rows/s) : {g_rate / a_rate:.2f}x (target >= 5x)")
        print(
            f"harness CPU per row  : genaiops {1000 * g_metrics['cpu_s'] / args.rows:.2f} ms, "
            f"azure-ai-evaluation {1000 * a_metrics['cpu_s'] / args.rows:.2f} ms "
            f"({a_metrics['cpu_s'] / max(g_metrics['cpu_s'], 1e-9):.1f}x less CPU)"
        )
        cold_g, cold_a = g_seconds + g_import, a_seconds + a_import
        print(
            f"cold (import + run)  : genaiops {cold_g:.2f}s (import {g_import:.2f}s), azure-ai-evaluation "
            f"{cold_a:.2f}s (import {a_import:.2f}s) → {cold_a / cold_g:.2f}x"
        )


if __name__ == "__main__":
    main()
