"""Datasets and templates: per-line errors before any request; rendering of JSON values and paths."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from genaiops_cli.core.evaluation import engine
from genaiops_cli.core.evaluation.dataset import DatasetError, RequestTemplate, check_fields, load_rows
from genaiops_cli.core.manifest.model import Evaluation
from genaiops_cli.errors import ExitCode, ManifestError


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_rows_keep_their_line_numbers(tmp_path):
    p = write(tmp_path / "d.jsonl", '{"question": "a"}\n\n{"question": "b", "id": "x"}\n')
    rows = load_rows(p)
    assert [(r.line, r.id) for r in rows] == [(1, "L1"), (3, "x")]
    assert load_rows(p, limit=1)[0].data == {"question": "a"}


def test_malformed_jsonl_line_names_file_and_line(tmp_path):
    p = write(tmp_path / "d.jsonl", '{"question": "a"}\n{"question": "b",\n[1, 2]\n')
    with pytest.raises(DatasetError) as err:
        load_rows(p)
    issues = err.value.issues
    assert err.value.exit_code == ExitCode.MANIFEST
    assert [(i.file, i.line) for i in issues] == [(str(p), 2), (str(p), 3)]
    assert "malformed JSON" in issues[0].message and "JSON object" in issues[1].message
    assert f"{p}:2" in err.value.message


def test_csv_rows_and_errors(tmp_path):
    p = write(tmp_path / "d.csv", 'question,answer\n"How, exactly?",yes\n"multi\nline",no\n')
    rows = load_rows(p)
    assert [r.data["question"] for r in rows] == ["How, exactly?", "multi\nline"]
    assert [r.line for r in rows] == [2, 3]
    bad = write(tmp_path / "bad.csv", "question,answer\nonly-one\nok,fine\n")
    with pytest.raises(DatasetError) as err:
        load_rows(bad)
    assert (err.value.issues[0].line, "expected 2 columns") == (2, err.value.issues[0].message[:18])


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_rows(tmp_path / "nope.jsonl")
    with pytest.raises(DatasetError, match="no rows"):
        load_rows(write(tmp_path / "e.jsonl", "\n"))


def test_missing_templated_field_is_reported_per_line(tmp_path):
    p = write(tmp_path / "d.jsonl", '{"question": "a", "answer": "x"}\n{"answer": "y"}\n{"q": 1}\n')
    rows = load_rows(p)
    with pytest.raises(DatasetError) as err:
        check_fields(rows, {"question"})
    assert [i.line for i in err.value.issues] == [2, 3]
    assert "question" in err.value.issues[0].message


def test_render_fills_json_values_headers_and_path():
    t = RequestTemplate(
        method="POST",
        path="/items/{{sku}}/ask",
        headers={"X-Lang": "{{lang}}"},
        json={
            "message": "Q: {{question}}",
            "top_k": "{{k}}",
            "tags": ["{{lang}}"],
            "meta": {"raw": "{{ meta.id }}"},
        },
    )
    assert t.fields() == {"sku", "lang", "question", "k", "meta.id"}
    r = t.render({"sku": "a/b c", "lang": "en", "question": "why?", "k": 3, "meta": {"id": 9}})
    assert r.path == "/items/a%2Fb%20c/ask"
    assert r.headers == {"X-Lang": "en"}
    # a whole-string placeholder keeps the row's type; an embedded one becomes text
    assert r.json == {"message": "Q: why?", "top_k": 3, "tags": ["en"], "meta": {"raw": 9}}


def _evaluation(**kw):
    base = {
        "service": "agent",
        "dataset": "d.jsonl",
        "request": {"method": "POST", "path": "/chat", "json": {"message": "{{question}}"}},
        "response": "$.answer",
        "evaluators": ["token_f1", "latency", "error_rate"],
        "thresholds": {"token_f1": ">= 0.7"},
    }
    base.update(kw)
    return Evaluation.model_validate(base)


def test_prepare_checks_expected_field_before_sending(tmp_path):
    write(tmp_path / "d.jsonl", '{"question": "a", "answer": "x"}\n{"question": "b"}\n')
    with pytest.raises(ManifestError) as err:
        engine.prepare("quality", _evaluation(), tmp_path)
    assert (err.value.issues[0].file, err.value.issues[0].line) == (str(tmp_path / "d.jsonl"), 2)
    assert "answer" in err.value.issues[0].message


def test_prepare_renders_calls_and_expected(tmp_path):
    write(tmp_path / "d.jsonl", '{"question": "a", "answer": "x"}\n{"question": "b", "answer": "y"}\n')
    p = engine.prepare("quality", _evaluation(), tmp_path)
    assert [c.request.json for c in p.calls] == [{"message": "a"}, {"message": "b"}]
    assert [c.expected for c in p.calls] == ["x", "y"]
    assert len(p.dataset_sha256) == 64


def test_unknown_threshold_metric_is_a_manifest_error(tmp_path):
    write(tmp_path / "d.jsonl", '{"question": "a", "answer": "x"}\n')
    with pytest.raises(ManifestError) as err:
        engine.prepare("quality", _evaluation(thresholds={"token_f": ">= 0.5"}), tmp_path)
    issue = err.value.issues[0]
    assert issue.path == "evaluations.quality.thresholds.token_f"
    assert "token_f1" in issue.hint


def test_unknown_evaluator_option_error_points_at_the_evaluator(tmp_path):
    write(tmp_path / "d.jsonl", '{"question": "a", "answer": "x"}\n')
    spec = _evaluation(evaluators=[{"name": "regex_match", "pattern": "("}], thresholds={})
    with pytest.raises(ManifestError) as err:
        engine.prepare("quality", spec, tmp_path)
    assert err.value.issues[0].path == "evaluations.quality.evaluators[0]"


def test_probe_calls_use_the_request_template(tmp_path):
    write(tmp_path / "d.jsonl", '{"question": "a"}\n')
    spec = _evaluation(
        evaluators=["genaiops_cli.core.safety.evaluator:SafetyEvaluator", "error_rate"],
        thresholds={"attack_success_rate": "<= 0"},
    )
    p = engine.prepare("safety", spec, tmp_path)
    probes = [c for c in p.calls if c.kind == "probe"]
    assert len(probes) >= 16 and p.probe_set == "builtin/v1"
    assert probes[0].request.json == {"message": probes[0].probe.prompt}


def test_namespace_template_adapter():
    req = SimpleNamespace(method="GET", path="/q/{{x}}", headers={}, json_=None, body=None)
    assert RequestTemplate.from_model(req).render({"x": 1}).path == "/q/1"


def test_duplicate_row_ids_are_rejected(tmp_path):
    write(
        tmp_path / "d.jsonl",
        '{"id": "a", "question": "x", "answer": "y"}\n{"id": "a", "question": "z", "answer": "w"}\n',
    )
    with pytest.raises(DatasetError) as err:
        engine.prepare("quality", _evaluation(), tmp_path)
    assert err.value.issues[0].line == 2 and "duplicate row id 'a'" in err.value.issues[0].message
