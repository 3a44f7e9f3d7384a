"""All output goes through here.

Text mode: results render on stdout, progress and logs on stderr, both through rich.
JSON mode: stdout carries exactly one envelope document; everything human goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rich.console import Console as RichConsole
from rich.table import Table
from rich.text import Text

from genaiops_cli.errors import GenAIOpsError

SCHEMA_ID = "genaiops/v1"
PIPE_WIDTH = 200


class OutputMode(StrEnum):
    text = "text"
    json = "json"


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


SDK_LOGGERS = ("azure", "msal")
_SDK_HANDLER: dict[str, Any] = {}


def sdk_logging(verbosity: int) -> None:
    """The Azure SDKs log through `logging` (azure-identity alone writes a dozen warning lines when
    no sign-in works); none of it reaches stderr unless asked: -v warnings, -vv info, -vvv debug."""
    import logging

    level = {1: logging.WARNING, 2: logging.INFO}.get(verbosity, logging.DEBUG if verbosity > 2 else None)
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        if level is None:
            logger.setLevel(logging.CRITICAL + 1)  # also keeps logging's last-resort handler quiet
            continue
        logger.setLevel(level)
        if name not in _SDK_HANDLER:
            handler = logging.StreamHandler()  # stderr
            handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
            logger.addHandler(handler)
            logger.propagate = False
            _SDK_HANDLER[name] = handler


def color_disabled(color: bool = True) -> bool:
    """--no-color, or NO_COLOR set to anything non-empty (https://no-color.org)."""
    return not color or bool(os.environ.get("NO_COLOR"))


class Console:
    def __init__(
        self,
        output: OutputMode = OutputMode.text,
        verbosity: int = 0,
        color: bool = True,
    ) -> None:
        self.output = output
        self.verbosity = verbosity
        self.color = color
        self._emitted = False
        self._build()
        sdk_logging(verbosity)

    def _build(self) -> None:
        # NO_COLOR means plain text: rich's own no_color still emits bold/dim, color_system=None emits none.
        plain = {"color_system": None} if color_disabled(self.color) else {}
        self.err = RichConsole(stderr=True, highlight=False, soft_wrap=True, **plain)
        self.out = RichConsole(highlight=False, soft_wrap=True, **plain)
        for console in (self.err, self.out):
            if not console.is_terminal and "COLUMNS" not in os.environ:
                console.width = PIPE_WIDTH  # logs and CI output: never truncate digests and URLs

    def reconfigure(
        self, output: OutputMode | None = None, verbosity: int | None = None, color: bool | None = None
    ) -> None:
        """Apply a global option given after the subcommand (the console exists by then)."""
        if output is not None:
            self.output = output
        if verbosity is not None:
            self.verbosity = verbosity
            sdk_logging(verbosity)
        if color is not None and color != self.color:
            self.color = color
            self._build()

    @property
    def is_json(self) -> bool:
        return self.output is OutputMode.json

    @property
    def interactive(self) -> bool:
        return sys.stdin.isatty() and self.err.is_terminal

    # -- human channel (stderr) ------------------------------------------------------------
    def info(self, message: str) -> None:
        if self.verbosity >= 0:
            self.err.print(message)

    def success(self, message: str) -> None:
        if self.verbosity >= 0:
            self.err.print(f"[green]✓[/green] {message}")

    def warn(self, message: str) -> None:
        if self.verbosity >= 0:  # -q: only errors
            self.err.print(f"[yellow]warning:[/yellow] {message}")

    def debug(self, message: str) -> None:
        if self.verbosity >= 1:
            self.err.print(f"[dim]{message}[/dim]")

    # -- results (stdout) ------------------------------------------------------------------
    def result(
        self,
        command: str,
        result: Any,
        render: Callable[[RichConsole], None] | None = None,
        ok: bool = True,
    ) -> None:
        """Emit a command's result: the envelope in JSON mode, `render` on stdout in text mode."""
        if self.is_json:
            self._write_envelope(
                {"schema": SCHEMA_ID, "command": command, "ok": ok, "result": _jsonable(result)}
            )
        elif render is not None:
            render(self.out)

    def error(self, command: str, error: GenAIOpsError, trace: str | None = None) -> None:
        if self.is_json:
            if not self._emitted:
                self._write_envelope(
                    {
                        "schema": SCHEMA_ID,
                        "command": command,
                        "ok": False,
                        "error": _jsonable(error.to_dict()),
                    }
                )
        else:
            log = error.details.get("log") if error.details else None
            if (
                isinstance(log, list) and log
            ):  # a build's or run's last lines: the evidence, before the verdict
                for line in log:
                    self.err.print(f"  {line}", markup=False, style="dim")
            issues = error.details.get("issues") if error.details else None
            if issues and len(issues) > 1:
                self.err.print(f"[red]error:[/red] {len(issues)} problems found", markup=True)
                for issue in issues:
                    self.err.print(f"  • {_issue_line(issue)}", markup=False)
            else:
                self.err.print("[red]error:[/red] ", end="")
                self.err.print(error.message, markup=False)
            if error.hint:
                self.err.print("[cyan]hint:[/cyan] ", end="")
                self.err.print(error.hint, markup=False)
        if trace:
            self.err.print(trace, markup=False)
        from genaiops_cli.core.ci_annotations import annotate, error_annotations

        annotate(error_annotations(command, error.to_dict()))

    def _write_envelope(self, doc: dict[str, Any]) -> None:
        # One document per process: a second write would break `json.loads(stdout)`.
        if self._emitted:
            return
        self._emitted = True
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        sys.stdout.flush()


def _issue_line(issue: dict[str, Any]) -> str:
    loc = issue.get("file") or ""
    if issue.get("line") is not None:
        loc += f":{issue['line']}"
        if issue.get("column") is not None:
            loc += f":{issue['column']}"
    where = f" at {issue['path']}" if issue.get("path") else ""
    text = f"{loc}{where}: {issue.get('message')}"
    if issue.get("hint"):
        text += f" (hint: {issue['hint']})"
    return text


# -- tables that fit ---------------------------------------------------------------------------

COLUMN_GAP = 2  # box=None, padding (0, 1), no edge padding: two spaces between columns
WRAP_MIN = 10  # a wrapping column narrower than this is unreadable: drop a column instead


@dataclass(frozen=True)
class Col:
    """A table column. `copy`: identifiers people copy (revision names, digests, release ids,
    timestamps) are never cut or wrapped. `drop`: 0 = always shown; otherwise columns with the
    highest `drop` go first when the table cannot fit the terminal."""

    header: str
    copy: bool = False
    drop: int = 0
    justify: str = "left"


def _cell_width(cell: Any) -> int:
    if isinstance(cell, str):
        return Text.from_markup(cell).cell_len if "[" in cell else Text(cell).cell_len
    return Text(str(cell)).cell_len


def fitted_table(width: int, columns: list[Col], rows: list[list[Any]]) -> Table:
    """A borderless table for `width` columns: lower-value columns wrap, then go, before a copyable
    identifier is ever cut."""
    natural = [
        max([_cell_width(c.header)] + [_cell_width(row[i]) for row in rows]) for i, c in enumerate(columns)
    ]

    def needed(keep: list[int]) -> int:
        mins = [natural[i] if columns[i].copy else min(natural[i], WRAP_MIN) for i in keep]
        return sum(mins) + COLUMN_GAP * (len(keep) - 1)

    keep = list(range(len(columns)))
    for i in sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop):
        if needed(keep) <= width:
            break
        keep.remove(i)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for i in keep:
        c = columns[i]
        if c.copy:
            table.add_column(c.header, no_wrap=True, min_width=natural[i], justify=c.justify)  # type: ignore[arg-type]
        else:
            table.add_column(c.header, overflow="fold", justify=c.justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    return table
