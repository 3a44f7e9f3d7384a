"""Run an environment's gates against one side of its services and return ledger evidence.

`smoke` runs every service's smoke checks; any other gate name is an evaluation run through the
evaluation engine (candidate = the side under test, baseline = the live side when the evaluation
defines an A/B). An evaluation that cannot run is recorded as `not_run`, never as a pass. Where
each side answers comes from the service's Host (`endpoint`), so any host kind is gated alike."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from genaiops_cli.core.ports import EventFn

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment


def run_gates(
    env: Environment,
    services: list[str],
    label: str,
    baseline_label: str | None,
    on_event: EventFn,
    warmup: float = 60,
    on_live: Collection[str] = (),
) -> list[dict[str, Any]]:
    """Every gate of `env` against the `label` side of `services`; `on_live`: services the release
    does not change (already live on its revision: nothing staged there), tested on their live side."""
    out: list[dict[str, Any]] = []
    side = {s: "live" if s in on_live else label for s in services}
    for gate in env.resolved.gates:
        if gate == "smoke":
            out.append(_smoke(env, side, label, on_event, warmup))
        else:
            out.append(_evaluation(env, gate, label, baseline_label, on_event, on_live))
    return out


def _smoke(
    env: Environment, side: dict[str, str], label: str, on_event: EventFn, warmup: float
) -> dict[str, Any]:
    from genaiops_cli.core import smoke as core

    results: dict[str, list[dict[str, Any]]] = {}
    passed = True
    with env.http.client(env.target.resolve, env.target.ca_bundle, 30) as client:
        for name, on in side.items():
            checks = env.resolved.services[name].smoke
            if not checks:
                continue
            endpoint = env.host(name).endpoint(name, on)
            on_event(name, f"smoke against {on}: {endpoint.url}")
            rs = [core.run_check(client, endpoint.url, check, warmup, endpoint=endpoint) for check in checks]
            passed = passed and all(r.passed for r in rs)
            results[name] = [r.to_dict() for r in rs]
    _locate_failures(env, results)
    return {
        "name": "smoke",
        "kind": "smoke",
        "label": label,
        "verdict": "pass" if passed else "fail",
        "evidence": results,
    }


def _locate_failures(env: Environment, results: dict[str, list[dict[str, Any]]]) -> None:
    """A failed check names its place in the manifest, so a CI job that ends on the gate (deploy,
    swap, promote) annotates the check's line like `genaiops smoke` does."""
    if all(r["passed"] for rs in results.values() for r in rs):
        return
    from genaiops_cli.core.manifest.locate import ManifestLocator

    locator = ManifestLocator.read(env.manifest.path)
    for service, rs in results.items():
        for r in rs:
            if not r["passed"]:
                r["file"] = locator.file
                r["line"] = locator.smoke_check(service, r["name"], env.name)


def _evaluation(
    env: Environment,
    name: str,
    label: str,
    baseline_label: str | None,
    on_event: EventFn,
    on_live: Collection[str] = (),
) -> dict[str, Any]:
    manifest = env.manifest
    record: dict[str, Any] = {"name": name, "kind": "evaluation", "label": label}
    spec = manifest.evaluations.get(name)
    if spec is None:
        return {**record, "verdict": "not_run", "evidence": {"reason": f"no evaluation named {name!r}"}}
    if spec.service in on_live:  # the release does not change it: it runs the release's revision live
        label = record["label"] = "live"
    try:
        from genaiops_cli.core.evaluation import engine
        from genaiops_cli.core.evaluation.report import result_dict
        from genaiops_cli.core.evaluation.runner import RunOptions
        from genaiops_cli.core.evaluation.target import target_url_for
    except ImportError as exc:  # the evaluation engine is optional at this layer
        return {
            **record,
            "verdict": "not_run",
            "evidence": {"reason": f"evaluation engine unavailable: {exc}"},
        }
    from genaiops_cli.core.datasets import fetcher

    fetch = fetcher(lambda: env.datasets, manifest.base_dir)
    prepared = engine.prepare(name, spec, manifest.base_dir, manifest_file=str(manifest.path), fetch=fetch)
    candidate = target_url_for(env, spec.service, label)
    baseline = None
    skipped = None
    if spec.baseline is not None:
        if baseline_label:
            baseline = target_url_for(env, spec.service, baseline_label)
        else:
            skipped = "no live side to compare with (first release in this environment)"
    targets = {name: engine.Targets(candidate, baseline, skipped)}
    on_event(spec.service, f"evaluation {name} against {label} ({len(prepared.calls)} calls)")

    def factory(t: Any) -> Any:
        return env.http.row_client(t.resolve, t.ca_bundle, 30)

    results = engine.run_evaluations(
        [prepared], targets, factory, RunOptions(), manifest_file=str(manifest.path)
    )
    summary = result_dict(results, environment=env.name, label=label, report_dir=None)
    evidence = {
        "dataset_sha256": prepared.dataset_sha256,
        **({"dataset": prepared.dataset_ref} if prepared.dataset_ref else {}),  # @latest, pinned
        "metrics": results[0].metrics,
        "gates": [g.to_dict() for g in results[0].gates],
        "baseline_skipped": results[0].baseline_skipped,
    }
    return {**record, "verdict": str(summary.get("verdict")), "evidence": evidence}
