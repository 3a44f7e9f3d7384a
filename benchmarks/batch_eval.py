"""Batch evaluation (`eval --batch --shards 4`, a Container Apps Job execution of 4 replicas) vs the
local `genaiops eval`, same rows, same deployment, same per-process concurrency, in one run.

Starts its own stand-in (temporary GENAIOPS_SANDBOX_DIR, `sandbox down` at the end), deploys the
sample agent (templates/agent) to one environment, and writes an 80,000-row dataset (the sample's
rows repeated with unique ids). Then, each timed as a whole `genaiops` process from spawn to exit:

- local `eval bench -e dev --limit 20000` (this machine sends the calls, --concurrency C);
- `eval bench -e dev --limit 20000 --batch --shards 4` (4 replicas, each --concurrency C; the time
  includes sharding, upload, the job execution and the aggregation; the runner image is built and
  pushed once before any timing);
- `--batch --shards 4` at 5,000 and 80,000 rows, for how batch time grows with rows;

and checks that each batch run's quality metrics equal the local run's on the same rows. The
crossover is where a straight line through the batch times (fixed cost + per-row cost) crosses the
local per-row cost; "none" when batch's per-row cost is not below local's.

    python benchmarks/batch_eval.py [--concurrency 8] [--shards 4]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _conditions import load
from _standin import standin_env, standin_reset, standin_up

REPO = Path(__file__).resolve().parents[1]
SIZES = (5_000, 20_000, 80_000)
COMPARE = 20_000
QUALITY = ("token_f1", "exact_match", "error_rate")

EVALUATION = """
  bench:
    service: agent
    dataset: data/bench.jsonl
    request: {method: POST, path: /chat, json: {message: "{{question}}"}}
    response: "$.answer"
    expected: "{{answer}}"
    evaluators: [exact_match, token_f1, latency, error_rate]
    thresholds: {token_f1: ">= 0.70", error_rate: "<= 0.01"}
"""


def run(project: Path, env: dict[str, str], *args: str, timeout: float = 1800) -> tuple[float, dict]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "genaiops_cli", "-o", "json", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 9):
        raise SystemExit(f"genaiops {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds, (json.loads(proc.stdout).get("result") or {}) if args[0] == "eval" else {}


def quality(result: dict) -> dict:
    ev = result["evaluations"][0]
    return {k: round(v, 9) for k, v in ev["metrics"].items() if k in QUALITY}


def prepare(work: Path, env: dict[str, str]) -> Path:
    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure import clients
    from genaiops_sandbox.baseimage import ensure_base_image
    from genaiops_sandbox.profile import Profile

    profile = Profile.load(work / "sandbox")
    ensure_base_image(profile.docker_host, work / "cache")
    target = target_for("sandbox", None)
    clients.resource_groups(target).resource_groups.create_or_update("rg-dev", {"location": "eastus2"})
    clients.container_apps(target).managed_environments.begin_create_or_update(
        "rg-dev", "cae-dev", {"location": "eastus2", "properties": {}}
    ).result()
    clients.registry_management(target).registries.begin_create(
        "rg-dev", "crdev", {"location": "eastus2", "sku": {"name": "Standard"}}
    ).result()
    project = work / "project"
    shutil.copytree(REPO / "templates" / "agent", project)
    manifest = project / "genaiops.yaml"
    manifest.write_text(manifest.read_text().replace("evaluations:\n", "evaluations:" + EVALUATION, 1))
    rows = [json.loads(x) for x in (project / "data" / "eval.jsonl").read_text().splitlines() if x.strip()]
    with (project / "data" / "bench.jsonl").open("w") as fh:
        for i in range(max(SIZES)):
            row = dict(rows[i % len(rows)])
            row["id"] = f"r{i}"
            fh.write(json.dumps(row) + "\n")
    for step in (("build", "--push", "-e", "dev"), ("deploy", "-e", "dev", "--timeout", "120")):
        run(project, env, *step)
    return project


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--shards", type=int, default=4)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gops-bench-batch-"))
    env = standin_env(work)
    os.environ.update({k: env[k] for k in ("GENAIOPS_SANDBOX_DIR", "GENAIOPS_CACHE_DIR")})
    standin_up(env)
    try:
        project = prepare(work, env)
        load_before = load()
        common = ("eval", "bench", "-e", "dev", "--label", "live", "--concurrency", str(args.concurrency))
        batch = ("--batch", "--shards", str(args.shards))
        run(project, env, *common, "--limit", "100", *batch)  # warm-up: builds and pushes the runner image
        local_s, local = run(project, env, *common, "--limit", str(COMPARE))
        times: dict[int, float] = {}
        for rows in SIZES:
            times[rows], result = run(project, env, *common, "--limit", str(rows), *batch)
            if rows == COMPARE and quality(result) != quality(local):
                raise SystemExit(f"batch metrics differ from local: {quality(result)} vs {quality(local)}")
        report(local_s, times, args)
        print(f"machine: before {load_before}; after {load()}")
    finally:
        standin_reset(env)
        shutil.rmtree(work, ignore_errors=True)


def report(local_s: float, times: dict[int, float], args: argparse.Namespace) -> None:
    print(
        f"machine: {os.cpu_count()} cores; agent: one revision container; "
        f"concurrency {args.concurrency} per process"
    )
    print(f"local eval, {COMPARE} rows: {local_s:.1f} s = {COMPARE / local_s:.0f} rows/s")
    print(
        f"batch eval --shards {args.shards}, {COMPARE} rows: {times[COMPARE]:.1f} s = "
        f"{COMPARE / times[COMPARE]:.0f} rows/s"
        f" (batch/local rows/s = {local_s / times[COMPARE]:.2f}); quality metrics equal to local: yes"
    )
    for rows, seconds in times.items():
        print(
            f"batch {rows:>6} rows: {seconds:6.1f} s  {rows / seconds:6.0f} rows/s  "
            f"{seconds / rows * 1000:.3f} ms/row"
        )
    small, large = min(times), max(times)
    per_row = (times[large] - times[small]) / (large - small)
    fixed = times[small] - per_row * small
    local_per_row = local_s / COMPARE
    print(f"batch ≈ {fixed:.1f} s + {per_row * 1000:.3f} ms/row; local ≈ {local_per_row * 1000:.3f} ms/row")
    if per_row < local_per_row:
        print(f"crossover: batch beats local above ≈ {fixed / (local_per_row - per_row):,.0f} rows")
    else:
        print("crossover: none — batch's per-row cost is not below local's on this machine")


if __name__ == "__main__":
    main()
