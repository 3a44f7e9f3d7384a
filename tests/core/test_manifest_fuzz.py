"""Property: whatever is done to a valid manifest, load_manifest returns a Manifest or raises
ManifestError whose issues all carry a file and a line; nothing else escapes."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genaiops_cli.core.manifest.loader import load_manifest
from genaiops_cli.core.manifest.model import Manifest
from genaiops_cli.errors import ManifestError

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "agent" / "genaiops.yaml"
TEXT = TEMPLATE.read_text()
DATA = yaml.safe_load(TEXT)
_DIR = Path(tempfile.mkdtemp(prefix="genaiops-fuzz-"))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["${X}", "${", "$${Y}", "${Z:-1}", "${A:?b}", "*ref", "&a", "!tag", "[", "{", ": ", "#", "\t"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


PATHS = _paths(DATA)[1:]


def _check(data: bytes) -> None:
    f = _DIR / "genaiops.yaml"
    f.write_bytes(data)
    try:
        m = load_manifest(f, environ={})
    except ManifestError as e:
        assert e.exit_code == 3 and e.issues
        for issue in e.issues:
            assert issue.file == str(f)
            if not issue.message.startswith("... and"):
                assert issue.line is not None and issue.line >= 1, issue
                assert issue.column is None or issue.column >= 1, issue
            assert issue.hint
        return
    assert isinstance(m, Manifest)
    for env in m.environments:
        m.environment(env)
    m.summary()


@st.composite
def structural_mutation(draw: st.DrawFn) -> bytes:
    data = copy.deepcopy(DATA)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            key = path[-1]
            action = draw(st.sampled_from(["delete", "replace", "insert"]))
            if action == "delete":
                del parent[key]
            elif action == "replace":
                parent[key] = draw(values)
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
        except (KeyError, IndexError, TypeError):
            continue
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


@st.composite
def textual_mutation(draw: st.DrawFn) -> bytes:
    raw = bytearray(TEXT.encode())
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(raw)))
        action = draw(st.sampled_from(["insert", "delete", "indent", "bytes", "truncate"]))
        if action == "insert":
            raw[pos:pos] = draw(
                st.sampled_from(
                    [
                        b" ",
                        b"\t",
                        b":",
                        b"- ",
                        b"&a ",
                        b"*a ",
                        b"{",
                        b"]",
                        b"\n  x: 1\n",
                        b"${",
                        b'"',
                        b"---\n",
                        b"<<: *a\n",
                    ]
                )
            )
        elif action == "delete":
            del raw[pos : pos + draw(st.integers(1, 40))]
        elif action == "indent":
            line_start = raw.rfind(b"\n", 0, pos) + 1
            raw[line_start:line_start] = b"  " * draw(st.integers(1, 3))
        elif action == "bytes":
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del raw[pos:]
    return bytes(raw)


SETTINGS = settings(max_examples=900, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@SETTINGS
@given(structural_mutation())
def test_structural_mutations_fail_cleanly(data: bytes) -> None:
    _check(data)


@SETTINGS
@given(textual_mutation())
def test_textual_mutations_fail_cleanly(data: bytes) -> None:
    _check(data)


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=300))
def test_random_bytes_fail_cleanly(data: bytes) -> None:
    _check(data)
