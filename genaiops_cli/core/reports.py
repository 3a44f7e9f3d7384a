"""Report formats CI systems read: JUnit XML and the GitHub step summary (Markdown).

A JUnit test case is something that can make the command fail (a gate, a smoke check), and it fails
exactly when it does: a job that exits 0 shows no failures. Evidence (rows, metrics) rides along as
properties and system-out, never as extra failing cases."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from genaiops_cli.core.ci_annotations import append_step_summary

__all__ = ["TestCase", "TestSuite", "append_step_summary", "junit_xml", "markdown_table", "write_junit"]


@dataclass
class TestCase:
    name: str
    classname: str
    seconds: float = 0.0
    failure: str | None = None  # message; None = passed
    details: str = ""
    skipped: str | None = None
    error: str | None = None  # neither pass nor fail (an inconclusive gate): JUnit's <error>
    properties: dict[str, str] = field(default_factory=dict)
    system_out: str = ""


@dataclass
class TestSuite:
    name: str
    cases: list[TestCase] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    system_out: str = ""

    @property
    def failures(self) -> int:
        return sum(1 for c in self.cases if c.failure is not None)

    @property
    def errors(self) -> int:
        return sum(1 for c in self.cases if c.failure is None and c.error is not None)

    @property
    def skipped(self) -> int:
        return sum(1 for c in self.cases if c.failure is None and c.error is None and c.skipped is not None)


def _properties(parent: ET.Element, properties: dict[str, str]) -> None:
    if properties:
        node = ET.SubElement(parent, "properties")
        for name, value in properties.items():
            ET.SubElement(node, "property", name=name, value=str(value))


def _system_out(parent: ET.Element, text: str) -> None:
    if text:
        ET.SubElement(parent, "system-out").text = text


def junit_xml(suites: list[TestSuite]) -> str:
    root = ET.Element(
        "testsuites",
        tests=str(sum(len(s.cases) for s in suites)),
        failures=str(sum(s.failures for s in suites)),
        errors=str(sum(s.errors for s in suites)),
        skipped=str(sum(s.skipped for s in suites)),
    )
    for suite in suites:
        node = ET.SubElement(
            root,
            "testsuite",
            name=suite.name,
            tests=str(len(suite.cases)),
            failures=str(suite.failures),
            errors=str(suite.errors),
            skipped=str(suite.skipped),
            time=f"{sum(c.seconds for c in suite.cases):.3f}",
        )
        _properties(node, suite.properties)
        for case in suite.cases:
            tc = ET.SubElement(
                node, "testcase", name=case.name, classname=case.classname, time=f"{case.seconds:.3f}"
            )
            _properties(tc, case.properties)
            if case.failure is not None:
                failure = ET.SubElement(tc, "failure", message=case.failure, type="AssertionError")
                failure.text = case.details or case.failure
            elif case.error is not None:
                error = ET.SubElement(tc, "error", message=case.error, type="Inconclusive")
                error.text = case.details or case.error
            elif case.skipped is not None:
                ET.SubElement(tc, "skipped", message=case.skipped)
            _system_out(tc, case.system_out)
        _system_out(node, suite.system_out)
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
