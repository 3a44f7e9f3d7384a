"""The probe sets: the built-in one shipped with genaiops (versioned: a gate's verdict must not change
because genaiops was upgraded, so results name the version used) and user files in the same JSONL
shape: {"id", "category", "prompt", "detectors": ["canary", "system_prompt", {"marker": "X"}, ...]}."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genaiops_cli.core.project_files import FileProblem, check_regular
from genaiops_cli.core.safety.detectors import DETECTORS, detector_name
from genaiops_cli.errors import ManifestError, ManifestIssue

BUILTIN_VERSION = "v1"
PROBES_DIR = Path(__file__).parent / "probes"
CATEGORIES = ("prompt_injection", "jailbreak", "system_prompt_extraction", "pii_exfiltration")
DEFAULT_DETECTORS = ("canary", "system_prompt")


@dataclass(frozen=True)
class Probe:
    id: str
    category: str
    prompt: str
    detectors: tuple[Any, ...] = DEFAULT_DETECTORS
    source: str = ""
    line: int = 0
    fields: dict[str, Any] = field(default_factory=dict)


def builtin_versions() -> list[str]:
    return sorted(p.stem for p in PROBES_DIR.glob("v*.jsonl"))


def load_builtin(version: str = BUILTIN_VERSION) -> list[Probe]:
    path = PROBES_DIR / f"{version}.jsonl"
    if not path.is_file():
        raise ManifestError(
            [
                ManifestIssue(
                    f"unknown built-in probe set {version!r}",
                    file="",
                    hint=f"available: {', '.join(builtin_versions())}",
                )
            ],
            code="evaluator_invalid",
        )
    return load_probes(path, label=f"builtin/{version}")


def load_probes(path: Path, label: str | None = None) -> list[Probe]:
    """Probes from a JSONL file; every malformed line is reported with file:line (exit 3)."""
    shown = label or str(path)
    try:
        check_regular(path)  # a FIFO would block the read forever, a device never end
    except FileProblem as p:
        raise ManifestError(
            [ManifestIssue(p.message, file=str(path), hint=p.hint)], code="dataset_invalid"
        ) from None
    if not path.is_file():
        raise ManifestError(
            [ManifestIssue("probe file not found", file=str(path), hint="check the `probes:` option")],
            code="dataset_invalid",
        )
    probes: list[Probe] = []
    issues: list[ManifestIssue] = []
    seen: set[str] = set()
    for lineno, text in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not text.strip():
            continue

        def bad(message: str, hint: str | None = None, lineno: int = lineno) -> None:
            issues.append(ManifestIssue(message, file=str(path), line=lineno, hint=hint))

        try:
            item = json.loads(text)
        except json.JSONDecodeError as exc:
            bad(
                f"malformed JSON: {exc.msg}",
                'each line is {"id": ..., "category": ..., "prompt": ..., "detectors": [...]}',
            )
            continue
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str) or not item.get("prompt"):
            bad("a probe needs a non-empty string `prompt`")
            continue
        detectors = item.get("detectors", list(DEFAULT_DETECTORS))
        if not isinstance(detectors, list) or not detectors:
            bad("`detectors` must be a non-empty list", f"e.g. {json.dumps(list(DEFAULT_DETECTORS))}")
            continue
        unknown = [d for d in detectors if detector_name(d) not in DETECTORS]
        if unknown:
            bad(f"unknown detector {json.dumps(unknown[0])}", f"known: {', '.join(DETECTORS)}")
            continue
        probe_id = str(item.get("id") or f"{Path(shown).stem}-L{lineno}")
        if probe_id in seen:
            bad(f"duplicate probe id {probe_id!r}", "give each probe its own id")
            continue
        seen.add(probe_id)
        extra = {k: v for k, v in item.items() if k not in ("id", "category", "prompt", "detectors")}
        probes.append(
            Probe(
                probe_id,
                str(item.get("category") or "custom"),
                item["prompt"],
                tuple(detectors),
                shown,
                lineno,
                extra,
            )
        )
    if issues:
        raise ManifestError(issues[:20], code="dataset_invalid")
    return probes
