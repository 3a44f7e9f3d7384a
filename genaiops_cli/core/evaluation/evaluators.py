"""Offline, deterministic evaluators.

An evaluator scores each Outcome into per-row *columns* (e.g. `token_f1`, `latency_ms`, `error`) and
declares *aggregates* over those columns (e.g. `token_f1` = mean, `latency_p95_ms` = p95 of
`latency_ms`). Gates read aggregates; the A/B bootstrap re-computes an aggregate on resampled rows,
which is why an aggregate is a (column, function) pair and not just a number.

A row whose call failed is scored, never dropped: quality columns score 0, `error` scores 1, and
`latency_ms` is left out (there is no latency of an answer that never came)."""

from __future__ import annotations

import importlib
import inspect
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genaiops_cli.core.evaluation import stats, text
from genaiops_cli.core.evaluation.calls import Outcome
from genaiops_cli.errors import ManifestError, ManifestIssue

Score = dict[str, float | None]


@dataclass(frozen=True)
class Aggregate:
    """An aggregate metric: `fn` over the non-missing values of `column`."""

    name: str
    column: str
    fn: Callable[[Sequence[float]], float] = stats.mean
    lower_is_better: bool = False
    per_row: bool = True  # a per-row value can be judged against the same threshold (means)

    def compute(self, values: Sequence[float | None]) -> float:
        present = [v for v in values if v is not None]
        return self.fn(present) if present else math.nan


class EvaluatorConfigError(ManifestError):
    def __init__(self, message: str, hint: str, file: str = "", path: str = "") -> None:
        super().__init__(
            [ManifestIssue(message=message, file=file, path=path, hint=hint)], code="evaluator_invalid"
        )


class Evaluator:
    """Base class. Subclasses set `name`, `columns`, implement `score_answer` (or `score`)."""

    name: str = ""
    kinds: tuple[str, ...] = ("row",)  # which calls it scores: dataset rows and/or safety probes
    needs_expected: bool = False
    dynamic: bool = False  # columns only known after scoring (custom functions, azure adapters)

    def __init__(self, **options: Any) -> None:
        self.options = options

    def aggregates(self) -> list[Aggregate]:
        return [Aggregate(self.name, self.name)]

    def score(self, outcome: Outcome) -> Score:
        if outcome.error is not None:
            return {a.column: 0.0 for a in self.aggregates()}
        return self.score_answer(outcome.answer or "", outcome.call.expected, outcome)

    def score_answer(self, answer: str, expected: str | None, outcome: Outcome) -> Score:
        raise NotImplementedError


class ExactMatch(Evaluator):
    name = "exact_match"
    needs_expected = True

    def score_answer(self, answer: str, expected: str | None, outcome: Outcome) -> Score:
        return {"exact_match": text.exact_match(answer, expected or "")}


class TokenF1(Evaluator):
    name = "token_f1"
    needs_expected = True

    def score_answer(self, answer: str, expected: str | None, outcome: Outcome) -> Score:
        return {"token_f1": text.token_f1(answer, expected or "")}


class RougeL(Evaluator):
    name = "rouge_l"
    needs_expected = True

    def score_answer(self, answer: str, expected: str | None, outcome: Outcome) -> Score:
        return {"rouge_l": text.rouge_l(answer, expected or "")}


class Contains(Evaluator):
    """1 when the expected text (or option `value`) appears in the answer; case-insensitive by default."""

    name = "contains"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.value: str | None = options.get("value")
        self.case_sensitive = bool(options.get("case_sensitive", False))
        self.needs_expected = self.value is None

    def score_answer(self, answer: str, expected: str | None, outcome: Outcome) -> Score:
        needle = self.value if self.value is not None else (expected or "")
        if not self.case_sensitive:
            needle, answer = needle.lower(), answer.lower()
        return {"contains": 1.0 if needle in answer else 0.0}


class Regex(Evaluator):
    """1 when option `pattern` (default: the expected text as a pattern) is found in the answer."""

    name = "regex"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        pattern = options.get("pattern")
        self.needs_expected = pattern is None
        flags = 0 if options.get("case_sensitive", True) else re.IGNORECASE
        try:
            self.pattern = re.compile(pattern, flags) if pattern is not None else None
        except re.error as exc:
            raise EvaluatorConfigError(
                f"regex evaluator: invalid pattern: {exc}", "use Python regex syntax"
            ) from None
        self.flags = flags

    def score_answer(self, answer: str, expected: str | None, outcome: Outcome) -> Score:
        if self.pattern is not None:
            pat = self.pattern
        else:
            try:
                pat = re.compile(expected or "", self.flags)
            except re.error:
                return {"regex": 0.0}
        return {"regex": 1.0 if pat.search(answer) else 0.0}


