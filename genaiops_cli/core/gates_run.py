"""Run an environment's gates against one side of its services and return ledger evidence.

`smoke` runs every service's smoke checks; any other gate name is an evaluation run through the
evaluation engine (candidate = the side under test, baseline = the live side when the evaluation
defines an A/B). An evaluation that cannot run is recorded as `not_run`, never as a pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import Manifest

EventFn = Any


def run_gates(
    manifest: Manifest,
    env_name: str,
    host: Any,
    services: list[str],
    label: str,
    baseline_label: str | None,
    on_event: EventFn,
    warmup: float = 60,
) -> list[dict[str, Any]]:
    resolved = manifest.environment(env_name)
    out: list[dict[str, Any]] = []
    for gate in resolved.gates:
        if gate == "smoke":
            out.append(_smoke(manifest, env_name, host, services, label, on_event, warmup))
        else:
            out.append(_evaluation(manifest, env_name, host, gate, label, baseline_label, on_event))
    return out


def _smoke(
    manifest: Manifest,
    env_name: str,
    host: Any,
    services: list[str],
    label: str,
    on_event: EventFn,
    warmup: float,
) -> dict[str, Any]:
    from genaiops_cli.core import smoke as core
    from genaiops_cli.core.deploy import service_url
    from genaiops_cli.core.targets import environment_target
    from genaiops_cli.providers.http import http_client

    resolved = manifest.environment(env_name)
    target = environment_target(manifest, env_name)
    results: dict[str, list[dict[str, Any]]] = {}
    passed = True
    with http_client(resolve=target.resolve, ca_bundle=target.ca_bundle, timeout=30) as client:
        for name in services:
            checks = resolved.services[name].smoke
            if not checks:
                continue
            base = service_url(host, manifest, name, label)
            on_event(name, f"smoke against {label}: {base}")
            rs = [core.run_check(client, base, check, warmup) for check in checks]
            passed = passed and all(r.passed for r in rs)
            results[name] = [r.to_dict() for r in rs]
    return {
        "name": "smoke",
        "kind": "smoke",
        "label": label,
        "verdict": "pass" if passed else "fail",
        "evidence": results,
    }


def _evaluation(
    manifest: Manifest,
    env_name: str,
    host: Any,
    name: str,
    label: str,
    baseline_label: str | None,
    on_event: EventFn,
) -> dict[str, Any]:
    record: dict[str, Any] = {"name": name, "kind": "evaluation", "label": label}
    spec = manifest.evaluations.get(name)
    if spec is None:
        return {**record, "verdict": "not_run", "evidence": {"reason": f"no evaluation named {name!r}"}}
    try:
        import asyncio

        from genaiops_cli.core.deploy import service_url
        from genaiops_cli.core.evaluation import engine
        from genaiops_cli.core.evaluation.report import result_dict
        from genaiops_cli.core.evaluation.runner import RunOptions, Target
        from genaiops_cli.core.targets import environment_target
        from genaiops_cli.providers.row_client import RowClient
    except ImportError as exc:  # the evaluation engine is optional at this layer
        return {
            **record,
            "verdict": "not_run",
            "evidence": {"reason": f"evaluation engine unavailable: {exc}"},
        }
    target = environment_target(manifest, env_name)
    prepared = engine.prepare(name, spec, manifest.base_dir, manifest_file=str(manifest.path))
    candidate = Target(
        service_url(host, manifest, spec.service, label), dict(target.resolve), target.ca_bundle, label
    )
    baseline = None
    skipped = None
    if spec.baseline is not None:
        if baseline_label:
            baseline = Target(
                service_url(host, manifest, spec.service, baseline_label),
                dict(target.resolve),
                target.ca_bundle,
                baseline_label,
            )
        else:
            skipped = "no live side to compare with (first release in this environment)"
    targets = {name: engine.Targets(candidate, baseline, skipped)}
    on_event(spec.service, f"evaluation {name} against {label} ({len(prepared.calls)} calls)")

    def factory(t: Any) -> Any:
        return RowClient(t.resolve, t.ca_bundle, 30)

    results = asyncio.run(
        engine.run_evaluations([prepared], targets, factory, RunOptions(), manifest_file=str(manifest.path))
    )
    summary = result_dict(results, environment=env_name, label=label, report_dir=None)
    verdict = str(summary.get("verdict"))
    evidence = {
        "dataset_sha256": prepared.dataset_sha256,
        "metrics": results[0].metrics,
        "gates": [g.to_dict() for g in results[0].gates],
        "baseline_skipped": results[0].baseline_skipped,
    }
    return {**record, "verdict": verdict, "evidence": evidence}
