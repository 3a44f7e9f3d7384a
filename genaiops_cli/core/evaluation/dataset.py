"""Datasets (JSONL or CSV) and request rendering.

Every problem is reported with the dataset file and line, and all of them are found before the
first request is sent: a gate must not spend minutes calling a service and then stop on row 812."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from genaiops_cli.core.project_files import FileProblem, check_regular
from genaiops_cli.errors import ManifestError, ManifestIssue

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
MAX_ISSUES = 20  # enough to fix a file in one go, not a wall of text for a wrong file


@dataclass(frozen=True)
class Row:
    """One dataset row and where it came from."""

    index: int  # 0-based position among the rows kept
    line: int  # 1-based line where the row starts in its file
    data: Mapping[str, Any]
    source: str = ""

    @property
    def id(self) -> str:
        """Stable key used to pair rows across runs (A/B, `eval diff`): the `id` column, else the line."""
        value = self.data.get("id")
        return str(value) if value not in (None, "") else f"L{self.line}"


@dataclass(frozen=True)
class RenderedRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    body: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.headers:
            out["headers"] = self.headers
        if self.json is not None:
            out["json"] = self.json
        if self.body is not None:
            out["body"] = self.body
        return out


class DatasetError(ManifestError):
    def __init__(self, issues: list[ManifestIssue]) -> None:
        super().__init__(issues, code="dataset_invalid")


def _issue(path: Path, line: int | None, message: str, hint: str | None = None) -> ManifestIssue:
    return ManifestIssue(message=message, file=str(path), line=line, hint=hint)


def load_rows(path: Path, limit: int | None = None) -> list[Row]:
    """Read a .jsonl or .csv dataset. Raises DatasetError (exit 3) naming file:line for each bad row."""
    try:
        check_regular(path)  # a FIFO would block the read forever, a device never end
    except FileProblem as p:
        raise DatasetError([_issue(path, None, p.message, p.hint)]) from None
    if not path.is_file():
        raise DatasetError(
            [_issue(path, None, "dataset file not found", "check `dataset:` (relative to the manifest)")]
        )
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows, issues = _read_jsonl(path)
    elif suffix == ".csv":
        rows, issues = _read_csv(path)
    else:
        raise DatasetError([_issue(path, None, f"unsupported dataset type {suffix!r}", "use .jsonl or .csv")])
    if issues:
        raise DatasetError(issues[:MAX_ISSUES])
    if not rows:
        raise DatasetError([_issue(path, None, "dataset has no rows", "add at least one row")])
    if limit is not None:
        rows = rows[: max(limit, 0)]
    return [Row(i, r.line, r.data, str(path)) for i, r in enumerate(rows)]


def _read_jsonl(path: Path) -> tuple[list[Row], list[ManifestIssue]]:
    rows: list[Row] = []
    issues: list[ManifestIssue] = []
    with path.open(encoding="utf-8-sig") as fh:
        for lineno, text in enumerate(fh, 1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                issues.append(
                    ManifestIssue(
                        message=f"malformed JSON: {exc.msg}",
                        file=str(path),
                        line=lineno,
                        column=exc.colno,
                        hint='each line must be one JSON object, e.g. {"question": "...", "answer": "..."}',
                    )
                )
                continue
            if not isinstance(value, dict):
                issues.append(
                    _issue(
                        path,
                        lineno,
                        f"expected a JSON object, got {type(value).__name__}",
                        "each line must be one JSON object",
                    )
                )
                continue
            rows.append(Row(len(rows), lineno, value, str(path)))
    return rows, issues


def _read_csv(path: Path) -> tuple[list[Row], list[ManifestIssue]]:
    rows: list[Row] = []
    issues: list[ManifestIssue] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            return rows, [_issue(path, 1, "CSV file is empty", "the first line must name the columns")]
        except csv.Error as exc:
            return rows, [_issue(path, 1, f"malformed CSV: {exc}")]
        if len(set(header)) != len(header) or any(not h.strip() for h in header):
            issues.append(
                _issue(path, 1, "CSV header has empty or duplicate column names", "name every column once")
            )
        start = reader.line_num + 1
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                issues.append(_issue(path, start, f"malformed CSV: {exc}"))
                break
            if record and len(record) != len(header):
                issues.append(
                    _issue(
                        path,
                        start,
                        f"expected {len(header)} columns, got {len(record)}",
                        "quote values that contain commas",
                    )
                )
            elif record:
                rows.append(Row(len(rows), start, dict(zip(header, record, strict=True)), str(path)))
            start = reader.line_num + 1
    return rows, issues


# ---------------------------------------------------------------- templates


def fields_in(value: Any) -> set[str]:
    """Every `{{field}}` a template (string, list, dict, nested) refers to."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(PLACEHOLDER.findall(value))
    elif isinstance(value, Mapping):
        for k, v in value.items():
            found |= fields_in(k) | fields_in(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            found |= fields_in(v)
    return found


def _lookup(row: Mapping[str, Any], name: str) -> Any:
    if name in row:
        return row[name]
    # dotted names reach into nested objects: {{meta.lang}}
    value: Any = row
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(name)
        value = value[part]
    return value


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def render_text(template: str, row: Mapping[str, Any], encode: bool = False) -> str:
    def sub(m: re.Match[str]) -> str:
        text = _as_text(_lookup(row, m.group(1)))
        return quote(text, safe="") if encode else text

    return PLACEHOLDER.sub(sub, template)


def render_value(template: Any, row: Mapping[str, Any]) -> Any:
    """Fill placeholders inside JSON values. A string that is exactly one placeholder takes the row's
    value with its type (a number stays a number, a list stays a list); embedded ones become text."""
    if isinstance(template, str):
        m = PLACEHOLDER.fullmatch(template.strip())
        if m:
            return _lookup(row, m.group(1))
        return render_text(template, row)
    if isinstance(template, Mapping):
        return {render_text(str(k), row): render_value(v, row) for k, v in template.items()}
    if isinstance(template, (list, tuple)):
        return [render_value(v, row) for v in template]
    return template


@dataclass(frozen=True)
class RequestTemplate:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    body: str | None = None

    @classmethod
    def from_model(cls, request: Any) -> RequestTemplate:
        """From the manifest's EvalRequest (or anything with the same attributes)."""
        return cls(
            method=request.method,
            path=request.path,
            headers=dict(request.headers or {}),
            json=getattr(request, "json_", None),
            body=request.body,
        )

    def fields(self) -> set[str]:
        return (
            fields_in(self.path) | fields_in(dict(self.headers)) | fields_in(self.json) | fields_in(self.body)
        )

    def render(self, row: Mapping[str, Any]) -> RenderedRequest:
        return RenderedRequest(
            method=self.method,
            path=render_text(self.path, row, encode=True),
            headers={k: render_text(v, row) for k, v in self.headers.items()},
            json=render_value(self.json, row) if self.json is not None else None,
            body=render_text(self.body, row) if self.body is not None else None,
        )


def check_fields(rows: Iterable[Row], needed: Iterable[str], what: str = "the request template") -> None:
    """Every row must carry every templated field; raises DatasetError listing file:line of each gap."""
    needed = sorted(set(needed))
    issues: list[ManifestIssue] = []
    for row in rows:
        missing = []
        for name in needed:
            try:
                _lookup(row.data, name)
            except KeyError:
                missing.append(name)
        if missing:
            issues.append(
                ManifestIssue(
                    message=f"row is missing {', '.join(missing)} (used by {what})",
                    file=row.source,
                    line=row.line,
                    hint=f"add {', '.join(repr(m) for m in missing)} to this row, or change the template",
                )
            )
            if len(issues) >= MAX_ISSUES:
                break
    if issues:
        raise DatasetError(issues)
