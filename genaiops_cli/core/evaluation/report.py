"""Reports of an evaluation run: the JSON result (the stable contract in docs/evaluations.md), JUnit
XML (one test case per gate; failing rows as its evidence), Markdown (GitHub step summary) and the
per-row JSONL files that `genaiops eval diff` compares."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genaiops_cli.core.ci_annotations import Annotation
from genaiops_cli.core.evaluation import gates as gatelib
from genaiops_cli.core.evaluation.engine import RESULT_VERSION, EvaluationResult
from genaiops_cli.core.evaluation.runner import Target
from genaiops_cli.core.reports import TestCase, TestSuite, junit_xml, markdown_table

if TYPE_CHECKING:  # the locator (and PyYAML under it) is only needed when annotating in CI
    from genaiops_cli.core.manifest.locate import ManifestLocator

MAX_FAILING_ROWS = 20  # in the JSON result and the summary; the per-row JSONL keeps them all
ROWS_FILE = "{name}.rows.jsonl"
BASELINE_ROWS_FILE = "{name}.baseline.rows.jsonl"


def _num(v: float | None) -> float | None:
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return None
    return round(v, 6)


def _target(t: Target | None) -> dict[str, Any] | None:
    return None if t is None else {"url": t.base_url, "label": t.label}


def _row_brief(outcome: Any, reasons: list[str]) -> dict[str, Any]:
    return {
        "id": outcome.call.row_id,
        "line": outcome.call.line,
        "kind": outcome.call.kind,
        "input": outcome.call.data.get("prompt")
        if outcome.call.kind == "probe"
        else _first_text(outcome.call.data),
        "expected": outcome.call.expected,
        "answer": outcome.answer,
        "error": outcome.error,
        "reasons": reasons,
    }


def _first_text(data: Any) -> Any:
    for key in ("question", "input", "query", "prompt", "message"):
        if key in data:
            return data[key]
    return dict(data)


def evaluation_dict(r: EvaluationResult) -> dict[str, Any]:
    p = r.prepared
    rows = sum(1 for o in r.outcomes if o.call.kind == "row")
    errors = sum(1 for o in r.outcomes if o.error is not None)
    return {
        "name": r.name,
        "service": p.spec.service,
        "verdict": r.verdict,
        "dry_run": bool(p.spec.dry_run),
        "dataset": {"path": str(p.dataset), "sha256": p.dataset_sha256, "rows": rows}
        | ({"ref": p.dataset_ref} if p.dataset_ref else {}),
        "probes": {"count": p.probes, "set": p.probe_set} if p.probes else None,
        "target": _target(r.target),
        "baseline": None
        if p.spec.baseline is None
        else {
            **(_target(r.baseline_target) or {"url": None, "label": p.spec.baseline.label}),
            "skipped": r.baseline_skipped,
            "metrics": {k: _num(v) for k, v in (r.baseline_metrics or {}).items()} or None,
        },
        "metrics": {k: _num(v) for k, v in r.metrics.items()},
        "gates": [g.to_dict() for g in r.gates],
        "calls": len(r.outcomes) + len(r.baseline_outcomes or []),
        "errors": errors,
        "seconds": round(r.seconds, 3),
        "failing_rows": [_row_brief(o, reasons) for o, reasons in r.failing[:MAX_FAILING_ROWS]],
        "failing_rows_total": len(r.failing),
    }


def result_dict(
    results: Sequence[EvaluationResult],
    *,
    environment: str | None = None,
    label: str | None = None,
    report_dir: str | None = None,
    seed: int = gatelib.DEFAULT_SEED,
) -> dict[str, Any]:
    all_gates = [g for r in results for g in r.gates]
    return {
        "version": RESULT_VERSION,
        "verdict": gatelib.overall(all_gates),
        "environment": environment,
        "label": label,
        "seed": seed,
        "evaluations": [evaluation_dict(r) for r in results],
        "report_dir": report_dir,
    }


# ---------------------------------------------------------------- JUnit


def junit(results: Sequence[EvaluationResult]) -> str:
    """One test case per gate, failing exactly when the gate blocks (so JUnit agrees with the exit
    code); the rows below a threshold are the gates' evidence, in the suite's properties and system-out."""
    suites = []
    for r in results:
        suite = TestSuite(f"genaiops.eval.{r.name}")
        suite.properties = {f"metric.{k}": _fmt(v) for k, v in sorted(r.metrics.items())}
        suite.properties["verdict"] = r.verdict
        suite.properties["failing_rows"] = str(len(r.failing))
        rows_text = _failing_rows_text(r)
        for g in r.gates:
            case = TestCase(name=g.name, classname=f"eval.{r.name}.gates", seconds=0.0)
            case.properties = {
                k: str(v)
                for k, v in (
                    ("measured", _num(g.measured)),
                    ("threshold", g.threshold),
                    ("baseline", _num(g.baseline)),
                    ("regression", _num(g.regression)),
                    ("margin", g.margin),
                    ("pairs", g.pairs),
                )
                if v is not None
            }
            text = f"{g.verdict}: {g.message}"
            if g.verdict != "pass" and g.dry_run:
                case.skipped = f"dry run (not blocking) — {text}"
            elif g.verdict == "fail":
                case.failure, case.details = text, g.message + ("\n\n" + rows_text if rows_text else "")
            elif g.verdict == "inconclusive":
                case.error, case.details = text, g.message
            case.system_out = g.message
            suite.cases.append(case)
        if not r.gates:  # nothing can block: one passing case, so the evaluation still shows up
            suite.cases.append(TestCase(name="no gates", classname=f"eval.{r.name}.gates"))
        suite.system_out = rows_text
        suites.append(suite)
    return junit_xml(suites)


def _failing_rows_text(r: EvaluationResult) -> str:
    """The rows below a threshold, one JSON line each (all of them: the JUnit file is the CI's copy)."""
    lines = []
    for o, reasons in r.failing:
        where = f"{o.call.source}:{o.call.line}" if o.call.source else f"line {o.call.line}"
        lines.append(
            json.dumps(
                {
                    "row": o.call.row_id,
                    "kind": o.call.kind,
                    "where": where,
                    "why": reasons,
                    "input": _first_text(o.call.data) if o.call.kind == "row" else o.call.data.get("prompt"),
                    "expected": o.call.expected,
                    "answer": o.answer,
                    "error": o.error,
                },
                ensure_ascii=False,
                default=str,
            )
        )
    if not lines:
        return ""
    return f"{len(lines)} rows below a threshold:\n" + "\n".join(lines)


def annotations(
    results: Sequence[EvaluationResult], locator: ManifestLocator | None = None
) -> list[Annotation]:
    """A CI annotation per gate that blocks (error) or needs a human (warning), on the gate's
    threshold line in the manifest when `locator` finds it."""
    found = []
    for r in results:
        for g in r.gates:
            if g.verdict == "pass" or g.dry_run:
                continue
            level = "error" if g.verdict == "fail" else "warning"
            found.append(
                Annotation(
                    level,
                    g.message,
                    title=f"eval {r.name}: {g.name} {g.verdict}",
                    file=locator.file if locator else None,
                    line=locator.gate(r.name, g.metric) if locator else None,
                )
            )
    return found


# ---------------------------------------------------------------- Markdown


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:.4g}"


