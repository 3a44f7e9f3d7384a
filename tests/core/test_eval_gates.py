"""Gate statistics: thresholds, the paired bootstrap, verdicts and dry runs (pure functions)."""

from __future__ import annotations

import random

import pytest

from genaiops_cli.core.evaluation import gates, stats
from genaiops_cli.core.manifest.model import _parse_threshold


def th(text: str):
    return _parse_threshold(text)


@pytest.mark.parametrize(
    ("threshold", "value", "verdict"),
    [
        (">= 0.7", 0.7, "pass"),
        (">= 0.7", 0.69, "fail"),
        ("> 0.7", 0.7, "fail"),
        ("<= 1500", 1500, "pass"),
        ("< 1500", 1500, "fail"),
        ("<= 0.01", 0.0, "pass"),
    ],
)
def test_threshold_verdicts(threshold, value, verdict):
    g = gates.check_threshold("m", th(threshold), value)
    assert g.verdict == verdict
    assert g.blocking == (verdict != "pass")


def test_threshold_without_data_is_inconclusive():
    g = gates.check_threshold("latency_p95_ms", th("<= 100"), float("nan"))
    assert g.verdict == "inconclusive" and g.measured is None


def test_dry_run_records_but_never_blocks():
    g = gates.check_threshold("token_f1", th(">= 0.9"), 0.1, dry_run=True)
    assert g.verdict == "fail" and not g.blocking
    assert gates.overall([g]) == "pass"
    ab = gates.ab_gate("token_f1", [0.0] * 30, [1.0] * 30, 0.03, dry_run=True)
    assert ab.verdict == "fail" and not ab.blocking
    assert gates.overall([g, ab]) == "pass"
    assert gates.overall([g, gates.check_threshold("x", th(">= 1"), 0)]) == "fail"


def test_combine_order():
    assert gates.combine(["pass", "inconclusive", "pass"]) == "inconclusive"
    assert gates.combine(["inconclusive", "fail"]) == "fail"
    assert gates.combine([]) == "pass"


def test_identical_sides_pass_with_zero_interval():
    vals = [0.2, 0.9, 1.0, 0.5] * 10
    g = gates.ab_gate("token_f1", vals, list(vals), 0.03)
    assert g.verdict == "pass"
    assert g.regression == 0 and g.ci == (0, 0)


def test_clear_regression_fails():
    rng = random.Random(1)
    base = [min(1, max(0, 0.9 + rng.uniform(-0.1, 0.1))) for _ in range(60)]
    cand = [b - 0.3 for b in base]
    g = gates.ab_gate("token_f1", cand, base, 0.03)
    assert g.verdict == "fail"
    assert g.regression == pytest.approx(0.3)
    assert g.ci[0] > 0.03


def test_clear_improvement_passes():
    base = [0.5, 0.6, 0.4, 0.5] * 10
    cand = [v + 0.2 for v in base]
    g = gates.ab_gate("token_f1", cand, base, 0.03)
    assert g.verdict == "pass" and g.regression == pytest.approx(-0.2)


def test_near_equal_is_inconclusive():
    # 20 rows: 18 identical, 2 dropped from 1 to 0 → mean regression 0.1, margin 0.05.
    # The bootstrap interval spans 0 .. ~0.25 and so straddles the margin.
    base = [1.0] * 20
    cand = [1.0] * 18 + [0.0, 0.0]
    g = gates.ab_gate("token_f1", cand, base, 0.05)
    assert g.verdict == "inconclusive"
    lo, hi = g.ci
    assert lo <= 0.05 < hi


def test_bootstrap_is_seeded_and_deterministic():
    rng = random.Random(7)
    base = [rng.random() for _ in range(50)]
    cand = [b - rng.uniform(0, 0.1) for b in base]
    a = gates.paired_bootstrap(cand, base, seed=3)
    b = gates.paired_bootstrap(cand, base, seed=3)
    c = gates.paired_bootstrap(cand, base, seed=4)
    assert a == b
    assert a[1:3] != c[1:3]
    assert a[0] == c[0]  # the point estimate does not depend on the seed


def test_lower_is_better_metrics_regress_upwards():
    base = [100.0 + i for i in range(40)]
    slower = [v + 500 for v in base]
    g = gates.ab_gate("latency_p95_ms", slower, base, 50, stats.p95, lower_is_better=True)
    assert g.verdict == "fail" and g.regression == pytest.approx(500)
    faster = [v - 50 for v in base]
    assert (
        gates.ab_gate("latency_p95_ms", faster, base, 50, stats.p95, lower_is_better=True).verdict == "pass"
    )


def test_missing_values_pair_only_rows_present_on_both_sides():
    cand = [1.0, None, 0.5, 1.0]
    base = [1.0, 1.0, None, 1.0]
    regression, lo, hi, n = gates.paired_bootstrap(cand, base)
    assert n == 2 and regression == 0
    g = gates.ab_gate("x", [None, None], [1.0, 1.0], 0.1)
    assert g.verdict == "inconclusive" and g.pairs == 0


def test_confidence_widens_the_interval():
    rng = random.Random(11)
    base = [rng.random() for _ in range(40)]
    cand = [b + rng.uniform(-0.2, 0.2) for b in base]
    _, lo90, hi90, _ = gates.paired_bootstrap(cand, base, confidence=0.90)
    _, lo99, hi99, _ = gates.paired_bootstrap(cand, base, confidence=0.99)
    assert lo99 <= lo90 and hi99 >= hi90


def test_gate_dict_is_json_clean():
    g = gates.ab_gate("token_f1", [1.0, 0.0], [1.0, 1.0], 0.03).to_dict()
    assert set(g) >= {"name", "kind", "metric", "verdict", "ci", "blocking", "margin", "pairs"}
    assert isinstance(g["ci"], list)
