"""From a manifest evaluation to a verdict: prepare (all input checks, before any request), score,
aggregate, judge. Only `run_evaluations` does I/O, through the runner."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genaiops_cli.core.evaluation import gates as gatelib
from genaiops_cli.core.evaluation.calls import Call, Outcome
from genaiops_cli.core.evaluation.dataset import (
    DatasetError,
    RequestTemplate,
    Row,
    check_fields,
    load_rows,
    render_text,
)
from genaiops_cli.core.evaluation.evaluators import Aggregate, Evaluator, build_evaluator
from genaiops_cli.core.evaluation.gates import GateResult, Verdict
from genaiops_cli.core.evaluation.runner import RunOptions, Side, Target, execute
from genaiops_cli.core.project_files import FileProblem, check_inside
from genaiops_cli.errors import ManifestError, ManifestIssue, UsageError

DEFAULT_EXPECTED = "{{answer}}"
RESULT_VERSION = 1


@dataclass
class PreparedEvaluation:
    name: str
    spec: Any  # the manifest's Evaluation
    template: RequestTemplate
    rows: list[Row]
    calls: list[Call]
    evaluators: list[Evaluator]
    dataset: Path
    dataset_sha256: str
    probe_set: str | None = None
    dataset_ref: str | None = None  # `foundry:NAME@VERSION` read (`@latest` pinned), None for a file

    @property
    def probes(self) -> int:
        return sum(1 for c in self.calls if c.kind == "probe")

    def aggregates(self) -> dict[str, Aggregate]:
        out: dict[str, Aggregate] = {}
        for ev in self.evaluators:
            for agg in ev.aggregates():
                out.setdefault(agg.name, agg)
        return out


def _issue(manifest_file: str, path: str, message: str, hint: str) -> ManifestIssue:
    return ManifestIssue(message=message, file=manifest_file, path=path, hint=hint)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def prepare(
    name: str,
    spec: Any,
    base_dir: Path,
    *,
    limit: int | None = None,
    manifest_file: str = "genaiops.yaml",
    fetch: Callable[[str], tuple[Path, str]] | None = None,
) -> PreparedEvaluation:
    """Load the dataset, build the evaluators and render every request. Raises ManifestError (exit 3)
    for anything wrong in the inputs: nothing has been sent yet when this returns. `fetch` reads a
    pushed dataset (`foundry:NAME@VERSION|latest`) → (local file, pinned reference)."""
    evaluators = _build_evaluators(name, spec, base_dir, manifest_file)
    dataset, pinned = _dataset_file(name, spec, base_dir, manifest_file, fetch)
    rows = load_rows(dataset, limit=limit)
    template = RequestTemplate.from_model(spec.request)
    needs_expected = any(ev.needs_expected and "row" in ev.kinds for ev in evaluators)
    expected_template = (
        spec.expected if spec.expected is not None else (DEFAULT_EXPECTED if needs_expected else None)
    )
    from genaiops_cli.core.evaluation.dataset import fields_in

    needed = template.fields() | (fields_in(expected_template) if expected_template else set())
    check_fields(rows, needed, what="the request template" + (" and `expected`" if expected_template else ""))

    _check_unique_ids(rows)
    calls = [
        Call(
            row_id=row.id,
            line=row.line,
            kind="row",
            request=template.render(row.data),
            data=row.data,
            expected=render_text(expected_template, row.data) if expected_template else None,
            source=row.source,
        )
        for row in rows
    ]
    probe_set = _add_probe_calls(name, evaluators, template, calls, manifest_file)
    _check_metric_names(name, spec, evaluators, manifest_file)
    return PreparedEvaluation(
        name, spec, template, rows, calls, evaluators, dataset, sha256_file(dataset), probe_set, pinned
    )


def _dataset_file(
    name: str, spec: Any, base_dir: Path, manifest_file: str, fetch: Callable[[str], tuple[Path, str]] | None
) -> tuple[Path, str | None]:
    where = f"evaluations.{name}.dataset"
    if spec.dataset.startswith("foundry:"):
        if fetch is None:
            raise ManifestError(
                [_issue(manifest_file, where, f"{spec.dataset} is read from an environment", "add -e ENV")]
            )
        try:
            return fetch(spec.dataset)
        except UsageError as exc:  # not pushed / no such version: the manifest names it
            raise ManifestError([_issue(manifest_file, where, exc.message, exc.hint or "")]) from None
    try:  # the manifest may be untrusted: its dataset stays inside the project (validate checks it too)
        return check_inside(base_dir, spec.dataset), None
    except FileProblem as p:
        raise ManifestError([_issue(manifest_file, where, p.message, p.hint)]) from None


def _build_evaluators(name: str, spec: Any, base_dir: Path, manifest_file: str) -> list[Evaluator]:
    """The evaluation's evaluators; a bad one is reported at its place in the manifest."""
    evaluators: list[Evaluator] = []
    for i, ev_spec in enumerate(spec.evaluators):
        options = dict(getattr(ev_spec, "options", None) or (ev_spec.model_extra or {}))
        try:
            evaluators.append(build_evaluator(ev_spec.name, options, base_dir=base_dir))
        except ManifestError as exc:
            first = exc.issues[0]
            raise ManifestError(
                [
                    _issue(
                        first.file or manifest_file,
                        f"evaluations.{name}.evaluators[{i}]",
                        first.message,
                        first.hint or "",
                    )
                ],
                code=exc.code,
            ) from None
    return evaluators


