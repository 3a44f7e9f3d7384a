"""Reports: the JSON result against its schema, JUnit structure, Markdown, per-row files and diff."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from genaiops_cli.core.evaluation import engine, report
from genaiops_cli.core.evaluation.calls import Outcome
from genaiops_cli.core.evaluation.diff import diff
from genaiops_cli.core.evaluation.runner import Target
from genaiops_cli.core.manifest.model import Evaluation

SCHEMA = json.loads((Path(engine.__file__).parent / "result.schema.json").read_text())


def _prepare(tmp_path, **kw):
    rows = [{"id": f"q{i}", "question": f"question {i}", "answer": f"answer number {i}"} for i in range(12)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = {
        "service": "agent",
        "dataset": "d.jsonl",
        "request": {"method": "POST", "path": "/chat", "json": {"message": "{{question}}"}},
        "response": "$.answer",
        "evaluators": ["token_f1", "exact_match", "latency", "error_rate"],
        "thresholds": {"token_f1": ">= 0.7", "error_rate": "<= 0.1"},
        "baseline": {"max_regression": {"token_f1": 0.05}},
    }
    spec.update(kw)
    return engine.prepare("quality", Evaluation.model_validate(spec), tmp_path)


def _outcomes(prepared, wrong: set[int], errors: set[int] = frozenset()):
    outs = []
    for i, call in enumerate(prepared.calls):
        if i in errors:
            outs.append(Outcome(call, status=503, error="HTTP 503", attempts=4))
        else:
            answer = "something else entirely" if i in wrong else call.expected
            outs.append(
                Outcome(
                    call, status=200, latency_ms=10.0 + i, body={"answer": answer}, answer=answer, attempts=1
                )
            )
    return outs


def _results(tmp_path, dry_run=False):
    p = _prepare(tmp_path, dry_run=dry_run)
    cand = _outcomes(p, wrong={0, 1, 2, 3, 4, 5}, errors={6})
    base = _outcomes(p, wrong=set())
    return [
        engine.finish(
            p,
            Target("http://cand", label="green"),
            cand,
            Target("http://base", label="blue"),
            base,
            n_resamples=500,
        )
    ]


def test_failing_run_result_matches_the_schema(tmp_path):
    results = _results(tmp_path)
    doc = report.result_dict(results, environment="staging", label="green")
    jsonschema.validate(doc, SCHEMA)
    ev = doc["evaluations"][0]
    assert doc["verdict"] == "fail" and ev["verdict"] == "fail"
    assert ev["metrics"]["error_rate"] == pytest.approx(1 / 12, abs=1e-6)
    assert ev["baseline"]["metrics"]["token_f1"] == 1.0
    assert {g["name"]: g["verdict"] for g in ev["gates"]} == {
        "token_f1 >= 0.7": "fail",
        "error_rate <= 0.1": "pass",
        "token_f1 vs baseline (max regression 0.05)": "fail",
    }
    # the error row is kept and failing; six wrong answers fail the per-row token_f1 threshold
    assert ev["failing_rows_total"] == 7
    assert any(r["error"] == "HTTP 503" for r in ev["failing_rows"])
    json.dumps(doc)  # JSON-clean (no NaN)
    assert "NaN" not in json.dumps(doc)


def test_junit_has_one_case_per_gate_failing_as_the_gate_does(tmp_path):
    xml = report.junit(_results(tmp_path))
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "token_f1 >= 0.7",
        "error_rate <= 0.1",
        "token_f1 vs baseline (max regression 0.05)",
    ]
    assert {c.get("classname") for c in cases} == {"eval.quality.gates"}
    # two gates fail (exit 9), one passes: the counts say exactly that
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "2", "0")
    assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None) == 2
    assert cases[1].find("failure") is None
    for c in cases:  # JUnit structure: name/classname/time on every case, at most one outcome child
        assert c.get("name") and c.get("classname") and float(c.get("time")) >= 0
        assert len([ch for ch in c if ch.tag in ("failure", "error", "skipped")]) <= 1
    failure = cases[0].find("failure")
    assert "token_f1" in failure.get("message") and "7 rows below a threshold" in failure.text
    # the rows are evidence: all seven in the suite's system-out, metrics as properties
    rows = suite.find("system-out").text.splitlines()[1:]
    assert len(rows) == 7 and any(json.loads(r)["error"] == "HTTP 503" for r in rows)
    props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert props["verdict"] == "fail" and props["failing_rows"] == "7" and "metric.token_f1" in props
    gate_props = {p.get("name"): p.get("value") for p in cases[0].findall("properties/property")}
    assert gate_props["threshold"] == ">= 0.7" and float(gate_props["measured"]) < 0.7


def test_junit_of_a_passing_run_with_failing_rows_has_no_failures(tmp_path):
    """A gate that passes while some rows miss their threshold: exit 0, so failures="0"."""
    p = _prepare(tmp_path, thresholds={"token_f1": ">= 0.5"}, baseline=None)
    results = [engine.finish(p, Target("http://cand"), _outcomes(p, wrong={0, 1}), n_resamples=100)]
    assert report.result_dict(results)["verdict"] == "pass" and results[0].failing
    root = ET.fromstring(report.junit(results))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("1", "0", "0")
    assert "2 rows below a threshold" in root.find("testsuite/system-out").text


def test_junit_marks_an_inconclusive_gate_as_error():
    from genaiops_cli.core.reports import TestCase, TestSuite, junit_xml

    case = TestCase("ab", "eval.q.gates", error="inconclusive: straddles the margin")
    root = ET.fromstring(junit_xml([TestSuite("s", [case, TestCase("t", "eval.q.gates")])]))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "0", "1")
    assert root.find("testsuite/testcase/error").get("message").startswith("inconclusive")


def test_dry_run_reports_skips_and_never_fails(tmp_path):
    results = _results(tmp_path, dry_run=True)
    doc = report.result_dict(results)
    assert doc["verdict"] == "pass"
    assert all(not g["blocking"] for g in doc["evaluations"][0]["gates"])
    assert {g["verdict"] for g in doc["evaluations"][0]["gates"]} == {"fail", "pass"}
    root = ET.fromstring(report.junit(results))
    assert root.find("testsuite").get("failures") == "0"
    assert root.find("testsuite").findall("testcase/skipped")


def test_markdown_and_step_summary(tmp_path, monkeypatch):
    from genaiops_cli.core.reports import append_step_summary

    md = report.markdown(_results(tmp_path))
    assert "### Evaluation `quality`: ❌ fail" in md and "| token_f1 |" in md and "failing rows" in md
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert append_step_summary(md)
    assert summary.read_text().startswith("### Evaluation")


def test_report_dir_and_diff(tmp_path):
    a_results = _results(tmp_path)
    p = a_results[0].prepared
    good = engine.finish(p, Target("http://x"), _outcomes(p, wrong=set()), n_resamples=100)
    ra, rb = tmp_path / "ra", tmp_path / "rb"
    report.write_report_dir(rb, a_results, report.result_dict(a_results))
    report.write_report_dir(ra, [good], report.result_dict([good]))
    lines = (rb / "quality.rows.jsonl").read_text().splitlines()
    assert len(lines) == 12 and json.loads(lines[6])["error"] == "HTTP 503"
    assert (rb / "quality.baseline.rows.jsonl").exists() and (rb / "junit.xml").exists()
    d = diff(ra, rb)
    [ev] = d["evaluations"]
    assert ev["common"] == 12 and ev["changed"] == 7
    assert ev["metrics"]["token_f1"]["delta"] < 0 and ev["metrics"]["token_f1"]["rows_down"] == 7
    assert ev["changes"][0]["error_b"] == "HTTP 503"  # errors first, then the largest drops
    same = diff(ra / "quality.rows.jsonl", ra / "quality.rows.jsonl")
    assert same["evaluations"][0]["changed"] == 0


def test_diff_rejects_foreign_files(tmp_path):
    from genaiops_cli.errors import ManifestError, UsageError

    bad = tmp_path / "x.rows.jsonl"
    bad.write_text('{"no": "id"}\n')
    with pytest.raises(ManifestError) as err:
        diff(bad, bad)
    assert err.value.issues[0].line == 1
    with pytest.raises(UsageError):
        diff(tmp_path / "missing", bad)