def _answer_json(outcome: Outcome) -> tuple[bool, Any]:
    if not isinstance(outcome.answer, str):
        return True, outcome.answer
    try:
        return True, json.loads(outcome.answer)
    except ValueError:
        return False, None


class JsonValid(Evaluator):
    name = "json_valid"

    def score_answer(self, answer: str, expected: str | None, outcome: Outcome) -> Score:
        return {"json_valid": 1.0 if _answer_json(outcome)[0] else 0.0}


class JsonSchema(Evaluator):
    """1 when the answer parses as JSON and validates against option `schema` (inline or a file path)."""

    name = "json_schema"

    def __init__(self, base_dir: Path | None = None, **options: Any) -> None:
        super().__init__(**options)
        schema = options.get("schema")
        if schema is None:
            raise EvaluatorConfigError(
                "json_schema evaluator needs a `schema`",
                "e.g. {name: json_schema, schema: schemas/answer.json}",
            )
        if isinstance(schema, str):
            path = (base_dir or Path.cwd()) / schema
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise EvaluatorConfigError(
                    f"json_schema: cannot read {path}: {exc}", "point `schema` at a JSON Schema file"
                ) from None
        try:
            import jsonschema  # optional: only this evaluator needs it
        except ImportError:
            raise EvaluatorConfigError(
                "json_schema needs the `jsonschema` package", "pip install jsonschema"
            ) from None
        try:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise EvaluatorConfigError(
                f"json_schema: invalid schema: {exc.message}", "fix the schema"
            ) from None
        self.validator = cls(schema)

    def score_answer(self, answer: str, expected: str | None, outcome: Outcome) -> Score:
        ok, value = _answer_json(outcome)
        return {"json_schema": 1.0 if ok and self.validator.is_valid(value) else 0.0}


class AnswerLength(Evaluator):
    """Answer length in characters (or `unit: tokens`); mean and p95."""

    name = "answer_length"

    def aggregates(self) -> list[Aggregate]:
        return [
            Aggregate("answer_length", "answer_length", stats.mean, lower_is_better=True),
            Aggregate("answer_length_p95", "answer_length", stats.p95, lower_is_better=True, per_row=False),
        ]

    def score(self, outcome: Outcome) -> Score:
        if outcome.error is not None:
            return {"answer_length": None}
        answer = outcome.answer or ""
        size = len(answer.split()) if self.options.get("unit") == "tokens" else len(answer)
        return {"answer_length": float(size)}


class Latency(Evaluator):
    name = "latency"
    kinds = ("row", "probe")

    def aggregates(self) -> list[Aggregate]:
        return [
            Aggregate("latency_mean_ms", "latency_ms", stats.mean, lower_is_better=True, per_row=False),
            Aggregate("latency_p50_ms", "latency_ms", stats.p50, lower_is_better=True, per_row=False),
            Aggregate("latency_p95_ms", "latency_ms", stats.p95, lower_is_better=True, per_row=False),
            Aggregate("latency_p99_ms", "latency_ms", stats.p99, lower_is_better=True, per_row=False),
        ]

    def score(self, outcome: Outcome) -> Score:
        return {"latency_ms": outcome.latency_ms if outcome.error is None else None}


class ErrorRate(Evaluator):
    name = "error_rate"
    kinds = ("row", "probe")

    def aggregates(self) -> list[Aggregate]:
        return [Aggregate("error_rate", "error", stats.mean, lower_is_better=True)]

    def score(self, outcome: Outcome) -> Score:
        return {"error": 1.0 if outcome.error is not None else 0.0}


# ---------------------------------------------------------------- custom evaluators


_CALL_ARGS = ("answer", "expected", "row", "response", "outcome", "options")


def _as_score(result: Any, default_name: str) -> Score:
    if isinstance(result, bool):
        return {default_name: 1.0 if result else 0.0}
    if isinstance(result, (int, float)):
        return {default_name: float(result)}
    if isinstance(result, Mapping):
        out: Score = {}
        for k, v in result.items():
            if isinstance(v, bool):
                out[str(k)] = 1.0 if v else 0.0
            elif isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)):
                out[str(k)] = float(v)
        return out
    if result is None:
        return {default_name: None}
    raise TypeError(f"returned {type(result).__name__}; expected a number, a bool or a dict of numbers")