def _add_probe_calls(
    name: str, evaluators: list[Evaluator], template: Any, calls: list[Call], manifest_file: str
) -> str | None:
    """Append a call per safety probe; return the probe set's name (None without a safety evaluator)."""
    import sys

    safety = sys.modules.get("genaiops_cli.core.safety.evaluator")
    if safety is None:  # never imported, so no evaluator is a SafetyEvaluator: don't load the probe sets
        return None
    SafetyEvaluator = safety.SafetyEvaluator

    probe_set = None
    for ev in evaluators:
        if not isinstance(ev, SafetyEvaluator):
            continue
        probe_set = f"builtin/{ev.builtin_version}" if ev.builtin_version else "custom"
        for probe in ev.probes:
            data = ev.probe_row(probe, template.fields())
            missing = sorted(f for f in template.fields() if f not in data)
            if missing:
                raise ManifestError(
                    [
                        _issue(
                            manifest_file,
                            f"evaluations.{name}.evaluators",
                            f"safety probes cannot fill {', '.join(missing)}",
                            "give them values under the safety evaluator's `defaults:`",
                        )
                    ]
                )
            calls.append(
                Call(probe.id, probe.line, "probe", template.render(data), data, None, probe.source, probe)
            )
    return probe_set


def _check_unique_ids(rows: list[Row]) -> None:
    """Rows pair across runs by id (A/B, `eval diff`): two rows with one id would pair wrongly."""
    first: dict[str, int] = {}
    issues = []
    for row in rows:
        if row.id in first:
            issues.append(
                ManifestIssue(
                    f"duplicate row id {row.id!r} (first on line {first[row.id]})",
                    file=row.source,
                    line=row.line,
                    hint="give every row its own `id`",
                )
            )
        else:
            first[row.id] = row.line
    if issues:
        raise DatasetError(issues[:20])


def _check_metric_names(name: str, spec: Any, evaluators: list[Evaluator], manifest_file: str) -> None:
    if any(ev.dynamic for ev in evaluators):
        return  # custom evaluators only reveal their metric names when they score; checked after the run
    known = sorted({a.name for ev in evaluators for a in ev.aggregates()})
    issues = []
    margins = spec.baseline.max_regression if spec.baseline is not None else {}
    for section, metrics in (("thresholds", spec.thresholds), ("baseline.max_regression", margins)):
        for metric in metrics:
            if metric not in known:
                import difflib

                close = difflib.get_close_matches(metric, known, n=1)
                issues.append(
                    _issue(
                        manifest_file,
                        f"evaluations.{name}.{section}.{metric}",
                        f"no evaluator produces the metric `{metric}`",
                        (f"did you mean `{close[0]}`? " if close else "")
                        + f"metrics here: {', '.join(known)}",
                    )
                )
    if issues:
        raise ManifestError(issues, code="manifest_invalid")


# ---------------------------------------------------------------- scoring


def score(prepared: PreparedEvaluation, outcomes: Sequence[Outcome]) -> None:
    """Fill each outcome's metrics. Successful rows first, so that evaluators which learn their columns
    while scoring know them all before the failed rows are scored as zeros."""
    ordered = sorted(outcomes, key=lambda o: o.error is not None)
    for outcome in ordered:
        outcome.metrics = {}
        for ev in prepared.evaluators:
            if outcome.call.kind in ev.kinds:
                outcome.metrics.update(ev.score(outcome))