ICONS = {"pass": "✅ pass", "fail": "❌ fail", "inconclusive": "⚠️ inconclusive"}


def markdown(results: Sequence[EvaluationResult]) -> str:
    parts = []
    for r in results:
        title = f"### Evaluation `{r.name}`: {ICONS[r.verdict]}" + (
            " (dry run)" if r.prepared.spec.dry_run else ""
        )
        parts.append(title + "\n")
        base = r.baseline_metrics or {}
        headers = ["metric", "value"] + (["baseline"] if base else [])
        rows = [[k, _fmt(v)] + ([_fmt(base.get(k))] if base else []) for k, v in sorted(r.metrics.items())]
        parts.append(markdown_table(headers, rows))
        if r.gates:
            g_rows = [
                [g.name, ICONS[g.verdict] + (" (dry run)" if g.dry_run else ""), g.message] for g in r.gates
            ]
            parts.append(markdown_table(["gate", "verdict", "detail"], g_rows))
        if r.failing:
            parts.append(f"<details><summary>{len(r.failing)} failing rows</summary>\n")
            f_rows = [
                [
                    f"{o.call.row_id} (line {o.call.line})",
                    str(_first_text(o.call.data) if o.call.kind == "row" else o.call.data.get("prompt"))[:80],
                    str(o.answer or o.error or "")[:80],
                    "; ".join(rs)[:120],
                ]
                for o, rs in r.failing[:MAX_FAILING_ROWS]
            ]
            parts.append(markdown_table(["row", "input", "answer", "why"], f_rows))
            parts.append("</details>\n")
        if r.baseline_skipped:
            parts.append(f"_A/B skipped: {r.baseline_skipped}_\n")
    return "\n".join(parts)


# ---------------------------------------------------------------- per-row files


def write_rows(report_dir: Path, results: Sequence[EvaluationResult]) -> list[Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for r in results:
        for template, outcomes in ((ROWS_FILE, r.outcomes), (BASELINE_ROWS_FILE, r.baseline_outcomes)):
            if outcomes is None:
                continue
            path = report_dir / template.format(name=r.name)
            with path.open("w", encoding="utf-8") as fh:
                for o in outcomes:
                    fh.write(json.dumps(o.to_record(), ensure_ascii=False, default=str) + "\n")
            written.append(path)
    return written


def write_report_dir(
    report_dir: Path, results: Sequence[EvaluationResult], result: dict[str, Any]
) -> list[Path]:
    paths = write_rows(report_dir, results)
    (report_dir / "result.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (report_dir / "summary.md").write_text(markdown(results), encoding="utf-8")
    (report_dir / "junit.xml").write_text(junit(results), encoding="utf-8")
    return paths + [report_dir / "result.json", report_dir / "summary.md", report_dir / "junit.xml"]