class FunctionEvaluator(Evaluator):
    """`package.module:function` called with the keyword arguments it declares among
    answer, expected, row, response, outcome, options. Returns a number/bool (metric = option
    `metric` or the function's name) or a dict of numbers (one metric per key, averaged)."""

    dynamic = True

    def __init__(self, ref: str, fn: Callable[..., Any], **options: Any) -> None:
        super().__init__(**options)
        self.name = ref
        self.fn = fn
        self.metric = str(options.get("metric") or getattr(fn, "__name__", ref.rsplit(":", 1)[-1]))
        params = inspect.signature(fn).parameters
        takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        self.args = [a for a in _CALL_ARGS if takes_kwargs or a in params]
        self.needs_expected = "expected" in self.args and not takes_kwargs

    def aggregates(self) -> list[Aggregate]:
        return [Aggregate(self.metric, self.metric)]

    def score(self, outcome: Outcome) -> Score:
        if outcome.error is not None:
            return {self.metric: 0.0}
        values = {
            "answer": outcome.answer or "",
            "expected": outcome.call.expected,
            "row": dict(outcome.call.data),
            "response": outcome.body,
            "outcome": outcome,
            "options": self.options,
        }
        try:
            return _as_score(self.fn(**{a: values[a] for a in self.args}), self.metric)
        except Exception as exc:  # a bug in user code is recorded on the row, not a crash mid-run
            outcome.notes.append(f"{self.name}: {type(exc).__name__}: {exc}")
            return {self.metric: None}


def import_ref(ref: str) -> Any:
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EvaluatorConfigError(
            f"cannot import evaluator module `{module_name}`: {exc}",
            "install it, or make it importable (PYTHONPATH) from where genaiops runs",
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise EvaluatorConfigError(
            f"`{module_name}` has no attribute `{attr}`", "check the name after ':'"
        ) from None


# ---------------------------------------------------------------- registry


BUILTINS: dict[str, type[Evaluator]] = {
    "exact_match": ExactMatch,
    "token_f1": TokenF1,
    "rouge_l": RougeL,
    "contains": Contains,
    "regex": Regex,
    "regex_match": Regex,  # the manifest model's spelling
    "json_valid": JsonValid,
    "json_schema": JsonSchema,
    "latency": Latency,
    "error_rate": ErrorRate,
    "answer_length": AnswerLength,
}


def builtin_names() -> list[str]:
    return sorted([*BUILTINS, "safety"])


def build_evaluator(
    name: str, options: Mapping[str, Any] | None = None, base_dir: Path | None = None
) -> Evaluator:
    """An evaluator from a manifest entry: a built-in name, `safety`, or `package.module:attr`.

    `attr` may be a function (FunctionEvaluator), an Evaluator subclass (instantiated with the options),
    or an azure-ai-evaluation style class (called with response/ground_truth/query: see azure_adapter)."""
    opts = dict(options or {})
    if name == "safety":
        from genaiops_cli.core.safety.evaluator import SafetyEvaluator

        return SafetyEvaluator(base_dir=base_dir, **opts)
    if name == "json_schema":
        return JsonSchema(base_dir=base_dir, **opts)
    if name in BUILTINS:
        return BUILTINS[name](**opts)
    if ":" not in name:
        import difflib

        close = difflib.get_close_matches(name, builtin_names(), n=1)
        raise EvaluatorConfigError(
            f"unknown evaluator `{name}`",
            (f"did you mean `{close[0]}`? " if close else "")
            + f"built-ins: {', '.join(builtin_names())}; or `package.module:function`",
        )
    target = import_ref(name)
    if inspect.isclass(target) and issubclass(target, Evaluator):
        if "base_dir" in inspect.signature(target.__init__).parameters:
            opts["base_dir"] = base_dir
        return target(**opts)
    if inspect.isclass(target):
        from genaiops_cli.core.evaluation.azure_adapter import CallableClassEvaluator

        return CallableClassEvaluator(name, target, **opts)
    if callable(target):
        return FunctionEvaluator(name, target, **opts)
    raise EvaluatorConfigError(f"`{name}` is not callable", "point at a function or an evaluator class")
