"""`genaiops eval diff A B`: compare two runs' per-row results (two `*.rows.jsonl` files, or two
report directories, matched by evaluation name), row by row on the row id."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from genaiops_cli.core.evaluation.stats import mean
from genaiops_cli.errors import ManifestError, ManifestIssue, UsageError

MAX_CHANGES = 50
SUFFIX = ".rows.jsonl"
BASELINE_SUFFIX = ".baseline.rows.jsonl"


def load_records(path: Path) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    issues: list[ManifestIssue] = []
    for lineno, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip():
            continue
        try:
            rec = json.loads(text)
            key = f"{rec.get('kind', 'row')}:{rec['id']}"
        except (ValueError, KeyError, TypeError, AttributeError):
            issues.append(
                ManifestIssue(
                    "not a per-row result record",
                    file=str(path),
                    line=lineno,
                    hint="pass files written by `genaiops eval --report DIR`",
                )
            )
            continue
        records[key] = rec
    if issues:
        raise ManifestError(issues[:20], code="report_invalid")
    return records


def _pairs(a: Path, b: Path) -> list[tuple[str, Path, Path]]:
    if a.is_file() and b.is_file():
        name = a.name[: -len(SUFFIX)] if a.name.endswith(SUFFIX) else a.stem
        return [(name, a, b)]
    if a.is_dir() and b.is_dir():

        def runs(d: Path) -> dict[str, Path]:
            return {
                p.name[: -len(SUFFIX)]: p
                for p in d.glob(f"*{SUFFIX}")
                if not p.name.endswith(BASELINE_SUFFIX)
            }

        ra, rb = runs(a), runs(b)
        common = sorted(set(ra) & set(rb))
        if not common:
            raise UsageError(
                f"no evaluation is in both {a} and {b}",
                hint="compare two `--report` directories of the same evaluations",
            )
        return [(n, ra[n], rb[n]) for n in common]
    missing = [str(p) for p in (a, b) if not p.exists()]
    raise UsageError(
        f"cannot compare {a} and {b}" + (f": {', '.join(missing)} not found" if missing else ""),
        hint="pass two per-row files (NAME.rows.jsonl) or two report directories",
        code="usage_error",
    )


def _ok(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)


def compare(name: str, a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> dict[str, Any]:
    common = [k for k in a if k in b]
    columns = sorted(
        {c for k in common for c in (a[k].get("metrics") or {}) if c not in ("error",)}
        | {c for k in common for c in (b[k].get("metrics") or {})}
    )
    metrics: dict[str, Any] = {}
    for col in columns:
        pairs = [((a[k].get("metrics") or {}).get(col), (b[k].get("metrics") or {}).get(col)) for k in common]
        pairs = [(x, y) for x, y in pairs if _ok(x) and _ok(y)]
        if not pairs:
            continue
        ma, mb = mean([x for x, _ in pairs]), mean([y for _, y in pairs])
        metrics[col] = {
            "a": round(ma, 6),
            "b": round(mb, 6),
            "delta": round(mb - ma, 6),
            "rows_up": sum(1 for x, y in pairs if y > x),
            "rows_down": sum(1 for x, y in pairs if y < x),
        }
    changes = []
    for k in common:
        ra, rb = a[k], b[k]
        if ra.get("answer") == rb.get("answer") and ra.get("error") == rb.get("error"):
            continue
        ma, mb = ra.get("metrics") or {}, rb.get("metrics") or {}
        deltas = {
            c: round(mb[c] - ma[c], 6) for c in ma if c in mb and _ok(ma[c]) and _ok(mb[c]) and mb[c] != ma[c]
        }
        changes.append(
            {
                "id": rb.get("id"),
                "kind": rb.get("kind", "row"),
                "line": rb.get("line"),
                "input": (rb.get("input") or {}).get("question")
                or (rb.get("input") or {}).get("prompt")
                or rb.get("input"),
                "answer_a": ra.get("answer"),
                "answer_b": rb.get("answer"),
                "error_a": ra.get("error"),
                "error_b": rb.get("error"),
                "deltas": deltas,
            }
        )

    # Most damaging first: the largest drop in any quality column, errors before everything.
    def badness(ch: dict[str, Any]) -> float:
        worst = min(ch["deltas"].values(), default=0.0)
        return (-1e9 if ch["error_b"] and not ch["error_a"] else 0.0) + worst

    changes.sort(key=badness)
    return {
        "name": name,
        "rows_a": len(a),
        "rows_b": len(b),
        "common": len(common),
        "only_in_a": sorted(k.split(":", 1)[1] for k in a if k not in b),
        "only_in_b": sorted(k.split(":", 1)[1] for k in b if k not in a),
        "changed": len(changes),
        "metrics": metrics,
        "changes": changes[:MAX_CHANGES],
    }


def diff(a: Path, b: Path) -> dict[str, Any]:
    return {
        "a": str(a),
        "b": str(b),
        "evaluations": [compare(name, load_records(pa), load_records(pb)) for name, pa, pb in _pairs(a, b)],
    }
