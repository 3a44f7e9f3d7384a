"""The build context follows Docker's .dockerignore rules; docker-py's own matcher is the oracle."""

from __future__ import annotations

from pathlib import Path

import pytest

from genaiops_cli.core.build_context import is_ignored, parse_dockerignore, scan_context, source_hash

TREE = [
    "Dockerfile",
    "app.py",
    "README.md",
    "requirements.txt",
    "src/pkg/__init__.py",
    "src/pkg/core.py",
    "src/pkg/core_test.py",
    "src/pkg/data/blob.bin",
    "node_modules/x/index.js",
    "node_modules/keep.txt",
    ".git/HEAD",
    ".env",
    "docs/a.md",
    "docs/b/c.md",
    "build/out.o",
    "tests/test_a.py",
    "tmp/.keep",
    "a?b.txt",
]

IGNORE_CASES = [
    "",
    "*.md",
    "**/*.md",
    "node_modules\n!node_modules/keep.txt",
    ".git\n.env\n# comment\n\n  build/  ",
    "src/**/*_test.py",
    "/docs",
    "docs/**\n!docs/b/c.md",
    "*\n!app.py\n!src",
    "**/data",
    "tmp/*\n!tmp/.keep",
    "src/pkg/core?.py\nREADME.*",
    "[a-c]*.txt",
    "Dockerfile\n.dockerignore",
]


def make_tree(root: Path, ignore: str) -> None:
    for rel in TREE:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    (root / ".dockerignore").write_text(ignore)


@pytest.mark.parametrize("ignore", IGNORE_CASES, ids=lambda s: repr(s)[:30])
def test_file_set_matches_docker_py(tmp_path: Path, ignore: str) -> None:
    from docker.utils.build import exclude_paths

    make_tree(tmp_path, ignore)
    patterns = [ln.strip() for ln in ignore.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    expected_files = {p for p in exclude_paths(str(tmp_path), patterns) if (tmp_path / p).is_file()}
    expected_files |= {"Dockerfile", ".dockerignore"}  # always sent, as the docker CLI does
    ours = {f.path for f in scan_context(tmp_path).files if f.kind == "file"}
    assert ours == expected_files


def test_last_matching_pattern_wins() -> None:
    patterns = parse_dockerignore("*.txt\n!keep.txt\nkeep.txt")
    assert is_ignored("keep.txt", patterns)
    assert is_ignored("x.txt", patterns)
    assert not is_ignored("x.py", patterns)


def _hash(root: Path, args: dict[str, str] | None = None, platform: str | None = None) -> str:
    ctx = scan_context(root)
    return source_hash(ctx, (root / "Dockerfile").read_bytes(), args or {}, platform)


def test_source_hash_changes_with_what_the_build_sees(tmp_path: Path) -> None:
    make_tree(tmp_path, "docs\n*.md")
    base = _hash(tmp_path)
    assert _hash(tmp_path) == base, "stable for the same inputs"
    (tmp_path / "docs" / "a.md").write_text("ignored change")
    assert _hash(tmp_path) == base, "an ignored file does not change the hash"
    (tmp_path / "app.py").write_text("print('v2')")
    changed = _hash(tmp_path)
    assert changed != base
    assert _hash(tmp_path, {"BASE_IMAGE": "python:3.12-slim"}) != changed
    assert _hash(tmp_path, platform="linux/arm64") != changed
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert _hash(tmp_path) != changed
    (tmp_path / "app.py").chmod(0o755)
    before_x = _hash(tmp_path)
    (tmp_path / "app.py").chmod(0o644)
    assert _hash(tmp_path) != before_x, "the exec bit is part of the image"


def test_source_hash_independent_of_location_and_mtime(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    make_tree(a, "")
    make_tree(b, "")
    import os

    os.utime(b / "app.py", (1, 1))
    assert _hash(a) == _hash(b)


def test_missing_context_raises(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        scan_context(tmp_path / "nope")
