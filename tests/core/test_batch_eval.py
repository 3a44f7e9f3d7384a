"""Batch evaluation's pure part over an in-memory BatchBackend (our own port): sharding, rebuilding
outcomes from per-call results, and a verdict equal to the local run's on the same answers."""

from __future__ import annotations

import json

import pytest

from genaiops_cli.core.evaluation import batch, engine
from genaiops_cli.core.evaluation.calls import Outcome
from genaiops_cli.core.evaluation.engine import Targets
from genaiops_cli.core.evaluation.runner import RunOptions, Target
from genaiops_cli.core.manifest.model import Evaluation
from genaiops_cli.errors import BuildError, DeployError, ExitCode

WRONG = {0, 3, 7}  # rows whose answer is wrong
ERRORS = {5}  # rows whose call fails


def _prepare(tmp_path, rows=12, **kw):
    data = [{"id": f"q{i}", "question": f"question {i}", "answer": f"answer number {i}"} for i in range(rows)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))
    spec = {
        "service": "agent",
        "dataset": "d.jsonl",
        "request": {"method": "POST", "path": "/chat", "json": {"message": "{{question}}"}},
        "response": "$.answer",
        "evaluators": ["token_f1", "exact_match", "latency", "error_rate"],
        "thresholds": {"token_f1": ">= 0.7", "error_rate": "<= 0.1"},
        "baseline": {"max_regression": {"token_f1": 0.05}},
        **kw,
    }
    return engine.prepare("quality", Evaluation.model_validate(spec), tmp_path)


def _record(side: str, i: int, call) -> dict:
    """What a replica would write for call i of a side (the baseline is always right)."""
    if side.endswith(":candidate") and i in ERRORS:
        return {
            "side": side,
            "i": i,
            "status": 503,
            "latency_ms": 4.0,
            "body": "busy",
            "error": "HTTP 503",
            "attempts": 4,
        }
    answer = "something else" if side.endswith(":candidate") and i in WRONG else call.expected
    return {
        "side": side,
        "i": i,
        "status": 200,
        "latency_ms": 10.0 + i,
        "body": {"answer": answer},
        "answer": answer,
        "attempts": 1,
    }


class FakeBackend:
    """Runs each shard's calls with `_record` on the second progress poll."""

    def __init__(self, plan: batch.BatchPlan, fail: str | None = None, interrupt: bool = False) -> None:
        self.plan, self.fail, self.interrupt = plan, fail, interrupt
        self.shards: list[bytes] = []
        self.results_blobs: list[bytes] = []
        self.polls = 0
        self.stopped: list[str] = []
        self.parallelism = 0

    def submit(self, run_id, config, shards, parallelism):
        assert run_id == self.plan.run_id and config["shards"] == len(shards)
        self.shards, self.parallelism = list(shards), parallelism
        return "genaiops-eval-abc123"

    def progress(self, run_id, execution):
        self.polls += 1
        if self.interrupt:
            raise KeyboardInterrupt
        if self.polls == 1:
            return "Running", 0, None
        if self.fail:
            return "Failed", 1, self.fail
        self.results_blobs = [
            "".join(
                json.dumps(_record(line["side"], line["i"], self.plan.calls[line["side"]][line["i"]])) + "\n"
                for line in map(json.loads, shard.splitlines())
            ).encode()
            for shard in self.shards
        ]
        return "Succeeded", len(self.shards), None

    def results(self, run_id, shards):
        return self.results_blobs

    def stop(self, execution):
        self.stopped.append(execution)


def _targets():
    return {
        "quality": Targets(Target("https://agent---green.example"), Target("https://agent---blue.example"))
    }


def _local(p):
    cand = [
        Outcome(c, **{k: v for k, v in _record("quality:candidate", i, c).items() if k not in ("side", "i")})
        for i, c in enumerate(p.calls)
    ]
    base = [
        Outcome(c, **{k: v for k, v in _record("quality:baseline", i, c).items() if k not in ("side", "i")})
        for i, c in enumerate(p.calls)
    ]
    t = _targets()["quality"]
    return engine.finish(p, t.candidate, cand, t.baseline, base)


def test_shards_split_every_call_of_every_side(tmp_path):
    p = _prepare(tmp_path)
    plan = batch.plan([p], _targets(), 5, RunOptions(concurrency=3, timeout=7, retries=1))
    lines = [json.loads(x) for blob in plan.shards for x in blob.splitlines()]
    assert len(plan.shards) == 5 and sorted(len(b.splitlines()) for b in plan.shards) == [4, 5, 5, 5, 5]
    assert sorted((x["side"], x["i"]) for x in lines) == sorted(
        [("quality:candidate", i) for i in range(12)] + [("quality:baseline", i) for i in range(12)]
    )
    assert lines[0]["request"] == {"method": "POST", "path": "/chat", "json": {"message": "question 0"}}
    assert plan.config["sides"]["quality:candidate"]["base_url"] == "https://agent---green.example"
    assert plan.config["sides"]["quality:baseline"]["response_path"] == "$.answer"
    assert plan.config["options"] == {"concurrency": 3, "timeout": 7, "retries": 1}
    # never more shards than calls
    assert len(batch.plan([p], {"quality": Targets(Target("https://a"))}, 64, RunOptions()).shards) == 12


