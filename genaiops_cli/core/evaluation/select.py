"""Which evaluations a `genaiops eval` run covers and where each one's calls go."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from genaiops_cli.core.evaluation.engine import Targets
from genaiops_cli.core.evaluation.runner import Target
from genaiops_cli.core.evaluation.target import target_url_for
from genaiops_cli.errors import UsageError


def select_evaluations(manifest: Any, names: Sequence[str], env: str | None) -> dict[str, Any]:
    """Named evaluations; else the environment's gate evaluations; else every evaluation."""
    if names:
        chosen = {}
        for n in names:
            if n not in manifest.evaluations:
                close = difflib.get_close_matches(n, list(manifest.evaluations), n=1)
                raise UsageError(
                    f"unknown evaluation `{n}`",
                    hint=(f"did you mean `{close[0]}`? " if close else "")
                    + f"evaluations in {manifest.path}: {', '.join(manifest.evaluations) or 'none'}",
                    code="unknown_evaluation",
                )
            chosen[n] = manifest.evaluations[n]
        return chosen
    if env:
        gated = dict(manifest.environment(env).gate_evaluations)
        if gated:
            return gated
    if not manifest.evaluations:
        raise UsageError(
            "the manifest defines no evaluations",
            hint="add one under `evaluations:` (see docs/evaluations.md)",
        )
    return dict(manifest.evaluations)


def plan_targets(
    manifest: Any,
    evaluations: Mapping[str, Any],
    *,
    env: Callable[[], Any] | None,
    url: str | None,
    label: str | None,
    baseline: str | None,
    baseline_url: str | None,
    resolve: Mapping[str, str] | None = None,
    ca_bundle: str | None = None,
) -> dict[str, Targets]:
    """Candidate and baseline targets per evaluation. `baseline` is a label, or "none" to skip A/B.
    Explicit URLs win; otherwise `env()` opens the environment (core.environment.Environment, only
    when needed) and its hosts say where each side answers (target.py)."""
    out: dict[str, Targets] = {}
    for name, spec in evaluations.items():
        if url:
            candidate = Target(url, dict(resolve or {}), ca_bundle, label)
        else:
            if not env:
                raise UsageError(
                    "pass --url URL, or --env E to evaluate a deployed environment", code="target_unknown"
                )
            candidate = target_url_for(env(), spec.service, label)
        base_target, skipped = None, None
        if spec.baseline is not None:
            base_label = baseline or spec.baseline.label
            if base_label == "none":
                skipped = "--baseline none"
            elif baseline_url:
                base_target = Target(baseline_url, dict(resolve or {}), ca_bundle, base_label)
            elif env:
                base_target = target_url_for(env(), spec.service, base_label)
            else:
                skipped = "no baseline URL (pass --baseline-url, or --env to compare with a deployed side)"
        out[name] = Targets(candidate, base_target, skipped)
    return out
