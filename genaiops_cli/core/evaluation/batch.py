"""Batch evaluation: the same evaluation as a local `genaiops eval`, with its calls sent by the
replicas of a Container Apps Job execution in the environment instead of by this machine.

genaiops prepares the evaluations exactly as for a local run (every input check first), cuts the
calls of every side (candidate, and the baseline of an A/B) into N shards, and hands them with the
targets to a BatchBackend (core/ports.py), which stores them in the environment's storage account
and starts an execution of N replicas. Each replica runs the runner of core/evaluation/runner.py on
the shards it claims and writes one result per call. genaiops then rebuilds each call's Outcome
and scores, aggregates and judges with engine.finish — so the report, gates, JUnit and evidence
are those of a local run on the same answers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from genaiops_cli.core.evaluation import engine
from genaiops_cli.core.evaluation.calls import Call, Outcome
from genaiops_cli.core.evaluation.runner import RunOptions
from genaiops_cli.errors import ExitCode, GenAIOpsError, UsageError

MAX_SHARDS = 64  # replicas of one execution
# Calls per shard at most: more shards than replicas when the dataset is large, so that a shard's
# blobs stay small, a retried shard redoes little, and replicas that finish early take more.
CALLS_PER_SHARD = 2000
POLL_SECONDS = 1.0


class BatchFailed(GenAIOpsError):
    """The execution did not succeed, or left calls without a result: a job execution that failed
    (exit 7, as `job run --wait`), never an internal error; running the evaluation again is the remedy."""

    exit_code = ExitCode.DEPLOY
    code = "batch_failed"


@dataclass
class BatchPlan:
    run_id: str
    config: dict[str, Any]  # what every replica reads: shard count, sides (target, response path), options
    shards: list[bytes]  # JSONL: {"side", "i", "request"} per call
    calls: dict[str, list[Call]]  # side → its calls, indexed by "i"
    replicas: int = 1  # the execution's parallelism
    execution: str = ""  # set once submitted

    def summary(self) -> dict[str, Any]:
        """What the result JSON says about the batch (`batch` in result.schema.json)."""
        return {
            "run": self.run_id,
            "execution": self.execution,
            "shards": len(self.shards),
            "replicas": self.replicas,
        }


def sides_of(prepared: Sequence[Any], targets: Mapping[str, Any]) -> dict[str, tuple[Any, Any, list[Call]]]:
    """side name → (evaluation, target, calls), named and chosen as engine.run_evaluations does."""
    out: dict[str, tuple[Any, Any, list[Call]]] = {}
    for p in prepared:
        t = targets[p.name]
        for target in (t.candidate, t.baseline):
            endpoint = target.endpoint if target is not None else None
            if endpoint is not None and (endpoint.protocol != "http" or endpoint.token is not None):
                raise UsageError(
                    f"evaluation {p.name!r}: its service needs a token or protocol of its own "
                    f"({endpoint.protocol}), which job replicas are not given",
                    hint="run it without --batch",
                )
        out[f"{p.name}:candidate"] = (p, t.candidate, list(p.calls))
        if t.baseline is not None and p.spec.baseline is not None:
            out[f"{p.name}:baseline"] = (p, t.baseline, [c for c in p.calls if c.kind == "row"])
    return out


def plan(
    prepared: Sequence[Any],
    targets: Mapping[str, Any],
    shards: int,
    options: RunOptions,
    *,
    run_id: str | None = None,
    fail_once: Sequence[int] = (),
) -> BatchPlan:
    """Cut every call into contiguous, near-equal shards for `shards` replicas: one per replica, more
    when a shard would exceed CALLS_PER_SHARD calls, fewer when there are fewer calls."""
    import json

    if not 1 <= shards <= MAX_SHARDS:
        raise UsageError(f"--shards must be 1..{MAX_SHARDS}, not {shards}")
    sides = sides_of(prepared, targets)
    items = [(name, i, c) for name, (_p, _t, calls) in sides.items() for i, c in enumerate(calls)]
    if not items:
        raise UsageError("nothing to evaluate: the datasets have no rows")
    count = min(max(shards, -(-len(items) // CALLS_PER_SHARD)), len(items))
    bounds = [round(k * len(items) / count) for k in range(count + 1)]
    blobs = [
        "".join(
            json.dumps({"side": s, "i": i, "request": _wire(c, sides[s][1])}, ensure_ascii=False) + "\n"
            for s, i, c in items[bounds[k] : bounds[k + 1]]
        ).encode()
        for k in range(count)
    ]
    config = {
        "shards": count,
        "sides": {
            name: {"base_url": t.base_url, "resolve": dict(t.resolve), "response_path": p.spec.response}
            for name, (p, t, _calls) in sides.items()
        },
        "options": {
            "concurrency": options.concurrency,
            "timeout": options.timeout,
            "retries": options.retries,
        },
        "fail_once": [k for k in fail_once if 0 <= k < count],
    }
    run = run_id or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    calls = {name: calls for name, (_p, _t, calls) in sides.items()}
    return BatchPlan(run, config, blobs, calls, replicas=min(shards, count))


def _wire(call: Call, target: Any) -> dict[str, Any]:
    """The request as sent: the endpoint's own headers, query and body fields applied here (as
    runner.call_once does), so a replica needs nothing but the base URL."""
    out = call.request.to_dict()
    if target.endpoint is None:
        return out
    from genaiops_cli.core.evaluation.runner import with_query

    headers, body, query = target.endpoint.prepare(call.request.headers, call.request.json)
    out["path"] = with_query(out["path"], query)
    if headers:
        out["headers"] = headers
    if body is not None:
        out["json"] = body
    return out


def outcomes(batch: BatchPlan, results: Sequence[bytes]) -> dict[str, list[Outcome]]:
    """Every call's Outcome rebuilt from the replicas' result lines, in the calls' order."""
    import json

    got: dict[str, list[Outcome | None]] = {s: [None] * len(c) for s, c in batch.calls.items()}
    for blob in results:
        for line in blob.splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            side, i = r["side"], int(r["i"])
            got[side][i] = Outcome(
                batch.calls[side][i],
                status=r.get("status"),
                latency_ms=r.get("latency_ms"),
                body=r.get("body"),
                answer=r.get("answer"),
                error=r.get("error"),
                attempts=int(r.get("attempts") or 0),
            )
    missing = sum(1 for outs in got.values() for o in outs if o is None)
    if missing:
        raise BatchFailed(
            f"{missing} calls have no result in run {batch.run_id}", hint="run the evaluation again"
        )
    return {s: [o for o in outs if o is not None] for s, outs in got.items()}


