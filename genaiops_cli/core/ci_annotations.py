"""What a GitHub Actions job shows of a run: annotations (workflow commands) and the step summary.

Only when GITHUB_ACTIONS=true. Annotations go to stderr: the runner reads workflow commands from both
streams, and stdout must stay one JSON document in `-o json` mode. Other CI systems read JUnit.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from typing import TextIO


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def annotations_wanted() -> bool:
    """Whether `annotate` would write anything: a command can skip building them (and reading where
    they point in the manifest) outside CI."""
    from genaiops_cli.core import ci_azure_pipelines

    return in_github_actions() or ci_azure_pipelines.in_azure_pipelines()


def summary_wanted() -> bool:
    """Whether `append_step_summary` would write anything."""
    from genaiops_cli.core import ci_azure_pipelines

    return bool(os.environ.get("GITHUB_STEP_SUMMARY")) or ci_azure_pipelines.in_azure_pipelines()


@dataclass(frozen=True)
class Annotation:
    level: str  # error | warning | notice
    message: str
    title: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(a: Annotation) -> str:
    """`::error file=genaiops.yaml,line=16,title=…::message`, escaped as the runner expects."""
    props = [
        f"{key}={_escape_property(str(value))}"
        for key, value in (("file", a.file), ("line", a.line), ("col", a.column), ("title", a.title))
        if value is not None
    ]
    head = f"{a.level} {','.join(props)}" if props else a.level
    return f"::{head}::{_escape_data(a.message)}"


def annotate(annotations: list[Annotation], stream: TextIO | None = None) -> bool:
    """Write the annotations when running in GitHub Actions (or Azure Pipelines, through
    ci_azure_pipelines); False (and nothing written) otherwise. File paths become relative to the
    CI workspace, as both platforms expect."""
    from genaiops_cli.core import ci_azure_pipelines
    from genaiops_cli.core.manifest.locate import workspace_relative

    annotations = [replace(a, file=workspace_relative(a.file)) if a.file else a for a in annotations]
    if ci_azure_pipelines.in_azure_pipelines():
        return ci_azure_pipelines.emit(annotations, stream)
    if not annotations or not in_github_actions():
        return False
    out = stream or sys.stderr
    for a in annotations:
        out.write(workflow_command(a) + "\n")
    out.flush()
    return True


def append_step_summary(markdown: str) -> bool:
    """Append to $GITHUB_STEP_SUMMARY when running in GitHub Actions; False when not set."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        from genaiops_cli.core import ci_azure_pipelines

        return ci_azure_pipelines.upload_summary(markdown)
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip() + "\n\n")
    return True


def error_annotations(command: str, error: dict) -> list[Annotation]:
    """The error that ended a command: one annotation, or one per manifest issue (with file and line)."""
    title = f"genaiops {command}".strip()
    issues = (error.get("details") or {}).get("issues") if isinstance(error.get("details"), dict) else None
    if issues:
        return [
            Annotation(
                "error",
                f"{i.get('path') or ''}: {i.get('message')}".lstrip(": ")
                + (f" (hint: {i['hint']})" if i.get("hint") else ""),
                title=title,
                file=i.get("file"),
                line=i.get("line"),
                column=i.get("column"),
            )
            for i in issues
        ]
    message = error.get("message", "")
    if error.get("hint"):
        message += f"\nhint: {error['hint']}"
    return [Annotation("error", message, title=title), *_failed_smoke_checks(error.get("details"))]


def _failed_smoke_checks(details: object) -> list[Annotation]:
    """A gate failure's smoke checks, one annotation each on the check's manifest line."""
    gates = details.get("gates") if isinstance(details, dict) else None
    return [
        Annotation(
            "error",
            f"{r.get('url')}: {'; '.join(r.get('failures') or [])}",
            title=f"smoke {service}/{r.get('name')} failed",
            file=r.get("file"),
            line=r.get("line"),
        )
        for gate in gates or []
        if isinstance(gate, dict) and gate.get("kind") == "smoke"
        for service, results in (gate.get("evidence") or {}).items()
        for r in results
        if isinstance(r, dict) and not r.get("passed", True)
    ]
