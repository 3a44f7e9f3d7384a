"""The manifest and the evaluation engine agree on evaluator names."""

from __future__ import annotations


def test_manifest_accepts_exactly_the_engine_evaluators() -> None:
    from genaiops_cli.core.evaluation.evaluators import builtin_names
    from genaiops_cli.core.manifest.model import BUILTIN_EVALUATORS

    assert set(BUILTIN_EVALUATORS) == set(builtin_names())