def test_the_batch_verdict_equals_the_local_one_on_the_same_answers(tmp_path):
    p = _prepare(tmp_path)
    plan = batch.plan([p], _targets(), 3, RunOptions())
    backend = FakeBackend(plan)
    progress = []
    [result] = batch.run(
        [p], _targets(), backend, plan, on_progress=lambda d, t, s: progress.append((d, t, s)), poll=0
    )
    local = _local(p)
    assert backend.parallelism == 3 and progress == [(0, 3, "Running"), (3, 3, "Succeeded")]
    assert result.metrics == local.metrics and result.baseline_metrics == local.baseline_metrics
    assert [(g.name, g.verdict, g.message) for g in result.gates] == [
        (g.name, g.verdict, g.message) for g in local.gates
    ]
    assert result.verdict == local.verdict == "fail"  # token_f1 and error_rate miss their thresholds
    assert [o.to_record() for o in result.outcomes] == [o.to_record() for o in local.outcomes]
    assert [o.call.row_id for o, _ in result.failing] == [o.call.row_id for o, _ in local.failing]


def test_a_failed_execution_is_an_error_with_its_reason(tmp_path):
    p = _prepare(tmp_path)
    plan = batch.plan([p], _targets(), 2, RunOptions())
    with pytest.raises(batch.BatchFailed) as err:
        batch.run([p], _targets(), FakeBackend(plan, fail="replica 1: exited with code 3"), plan, poll=0)
    assert "ended Failed with 1 of 2 shards done: replica 1: exited with code 3" in err.value.message
    # a job execution that did not succeed (exit 7, as `job run --wait`), never an internal error
    assert (err.value.exit_code, err.value.code) == (ExitCode.DEPLOY, "batch_failed")


def test_ctrl_c_stops_the_execution(tmp_path):
    p = _prepare(tmp_path)
    plan = batch.plan([p], _targets(), 2, RunOptions())
    backend = FakeBackend(plan, interrupt=True)
    with pytest.raises(KeyboardInterrupt):
        batch.run([p], _targets(), backend, plan, poll=0)
    assert backend.stopped == ["genaiops-eval-abc123"]


class UnreadableProgress(FakeBackend):
    """The second progress read fails past the retries (the storage account or ARM is down); so does
    stopping the execution when `stop_fails`."""

    def __init__(self, plan, stop_fails=False):
        super().__init__(plan)
        self.stop_fails = stop_fails

    def progress(self, run_id, execution):
        if self.polls:
            raise BuildError("could not list batch results: ServiceUnavailable", code="storage_failed")
        return super().progress(run_id, execution)

    def stop(self, execution):
        super().stop(execution)
        if self.stop_fails:
            raise DeployError("stop job execution: ServiceUnavailable")


@pytest.mark.parametrize("stop_fails", [False, True])
def test_a_progress_read_failing_stops_the_execution_and_its_error_goes_on(tmp_path, stop_fails):
    """No execution runs on unwatched after the run gave up following it; the error reported is the
    read's (its exit code and hint), even when the stop fails too."""
    p = _prepare(tmp_path)
    plan = batch.plan([p], _targets(), 2, RunOptions())
    backend = UnreadableProgress(plan, stop_fails=stop_fails)
    with pytest.raises(BuildError) as err:
        batch.run([p], _targets(), backend, plan, poll=0)
    assert (err.value.exit_code, err.value.code) == (ExitCode.BUILD, "storage_failed")
    assert backend.stopped == ["genaiops-eval-abc123"]


def test_an_ended_execution_is_not_stopped_again(tmp_path):
    p = _prepare(tmp_path)
    plan = batch.plan([p], _targets(), 2, RunOptions())
    backend = FakeBackend(plan, fail="replica 0: exited with code 1")
    with pytest.raises(batch.BatchFailed):
        batch.run([p], _targets(), backend, plan, poll=0)
    assert backend.stopped == []


def test_missing_results_are_never_scored_as_passes(tmp_path):
    p = _prepare(tmp_path)
    plan = batch.plan([p], _targets(), 2, RunOptions())
    half = plan.shards[0]
    with pytest.raises(batch.BatchFailed, match="12 calls have no result"):
        batch.outcomes(
            plan,
            [
                "".join(
                    json.dumps(_record(x["side"], x["i"], plan.calls[x["side"]][x["i"]])) + "\n"
                    for x in map(json.loads, half.splitlines())
                ).encode()
            ],
        )


def test_large_datasets_get_more_shards_than_replicas(tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "CALLS_PER_SHARD", 5)
    p = _prepare(tmp_path)  # 12 rows, candidate and baseline: 24 calls
    plan = batch.plan([p], _targets(), 2, RunOptions())
    assert len(plan.shards) == 5 and plan.replicas == 2 and plan.config["shards"] == 5
    assert max(len(b.splitlines()) for b in plan.shards) <= 5
    backend = FakeBackend(plan)
    [result] = batch.run([p], _targets(), backend, plan, poll=0)
    assert backend.parallelism == 2 and result.metrics == _local(p).metrics


def test_bad_shard_counts_are_usage_errors(tmp_path):
    p = _prepare(tmp_path)
    with pytest.raises(Exception, match="--shards must be 1..64"):
        batch.plan([p], _targets(), 0, RunOptions())