def run(
    prepared: Sequence[Any],
    targets: Mapping[str, Any],
    backend: Any,
    batch: BatchPlan,
    *,
    on_progress: Callable[[int, int, str], None] | None = None,
    manifest_file: str = "genaiops.yaml",
    poll: float = POLL_SECONDS,
) -> list[engine.EvaluationResult]:
    """Submit the plan, follow it (shards done) until the execution ends, then score and judge.
    Ctrl-C stops the execution before the interrupt goes on (exit 130); so does a read of its
    progress failing past the retries (the error goes on), so no execution runs on unwatched."""
    started = time.perf_counter()
    execution = backend.submit(batch.run_id, batch.config, batch.shards, parallelism=batch.replicas)
    batch.execution = execution
    total = len(batch.shards)
    try:
        while True:
            status, done, reason = backend.progress(batch.run_id, execution)
            if on_progress:
                on_progress(done, total, status)
            if status == "Succeeded" and done >= total:
                break
            if status in ("Failed", "Stopped", "Unknown") or (status == "Succeeded" and done < total):
                raise BatchFailed(
                    f"batch execution {execution} ended {status} with {done} of {total} shards done"
                    + (f": {reason}" if reason else ""),
                    hint="a failed shard is retried while the job's replicaRetryLimit lasts; see its logs",
                )
            time.sleep(poll)
    except KeyboardInterrupt:
        backend.stop(execution)
        raise
    except BatchFailed:  # the execution has ended
        raise
    except GenAIOpsError:
        _stop_quietly(backend, execution)
        raise
    collected = outcomes(batch, backend.results(batch.run_id, total))
    seconds = time.perf_counter() - started
    return engine.finish_all(prepared, targets, collected, seconds, manifest_file)


def _stop_quietly(backend: Any, execution: str) -> None:
    """Stop an execution we can no longer follow; the error that got us here is the one to report."""
    try:
        backend.stop(execution)
    except GenAIOpsError:
        pass
