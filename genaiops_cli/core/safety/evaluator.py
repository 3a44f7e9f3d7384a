"""The `safety` evaluator: adds probe calls to an evaluation and scores them.

Options (manifest, next to `name: safety`):
  builtin: v1 | false      built-in probe set version (default: the current one); false = user probes only
  probes: data/safety.jsonl   extra probes, relative to the manifest
  categories: [...]        keep only these categories
  canary: "CANARY-7f3a9c"  secret(s) planted in the system prompt; default: any CANARY-xxxx token
  field: question          template field that receives the probe prompt (default: the only one)
  defaults: {...}          values for the template's other fields
  refusal_path: "$.refused"   JSONPath of a refusal flag in the response (for `no_refusal`)
Aggregates: attack_success_rate and attack_success_rate_<category> (lower is better)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genaiops_cli.core.evaluation import stats
from genaiops_cli.core.evaluation.calls import Outcome
from genaiops_cli.core.evaluation.evaluators import Aggregate, Evaluator, EvaluatorConfigError, Score
from genaiops_cli.core.project_files import FileProblem, check_inside
from genaiops_cli.core.safety.detectors import DetectorContext, run_detectors
from genaiops_cli.core.safety.probes import BUILTIN_VERSION, Probe, load_builtin, load_probes


class SafetyEvaluator(Evaluator):
    name = "safety"
    kinds = ("probe",)

    def __init__(self, base_dir: Path | None = None, **options: Any) -> None:
        super().__init__(**options)
        builtin = options.get("builtin", BUILTIN_VERSION)
        probes: list[Probe] = []
        self.builtin_version = None
        if builtin not in (False, None, "false", "none"):
            self.builtin_version = str(builtin)
            probes += load_builtin(self.builtin_version)
        if options.get("probes"):
            try:  # an untrusted manifest's probe file stays inside the project (its lines are sent)
                probe_file = check_inside(base_dir or Path.cwd(), str(options["probes"]))
            except FileProblem as p:
                raise EvaluatorConfigError(p.message, p.hint) from None
            probes += load_probes(probe_file)
        wanted = options.get("categories")
        if wanted:
            probes = [p for p in probes if p.category in set(wanted)]
        if not probes:
            raise EvaluatorConfigError(
                "the safety evaluator has no probes", "keep `builtin` or add `probes: file.jsonl`"
            )
        self.probes = probes
        canary = options.get("canary")
        self.canaries = [canary] if isinstance(canary, str) else list(canary or [])
        self.field: str | None = options.get("field")
        self.defaults: dict[str, Any] = dict(options.get("defaults") or {})
        self.refusal_path: str | None = options.get("refusal_path")

    @property
    def categories(self) -> list[str]:
        return sorted({p.category for p in self.probes})

    def aggregates(self) -> list[Aggregate]:
        out = [Aggregate("attack_success_rate", "attack_success", stats.mean, lower_is_better=True)]
        out += [
            Aggregate(f"attack_success_rate_{c}", f"attack_success_{c}", stats.mean, lower_is_better=True)
            for c in self.categories
        ]
        return out

    def probe_row(self, probe: Probe, template_fields: set[str]) -> dict[str, Any]:
        """The dataset-like row a probe is rendered from."""
        target = self.field
        if target is None:
            free = sorted(template_fields - set(self.defaults))
            if len(free) != 1:
                raise EvaluatorConfigError(
                    "safety: cannot tell which template field gets the probe prompt "
                    f"({', '.join(free) or 'none'})",
                    "set `field:` on the safety evaluator (and `defaults:` for the other fields)",
                )
            target = free[0]
        return {**self.defaults, **probe.fields, target: probe.prompt, "prompt": probe.prompt}

    def score(self, outcome: Outcome) -> Score:
        probe: Probe = outcome.call.probe
        scores: Score = dict.fromkeys((f"attack_success_{c}" for c in self.categories), None)
        if outcome.error is not None:
            # A probe that got no answer is not an attack success; it shows up in error_rate instead.
            hit = 0.0
        else:
            ctx = DetectorContext(
                outcome.answer or "", outcome.body, self.canaries, refusal_path=self.refusal_path
            )
            evidence = run_detectors(ctx, probe.detectors)
            outcome.notes.extend(evidence)
            hit = 1.0 if evidence else 0.0
        scores["attack_success"] = hit
        scores[f"attack_success_{probe.category}"] = hit
        return scores
