"""Text metrics and evaluators: known inputs → known outputs."""

from __future__ import annotations

import json
import math

import pytest

from genaiops_cli.core.evaluation import stats, text
from genaiops_cli.core.evaluation.calls import Call, Outcome
from genaiops_cli.core.evaluation.dataset import RenderedRequest
from genaiops_cli.core.evaluation.evaluators import (
    EvaluatorConfigError,
    FunctionEvaluator,
    build_evaluator,
)


def outcome(
    answer: str | None,
    expected: str | None = None,
    error: str | None = None,
    latency: float | None = 10.0,
    body: object = None,
    data: dict | None = None,
) -> Outcome:
    call = Call("r1", 1, "row", RenderedRequest("POST", "/chat"), data or {"question": "q"}, expected)
    return Outcome(
        call,
        status=200 if error is None else 500,
        latency_ms=latency if error is None else None,
        body=body,
        answer=answer,
        error=error,
        attempts=1,
    )


def test_normalize_is_squad_style():
    assert text.normalize("The  Cat, sat!  on A mat.") == "cat sat on mat"


@pytest.mark.parametrize(
    ("pred", "gold", "f1"),
    [
        ("5 business days", "5 business days", 1.0),
        ("the cat sat", "a cat sat down", 0.8),  # P=2/2, R=2/3 → 0.8
        ("nothing in common", "refunds take days", 0.0),
        ("", "", 1.0),
        ("", "something", 0.0),
        ("days days days", "days", 0.5),  # clipped counts: P=1/3, R=1 → 0.5
    ],
)
def test_token_f1(pred, gold, f1):
    assert text.token_f1(pred, gold) == pytest.approx(f1)


def test_exact_match_normalises():
    assert text.exact_match("Refunds take 5 business days.", "refunds take 5 business days") == 1.0
    assert text.exact_match("Refunds take 6 business days.", "refunds take 5 business days") == 0.0


def test_rouge_l_known_values():
    assert text.lcs_length("a b c d e".split(), "a c e".split()) == 3
    # pred 4 tokens, gold 3 tokens, LCS 3 → P=0.75 R=1 → F=6/7
    assert text.rouge_l("w b c d", "b c d") == pytest.approx(2 * 0.75 / 1.75)
    assert text.rouge_l("x y", "a b") == 0.0
    assert text.rouge_l("same words here", "same words here") == 1.0


def test_percentiles_match_linear_interpolation():
    values = list(range(1, 101))  # 1..100
    assert stats.p50(values) == pytest.approx(50.5)
    assert stats.p95(values) == pytest.approx(95.05)
    assert stats.p99(values) == pytest.approx(99.01)
    assert stats.percentile([7.0], 95) == 7.0
    assert math.isnan(stats.percentile([], 50))


def test_builtin_evaluators_score_rows():
    o = outcome("Refunds take 5 business days.", "refunds take 5 business days")
    assert build_evaluator("exact_match").score(o) == {"exact_match": 1.0}
    assert build_evaluator("token_f1").score(o) == {"token_f1": 1.0}
    assert build_evaluator("rouge_l").score(o) == {"rouge_l": 1.0}
    assert build_evaluator("contains", {"value": "5 BUSINESS"}).score(o) == {"contains": 1.0}
    assert build_evaluator("contains", {"value": "5 BUSINESS", "case_sensitive": True}).score(o) == {
        "contains": 0.0
    }
    assert build_evaluator("regex", {"pattern": r"\d+ business days"}).score(o) == {"regex": 1.0}
    assert build_evaluator("regex_match", {"pattern": r"^\d"}).score(o) == {"regex": 0.0}
    assert build_evaluator("answer_length").score(o) == {"answer_length": float(len(o.answer))}
    assert build_evaluator("answer_length", {"unit": "tokens"}).score(o) == {"answer_length": 5.0}
    assert build_evaluator("latency").score(o) == {"latency_ms": 10.0}
    assert build_evaluator("error_rate").score(o) == {"error": 0.0}


def test_failed_row_is_scored_as_an_error_not_dropped():
    o = outcome(None, "refunds take 5 business days", error="HTTP 500")
    assert build_evaluator("token_f1").score(o) == {"token_f1": 0.0}
    assert build_evaluator("exact_match").score(o) == {"exact_match": 0.0}
    assert build_evaluator("error_rate").score(o) == {"error": 1.0}
    assert build_evaluator("latency").score(o) == {"latency_ms": None}  # no answer, no latency


def test_json_evaluators(tmp_path):
    good = outcome(json.dumps({"order": 12, "status": "shipped"}))
    bad = outcome("not json {")
    assert build_evaluator("json_valid").score(good) == {"json_valid": 1.0}
    assert build_evaluator("json_valid").score(bad) == {"json_valid": 0.0}
    schema = {"type": "object", "required": ["order", "status"], "properties": {"order": {"type": "integer"}}}
    (tmp_path / "s.json").write_text(json.dumps(schema))
    ev = build_evaluator("json_schema", {"schema": "s.json"}, base_dir=tmp_path)
    assert ev.score(good) == {"json_schema": 1.0}
    assert ev.score(outcome(json.dumps({"order": "x", "status": 1}))) == {"json_schema": 0.0}
    assert ev.score(bad) == {"json_schema": 0.0}
    with pytest.raises(EvaluatorConfigError):
        build_evaluator("json_schema", {})
    with pytest.raises(EvaluatorConfigError, match="invalid schema"):
        build_evaluator("json_schema", {"schema": {"type": 12}})


def test_unknown_evaluator_suggests_a_name():
    with pytest.raises(EvaluatorConfigError) as err:
        build_evaluator("token_f")
    assert "token_f1" in err.value.hint


def test_invalid_regex_is_a_config_error():
    with pytest.raises(EvaluatorConfigError, match="invalid pattern"):
        build_evaluator("regex", {"pattern": "("})


# custom evaluators by import path, defined here so the test imports them like a user module


def mentions_days(answer):
    return "days" in answer


def two_metrics(answer, expected, row):
    return {"len_ratio": len(answer) / max(1, len(expected or "")), "has_q": row["question"] == "q"}


def broken(answer):
    raise RuntimeError("boom")


def test_custom_function_evaluators():
    o = outcome("5 business days", "5 days")
    ev = build_evaluator(f"{__name__}:mentions_days")
    assert isinstance(ev, FunctionEvaluator)
    assert ev.score(o) == {"mentions_days": 1.0}
    ev2 = build_evaluator(f"{__name__}:two_metrics")
    assert ev2.score(o) == {"len_ratio": pytest.approx(15 / 6), "has_q": 1.0}
    ev3 = build_evaluator(f"{__name__}:broken")
    assert ev3.score(o) == {"broken": None}
    assert "RuntimeError: boom" in o.notes[0]


def test_custom_import_errors_are_config_errors():
    with pytest.raises(EvaluatorConfigError, match="cannot import"):
        build_evaluator("no_such_pkg_xyz.mod:fn")
    with pytest.raises(EvaluatorConfigError, match="has no attribute"):
        build_evaluator(f"{__name__}:nope")
