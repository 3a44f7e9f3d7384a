"""What an Azure Pipelines job shows of a run: logging commands for issues and the run summary.

Only when TF_BUILD=True (set by the agent). `##vso[task.logissue …]` lines put errors on the file
and line to fix in the run's Issues list; `##vso[task.uploadsummary]` attaches the Markdown report
to the run's summary page. Both go to stderr like the GitHub commands (the agent reads both
streams; stdout stays one JSON document under `-o json`). Test results come from the JUnit files
through the pipeline's PublishTestResults@2 step, which `genaiops pipeline init` generates."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

LEVELS = {"error": "error", "warning": "warning", "notice": "warning"}  # logissue has no notice


def in_azure_pipelines() -> bool:
    return os.environ.get("TF_BUILD", "").lower() == "true"


def _escape(text: str, in_property: bool = False) -> str:
    # The agent's unescaping (azure-pipelines-task-lib): %AZP25 first, then CR, LF, and in
    # properties also `;` (separator) and `]` (end of the property list).
    out = text.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")
    if in_property:
        out = out.replace(";", "%3B").replace("]", "%5D")
    return out


def logissue(annotation: Any) -> str:
    """`##vso[task.logissue type=error;sourcepath=genaiops.yaml;linenumber=31]message`."""
    props = [f"type={LEVELS.get(annotation.level, 'error')}"]
    for key, value in (
        ("sourcepath", annotation.file),
        ("linenumber", annotation.line),
        ("columnnumber", annotation.column),
    ):
        if value is not None:
            props.append(f"{key}={_escape(str(value), in_property=True)}")
    message = annotation.message
    if annotation.title:
        message = f"{annotation.title}: {message}"
    return f"##vso[task.logissue {';'.join(props)}]{_escape(message)}"


def emit(annotations: list[Any], stream: TextIO | None = None) -> bool:
    if not annotations or not in_azure_pipelines():
        return False
    out = stream or sys.stderr
    for a in annotations:
        out.write(logissue(a) + "\n")
    out.flush()
    return True


def upload_summary(markdown: str, stream: TextIO | None = None) -> bool:
    """Attach `markdown` to the run's summary page (one file per call; the agent keeps them all)."""
    if not in_azure_pipelines():
        return False
    directory = Path(os.environ.get("AGENT_TEMPDIRECTORY") or tempfile.gettempdir())
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="genaiops-summary-", suffix=".md", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(markdown.rstrip() + "\n")
    out = stream or sys.stderr
    out.write(f"##vso[task.uploadsummary]{_escape(name)}\n")
    out.flush()
    return True
