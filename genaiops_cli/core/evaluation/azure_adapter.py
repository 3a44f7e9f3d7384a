"""Adapter for evaluator *classes* called with keyword inputs, the convention of azure-ai-evaluation
(`F1ScoreEvaluator()(response=..., ground_truth=...)` → `{"f1_score": 0.67, "f1_result": "pass", ...}`)
and of promptflow-style user classes.

Reference one in the manifest by import path, with constructor options next to the name:

    evaluators:
      - name: azure.ai.evaluation:F1ScoreEvaluator
      - name: azure.ai.evaluation:RelevanceEvaluator
        init: {model_config: {azure_endpoint: "${AOAI_ENDPOINT}", azure_deployment: gpt-4o-mini}}
        inputs: {query: question, context: context}     # evaluator input → dataset column

azure-ai-evaluation is an optional extra (`pip install genaiops-cli[evaluation]`); nothing here
imports it at module level. Inputs offered: response (the extracted answer), ground_truth (the
expected text), query (column `question` by default) and any mapping in `inputs`. Only the inputs the
evaluator declares are passed (azure's `_get_all_singleton_inputs()`, else the call signature).
Numeric outputs become per-row columns averaged into aggregates of the same name; booleans count as 0/1."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

from genaiops_cli.core.evaluation.calls import Outcome
from genaiops_cli.core.evaluation.evaluators import Aggregate, Evaluator, EvaluatorConfigError, Score

# Output keys that are bookkeeping, not scores (azure adds *_threshold, *_passed, *_result …).
_SKIP_SUFFIXES = ("_threshold", "_reason", "_status", "_properties", "_result", "_passed")


def _declared_inputs(instance: Any) -> set[str] | None:
    getter = getattr(instance, "_get_all_singleton_inputs", None)
    if callable(getter):
        try:
            return set(getter())
        except Exception:  # private API of the SDK: fall back to the signature
            pass
    try:
        params = inspect.signature(instance.__call__).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return {n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def _numeric_outputs(result: Any) -> Score:
    if isinstance(result, (int, float)) and not isinstance(result, bool):
        return {"score": float(result)}
    out: Score = {}
    if isinstance(result, Mapping):
        for key, value in result.items():
            key = str(key)
            if key.endswith(_SKIP_SUFFIXES):
                continue
            if isinstance(value, bool):
                out[key] = 1.0 if value else 0.0
            elif isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
                out[key] = float(value)
    return out


class CallableClassEvaluator(Evaluator):
    dynamic = True

    def __init__(self, ref: str, cls: type, **options: Any) -> None:
        super().__init__(**options)
        self.name = ref
        init = dict(options.get("init") or {})
        try:
            self.instance = cls(**init)
        except Exception as exc:
            raise EvaluatorConfigError(
                f"cannot create `{ref}`: {type(exc).__name__}: {exc}",
                "pass constructor arguments under `init:` (e.g. model_config for AI-judged evaluators)",
            ) from None
        self.inputs_map: dict[str, str] = {str(k): str(v) for k, v in (options.get("inputs") or {}).items()}
        self.declared = _declared_inputs(self.instance)
        self.needs_expected = self.declared is None or "ground_truth" in self.declared
        self.columns: list[str] = list(options.get("metrics") or [])

    def aggregates(self) -> list[Aggregate]:
        return [Aggregate(c, c) for c in self.columns]

    def _inputs(self, outcome: Outcome) -> dict[str, Any]:
        row = outcome.call.data
        offered: dict[str, Any] = {
            "response": outcome.answer or "",
            "ground_truth": outcome.call.expected or "",
        }
        if "question" in row:
            offered["query"] = row["question"]
        for name, column in self.inputs_map.items():
            if column in row:
                offered[name] = row[column]
        if self.declared is None:
            return offered
        return {k: v for k, v in offered.items() if k in self.declared}

    def score(self, outcome: Outcome) -> Score:
        if outcome.error is not None:
            return dict.fromkeys(self.columns, 0.0)
        try:
            scores = _numeric_outputs(self.instance(**self._inputs(outcome)))
        except Exception as exc:
            outcome.notes.append(f"{self.name}: {type(exc).__name__}: {exc}")
            return dict.fromkeys(self.columns, None)
        for column in scores:
            if column not in self.columns:
                self.columns.append(column)
        return scores


def azure_evaluation_available() -> bool:
    try:
        import azure.ai.evaluation  # noqa: F401
    except ImportError:
        return False
    return True
