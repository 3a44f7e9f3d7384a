"""Report formats CI systems read: JUnit XML and the GitHub step summary (Markdown)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class TestCase:
    name: str
    classname: str
    seconds: float = 0.0
    failure: str | None = None  # message; None = passed
    details: str = ""
    skipped: str | None = None


@dataclass
class TestSuite:
    name: str
    cases: list[TestCase] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(1 for c in self.cases if c.failure is not None)


def junit_xml(suites: list[TestSuite]) -> str:
    root = ET.Element(
        "testsuites",
        tests=str(sum(len(s.cases) for s in suites)),
        failures=str(sum(s.failures for s in suites)),
    )
    for suite in suites:
        node = ET.SubElement(
            root,
            "testsuite",
            name=suite.name,
            tests=str(len(suite.cases)),
            failures=str(suite.failures),
            errors="0",
            skipped=str(sum(1 for c in suite.cases if c.skipped)),
            time=f"{sum(c.seconds for c in suite.cases):.3f}",
        )
        for case in suite.cases:
            tc = ET.SubElement(
                node, "testcase", name=case.name, classname=case.classname, time=f"{case.seconds:.3f}"
            )
            if case.failure is not None:
                failure = ET.SubElement(tc, "failure", message=case.failure, type="AssertionError")
                failure.text = case.details or case.failure
            elif case.skipped is not None:
                ET.SubElement(tc, "skipped", message=case.skipped)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, suites: list[TestSuite]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(suites), encoding="utf-8")


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    def cell(value: str) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def append_step_summary(markdown: str) -> bool:
    """Append to $GITHUB_STEP_SUMMARY when running in GitHub Actions; False when not set."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip() + "\n\n")
    return True