def column(outcomes: Sequence[Outcome], name: str) -> list[float | None]:
    return [o.metrics.get(name) for o in outcomes]


def aggregate(prepared: PreparedEvaluation, outcomes: Sequence[Outcome]) -> dict[str, float]:
    return {agg.name: agg.compute(column(outcomes, agg.column)) for agg in prepared.aggregates().values()}


def _lower_is_better(metric: str, agg: Aggregate, spec: Any) -> bool:
    threshold = spec.thresholds.get(metric)
    if threshold is not None:
        return threshold.op in ("<=", "<")
    return agg.lower_is_better


def judge(
    prepared: PreparedEvaluation,
    metrics: dict[str, float],
    outcomes: Sequence[Outcome],
    baseline_outcomes: Sequence[Outcome] | None,
    *,
    seed: int = gatelib.DEFAULT_SEED,
    n_resamples: int = gatelib.DEFAULT_RESAMPLES,
    manifest_file: str = "genaiops.yaml",
) -> list[GateResult]:
    spec = prepared.spec
    aggs = prepared.aggregates()
    dry = bool(spec.dry_run)
    unknown = [m for m in spec.thresholds if m not in aggs]
    if spec.baseline is not None and baseline_outcomes is not None:
        unknown += [m for m in spec.baseline.max_regression if m not in aggs]
    if unknown:
        raise ManifestError(
            [
                _issue(
                    manifest_file,
                    f"evaluations.{prepared.name}.thresholds.{m}",
                    f"no evaluator produced the metric `{m}`",
                    f"metrics produced: {', '.join(sorted(aggs))}",
                )
                for m in unknown
            ]
        )
    results = [
        gatelib.check_threshold(m, t, metrics.get(m, math.nan), dry) for m, t in spec.thresholds.items()
    ]
    if spec.baseline is not None and baseline_outcomes is not None:
        # Pair dataset rows by id (probes are judged absolutely, not A/B).
        base_by_id = {o.call.row_id: o for o in baseline_outcomes if o.call.kind == "row"}
        paired = [
            (o, base_by_id[o.call.row_id])
            for o in outcomes
            if o.call.kind == "row" and o.call.row_id in base_by_id
        ]
        cand_side = [c for c, _ in paired]
        base_side = [b for _, b in paired]
        for metric, margin in spec.baseline.max_regression.items():
            agg = aggs[metric]
            results.append(
                gatelib.ab_gate(
                    metric,
                    column(cand_side, agg.column),
                    column(base_side, agg.column),
                    margin,
                    agg.fn,
                    lower_is_better=_lower_is_better(metric, agg, spec),
                    confidence=spec.baseline.confidence,
                    n_resamples=n_resamples,
                    seed=seed,
                    dry_run=dry,
                )
            )
    return results


def row_failures(
    prepared: PreparedEvaluation, outcome: Outcome, aggs: dict[str, Aggregate] | None = None
) -> list[str]:
    """Why one row counts as failing: its call failed, a probe's attack succeeded, or its own value of a
    mean metric misses that metric's threshold (a row with token_f1 0.2 under `token_f1 >= 0.7`)."""
    reasons: list[str] = []
    if outcome.error is not None:
        reasons.append(f"error: {outcome.error}")
    if outcome.call.kind == "probe":
        if outcome.metrics.get("attack_success"):
            reasons.append("attack succeeded: " + "; ".join(outcome.notes or ["detector fired"]))
        return reasons
    if outcome.error is not None:
        return reasons
    aggs = prepared.aggregates() if aggs is None else aggs
    for metric, threshold in prepared.spec.thresholds.items():
        agg = aggs.get(metric)
        if agg is None or not agg.per_row:
            continue
        value = outcome.metrics.get(agg.column)
        if value is not None and not threshold.passes(value):
            reasons.append(f"{metric} = {value:.3g} (needs {threshold})")
    return reasons


# ---------------------------------------------------------------- results


