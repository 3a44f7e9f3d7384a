"""What is sent for one dataset row (a Call) and what came back (an Outcome)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from genaiops_cli.core.evaluation.dataset import RenderedRequest

CallKind = Literal["row", "probe"]


@dataclass(frozen=True)
class Call:
    row_id: str
    line: int
    kind: CallKind
    request: RenderedRequest
    data: Mapping[str, Any]
    expected: str | None = None
    source: str = ""
    probe: Any = None  # a safety Probe for kind == "probe"


@dataclass
class Outcome:
    """One call's result. A call that failed keeps its row: `error` says why, metrics score it as such."""

    call: Call
    status: int | None = None
    latency_ms: float | None = None
    body: Any = None
    answer: str | None = None
    error: str | None = None
    attempts: int = 0
    metrics: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_record(self) -> dict[str, Any]:
        """The per-row JSONL record (stable keys; see docs/evaluations.md)."""
        rec: dict[str, Any] = {
            "id": self.call.row_id,
            "line": self.call.line,
            "kind": self.call.kind,
            "input": dict(self.call.data)
            if self.call.kind == "row"
            else {"prompt": self.call.data.get("prompt")},
            "request": self.call.request.to_dict(),
            "expected": self.call.expected,
            "answer": self.answer,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "error": self.error,
            "attempts": self.attempts,
            "metrics": self.metrics,
        }
        if self.call.probe is not None:
            rec["probe"] = {"id": self.call.probe.id, "category": self.call.probe.category}
        if self.notes:
            rec["notes"] = self.notes
        return rec
