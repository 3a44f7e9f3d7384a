"""What CI sees: GitHub annotations and step summary (only in Actions), JUnit that agrees with exit codes."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

from genaiops_cli.core import ci_annotations as ci
from genaiops_cli.core import smoke
from genaiops_cli.errors import ExitCode

from .helpers import run_cli

BROKEN = """version: 1
name: demo
services:
  agent:
    image: example/agent:1
    host: containerapp
    ingress: {port: 8080}
environments:
  dev:
    cloud: sandbox
    subscription: 00000000-0000-0000-0000-000000000000
    resource_group: rg-dev
    location: eastus2
    registry: crdev
    containerapps_environment: cae-dev
    strategy: sideways
"""


def test_workflow_command_escapes_data_and_properties() -> None:
    a = ci.Annotation("error", "50% failed\nsee below", title="eval q: a, b", file="g.yaml", line=3)
    assert (
        ci.workflow_command(a)
        == "::error file=g.yaml,line=3,title=eval q%3A a%2C b::50%25 failed%0Asee below"
    )
    assert ci.workflow_command(ci.Annotation("warning", "x")) == "::warning::x"


def test_annotations_only_in_github_actions(monkeypatch) -> None:
    out = io.StringIO()
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert ci.annotate([ci.Annotation("error", "x")], out) is False and out.getvalue() == ""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert ci.annotate([ci.Annotation("error", "x")], out) is True and out.getvalue() == "::error::x\n"


def test_smoke_junit_and_annotations_follow_the_checks() -> None:
    results = {
        "agent": [
            smoke.CheckResult("health", "https://a/healthz", True, 200, 12.0, 1, []),
            smoke.CheckResult("chat", "https://a/chat", False, 500, 30.0, 1, ["status 500, expected 200"]),
        ]
    }
    from genaiops_cli.core.reports import junit_xml

    root = ET.fromstring(junit_xml([smoke.suite("agent", results["agent"])]))
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    [failed] = smoke.annotations(results)
    assert failed.title == "smoke agent/chat failed" and "status 500" in failed.message


def test_manifest_error_becomes_file_line_annotations(tmp_path: Path) -> None:
    manifest = tmp_path / "genaiops.yaml"
    manifest.write_text(BROKEN)
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    run = run_cli("-f", str(manifest), "-o", "json", "validate", env=env)
    assert run.code == ExitCode.MANIFEST
    run.json()  # stdout stays one JSON document: annotations go to stderr
    [line] = [ln for ln in run.stderr.splitlines() if ln.startswith("::error")]
    assert line.startswith(f"::error file={manifest},line=16,")
    assert "environments.dev.strategy" in line and "title=genaiops validate" in line
    quiet = run_cli("-f", str(manifest), "validate", env={"GITHUB_ACTIONS": ""})
    assert "::error" not in quiet.stderr