@dataclass
class EvaluationResult:
    prepared: PreparedEvaluation
    target: Target
    outcomes: list[Outcome]
    metrics: dict[str, float]
    gates: list[GateResult]
    baseline_target: Target | None = None
    baseline_outcomes: list[Outcome] | None = None
    baseline_metrics: dict[str, float] | None = None
    baseline_skipped: str | None = None
    seconds: float = 0.0
    failing: list[tuple[Outcome, list[str]]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.prepared.name

    @property
    def verdict(self) -> Verdict:
        return gatelib.overall(self.gates)


def finish(
    prepared: PreparedEvaluation,
    target: Target,
    outcomes: list[Outcome],
    baseline_target: Target | None = None,
    baseline_outcomes: list[Outcome] | None = None,
    *,
    baseline_skipped: str | None = None,
    seconds: float = 0.0,
    seed: int = gatelib.DEFAULT_SEED,
    n_resamples: int = gatelib.DEFAULT_RESAMPLES,
    manifest_file: str = "genaiops.yaml",
) -> EvaluationResult:
    """Score, aggregate and judge already-collected outcomes (pure; used by the runner and by tests)."""
    score(prepared, outcomes)
    metrics = aggregate(prepared, outcomes)
    base_metrics = None
    if baseline_outcomes is not None:
        score(prepared, baseline_outcomes)
        base_metrics = aggregate(prepared, baseline_outcomes)
    gate_results = judge(
        prepared,
        metrics,
        outcomes,
        baseline_outcomes,
        seed=seed,
        n_resamples=n_resamples,
        manifest_file=manifest_file,
    )
    aggs = prepared.aggregates()  # once, not per row
    failing = [(o, r) for o in outcomes if (r := row_failures(prepared, o, aggs))]
    return EvaluationResult(
        prepared,
        target,
        outcomes,
        metrics,
        gate_results,
        baseline_target,
        baseline_outcomes,
        base_metrics,
        baseline_skipped,
        seconds,
        failing,
    )


@dataclass(frozen=True)
class Targets:
    """Where one evaluation's calls go: the candidate and, for an A/B, the baseline."""

    candidate: Target
    baseline: Target | None = None
    baseline_skipped: str | None = None  # why there is no A/B although the evaluation defines one


def run_evaluations(
    prepared: Sequence[PreparedEvaluation],
    targets: Mapping[str, Targets],
    client_factory: Callable[[Target], Any],
    options: RunOptions,
    *,
    on_done: Callable[[Outcome], None] | None = None,
    seed: int = gatelib.DEFAULT_SEED,
    manifest_file: str = "genaiops.yaml",
) -> list[EvaluationResult]:
    """Send every evaluation's calls (candidate and, when an evaluation has a baseline, the same dataset
    rows to the baseline) under one concurrency bound, then score and judge each evaluation."""
    sides: list[Side] = []
    for p in prepared:
        t = targets[p.name]
        sides.append(Side(f"{p.name}:candidate", t.candidate, p.calls, p.spec.response))
        if t.baseline is not None and p.spec.baseline is not None:
            # Probes are not compared A/B: their gate is absolute (attack_success_rate).
            sides.append(
                Side(
                    f"{p.name}:baseline", t.baseline, [c for c in p.calls if c.kind == "row"], p.spec.response
                )
            )
    started = time.perf_counter()
    collected = execute(sides, client_factory, options, on_done)
    seconds = time.perf_counter() - started
    return finish_all(prepared, targets, collected, seconds, manifest_file, seed)


def finish_all(
    prepared: Sequence[PreparedEvaluation],
    targets: Mapping[str, Targets],
    collected: Mapping[str, Any],
    seconds: float,
    manifest_file: str,
    seed: int = gatelib.DEFAULT_SEED,
) -> list[EvaluationResult]:
    """Every evaluation's result from the outcomes of its sides (`NAME:candidate`, `NAME:baseline`),
    however they were collected: in this process or by batch replicas."""
    results = []
    for p in prepared:
        t = targets[p.name]
        base = collected.get(f"{p.name}:baseline")
        skipped = (
            (t.baseline_skipped or "no baseline target")
            if p.spec.baseline is not None and base is None
            else None
        )
        results.append(
            finish(
                p,
                t.candidate,
                collected[f"{p.name}:candidate"],
                t.baseline if base is not None else None,
                base,
                baseline_skipped=skipped,
                seconds=seconds,
                seed=seed,
                manifest_file=manifest_file,
            )
        )
    return results
