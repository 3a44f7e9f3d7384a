"""Property: whatever a user does to a valid manifest, `validate` answers 0 or 3, never a traceback,
and JSON mode always prints one parseable envelope."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genaiops_cli.errors import ExitCode

from .helpers import TEMPLATE_MANIFEST, run_inprocess

LINES = TEMPLATE_MANIFEST.read_text().splitlines()

junk = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "{",
            "}",
            "[",
            ": :",
            "- ",
            "&a",
            "*a",
            "!!python/object:os.system",
            "${",
            "${X",
            "$$",
            "\t",
            "~",
            "null",
            "0x1F",
            "1e999",
            "'",
            '"',
            "\x00",
            "\ufeff",
            "<<: *a",
        ]
    ),
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(
            st.sampled_from(["delete", "duplicate", "insert", "replace_value", "indent", "dedent", "swap"])
        )
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if not lines:
            lines.append(draw(junk))
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "insert":
            lines.insert(i, " " * draw(st.integers(0, 8)) + draw(junk))
        elif op == "replace_value" and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {draw(junk)}"
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i].lstrip()
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines) + "\n"


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated(), as_json=st.booleans())
def test_validate_never_crashes(text: str, as_json: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "genaiops.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        args = ["-f", str(path), *(["-o", "json"] if as_json else []), "validate"]
        run = run_inprocess(*args)
    assert run.code in (ExitCode.OK, ExitCode.MANIFEST), (run.code, run.stderr, run.stdout)
    assert "Traceback" not in run.stderr
    if as_json:
        doc = json.loads(run.stdout)
        assert doc["ok"] is (run.code == ExitCode.OK)
    if run.code == ExitCode.MANIFEST and as_json:
        for issue in doc["error"]["details"]["issues"]:
            assert issue["file"] and issue["line"] is not None, issue


@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=200))
def test_binary_manifests_are_manifest_errors(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "genaiops.yaml"
        path.write_bytes(blob)
        run = run_inprocess("-f", str(path), "-o", "json", "validate")
    assert run.code == ExitCode.MANIFEST
    assert json.loads(run.stdout)["ok"] is False
