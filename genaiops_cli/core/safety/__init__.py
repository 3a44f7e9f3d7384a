"""Safety probes: a versioned set of adversarial prompts with deterministic detectors, run through
the same request template as an evaluation, gated on `attack_success_rate`."""

from genaiops_cli.core.safety.probes import BUILTIN_VERSION, Probe, load_builtin, load_probes

__all__ = ["BUILTIN_VERSION", "Probe", "load_builtin", "load_probes"]
