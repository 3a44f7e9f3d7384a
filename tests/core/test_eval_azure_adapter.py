"""The evaluator-class adapter: promptflow/azure-ai-evaluation style classes called with keyword inputs.
The azure-ai-evaluation part runs only where the optional extra is installed (its local, model-free
evaluators: F1 and ROUGE)."""

from __future__ import annotations

import pytest

from genaiops_cli.core.evaluation.azure_adapter import CallableClassEvaluator
from genaiops_cli.core.evaluation.calls import Call, Outcome
from genaiops_cli.core.evaluation.dataset import RenderedRequest
from genaiops_cli.core.evaluation.evaluators import EvaluatorConfigError, build_evaluator
from genaiops_cli.core.evaluation.text import token_f1


def _outcome(answer, expected, error=None, question="How long do refunds take?"):
    data = {"question": question, "ctx": "passage"}
    call = Call("r", 1, "row", RenderedRequest("POST", "/chat"), data, expected)
    return Outcome(call, status=200, latency_ms=1, answer=answer, error=error)


class Overlap:
    """A user evaluator class in the azure-ai-evaluation calling convention."""

    def __init__(self, *, bonus: float = 0.0):
        self.bonus = bonus

    def __call__(self, *, response: str, ground_truth: str, query: str, context: str = ""):
        return {
            "overlap": len(set(response.split()) & set(ground_truth.split())) + self.bonus,
            "overlap_result": "pass",
            "has_context": bool(context),
        }


def test_callable_class_gets_only_declared_inputs_and_numeric_outputs():
    ev = build_evaluator(f"{__name__}:Overlap", {"init": {"bonus": 1}, "inputs": {"context": "ctx"}})
    assert isinstance(ev, CallableClassEvaluator) and ev.needs_expected
    assert ev.score(_outcome("a b c", "b c d")) == {"overlap": 3.0, "has_context": 1.0}
    assert [a.name for a in ev.aggregates()] == ["overlap", "has_context"]
    assert ev.score(_outcome(None, "x", error="HTTP 500")) == {"overlap": 0.0, "has_context": 0.0}


def test_bad_constructor_options_are_config_errors():
    with pytest.raises(EvaluatorConfigError, match="cannot create"):
        build_evaluator(f"{__name__}:Overlap", {"init": {"nope": 1}})


def test_azure_ai_evaluation_f1_agrees_with_token_f1():
    pytest.importorskip("azure.ai.evaluation")
    ev = build_evaluator("azure.ai.evaluation:F1ScoreEvaluator")
    cases = [("Refunds take 5 business days.", "refunds take 5 business days to appear"), ("no", "yes")]
    for answer, truth in cases:
        got = ev.score(_outcome(answer, truth))
        assert got["f1_score"] == pytest.approx(token_f1(answer, truth), abs=1e-6)
        assert not any(k.endswith(("_result", "_threshold", "_passed")) for k in got)
    rouge = build_evaluator("azure.ai.evaluation:RougeScoreEvaluator", {"init": {"rouge_type": "rougeL"}})
    assert rouge.score(_outcome("a b c", "a b c"))["rouge"] == pytest.approx(1.0)
