"""Gate verdicts, as pure functions: absolute thresholds and the paired A/B comparison.

A/B: the same rows go to the candidate and to the baseline, so each row is its own control. The
statistic is the *regression* (how much worse the candidate is, in the metric's own units, positive =
worse) computed on paired rows; a seeded percentile bootstrap over rows gives its confidence interval:

    upper bound <= margin           → pass   (confidently no worse than allowed)
    lower bound >  margin           → fail   (confidently worse than allowed)
    otherwise (straddles the margin)→ inconclusive (more rows, or a human, must decide)

Resampling whole rows and recomputing the aggregate works for means and for percentiles alike."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from genaiops_cli.core.evaluation import stats

Verdict = Literal["pass", "fail", "inconclusive"]
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20240611  # fixed: the same rows must give the same verdict on every run


@dataclass
class GateResult:
    name: str
    kind: Literal["threshold", "ab"]
    metric: str
    verdict: Verdict
    dry_run: bool = False
    measured: float | None = None
    threshold: str | None = None
    baseline: float | None = None
    regression: float | None = None
    ci: tuple[float, float] | None = None
    margin: float | None = None
    confidence: float | None = None
    pairs: int | None = None
    message: str = ""

    @property
    def blocking(self) -> bool:
        """A dry-run gate is recorded but never blocks."""
        return not self.dry_run and self.verdict != "pass"

    def to_dict(self) -> dict[str, Any]:
        out = {k: _clean(v) for k, v in asdict(self).items()}
        out["ci"] = list(self.ci) if self.ci is not None else None
        out["blocking"] = self.blocking
        return out


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def check_threshold(metric: str, threshold: Any, measured: float, dry_run: bool = False) -> GateResult:
    """`threshold` is the manifest's Threshold (op, value, passes())."""
    name = f"{metric} {threshold}"
    if measured is None or math.isnan(measured):
        return GateResult(
            name,
            "threshold",
            metric,
            "inconclusive",
            dry_run,
            None,
            str(threshold),
            message=f"{metric}: no data to judge (no row produced a value)",
        )
    ok = threshold.passes(measured)
    return GateResult(
        name,
        "threshold",
        metric,
        "pass" if ok else "fail",
        dry_run,
        measured,
        str(threshold),
        message=f"{metric} = {measured:.4g} ({'meets' if ok else 'violates'} {threshold})",
    )


def paired_bootstrap(
    candidate: Sequence[float | None],
    baseline: Sequence[float | None],
    fn: Callable[[Sequence[float]], float] = stats.mean,
    *,
    lower_is_better: bool = False,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float, float, int]:
    """(regression, ci_low, ci_high, pairs) of fn(candidate) against fn(baseline) over rows present in
    both. Regression > 0 means the candidate is worse."""
    pairs = [(c, b) for c, b in zip(candidate, baseline, strict=True) if c is not None and b is not None]
    n = len(pairs)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    sign = 1.0 if lower_is_better else -1.0
    cand = [c for c, _ in pairs]
    base = [b for _, b in pairs]
    point = sign * (fn(cand) - fn(base))
    rng = random.Random(seed)
    draws: list[float] = []
    if fn is stats.mean:
        # mean(c) - mean(b) == mean(c - b): resample the differences only (much faster).
        diffs = [c - b for c, b in pairs]
        for _ in range(n_resamples):
            draws.append(sign * math.fsum(rng.choices(diffs, k=n)) / n)
    else:
        for _ in range(n_resamples):
            idx = rng.choices(range(n), k=n)
            draws.append(sign * (fn([cand[i] for i in idx]) - fn([base[i] for i in idx])))
    alpha = (1.0 - confidence) / 2.0
    return point, stats.percentile(draws, 100 * alpha), stats.percentile(draws, 100 * (1 - alpha)), n


def ab_verdict(ci_low: float, ci_high: float, margin: float) -> Verdict:
    if math.isnan(ci_low) or math.isnan(ci_high):
        return "inconclusive"
    if ci_high <= margin:
        return "pass"
    if ci_low > margin:
        return "fail"
    return "inconclusive"


def ab_gate(
    metric: str,
    candidate: Sequence[float | None],
    baseline: Sequence[float | None],
    margin: float,
    fn: Callable[[Sequence[float]], float] = stats.mean,
    *,
    lower_is_better: bool = False,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    dry_run: bool = False,
) -> GateResult:
    regression, lo, hi, n = paired_bootstrap(
        candidate,
        baseline,
        fn,
        lower_is_better=lower_is_better,
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
    )
    cand_value = (
        fn([c for c, b in zip(candidate, baseline, strict=True) if c is not None and b is not None])
        if n
        else None
    )
    base_value = (
        fn([b for c, b in zip(candidate, baseline, strict=True) if c is not None and b is not None])
        if n
        else None
    )
    verdict = ab_verdict(lo, hi, margin)
    name = f"{metric} vs baseline (max regression {margin:g})"
    if n == 0:
        message = f"{metric}: no row has a value on both sides"
    else:
        worse = "worse" if regression > 0 else "better"
        message = (
            f"{metric}: candidate {cand_value:.4g} vs baseline {base_value:.4g}, "
            f"{abs(regression):.4g} {worse}; {int(confidence * 100)}% CI of the regression "
            f"[{lo:.4g}, {hi:.4g}] vs margin {margin:g} over {n} paired rows"
        )
    return GateResult(
        name,
        "ab",
        metric,
        verdict,
        dry_run,
        measured=cand_value,
        baseline=base_value,
        regression=_clean(regression),
        ci=(lo, hi) if n else None,
        margin=margin,
        confidence=confidence,
        pairs=n,
        message=message,
    )


def combine(verdicts: Iterable[Verdict]) -> Verdict:
    """fail beats inconclusive beats pass."""
    seen = set(verdicts)
    if "fail" in seen:
        return "fail"
    if "inconclusive" in seen:
        return "inconclusive"
    return "pass"


def overall(gates: Iterable[GateResult]) -> Verdict:
    """The verdict that decides the exit code: dry-run gates are left out."""
    return combine(g.verdict for g in gates if not g.dry_run)
