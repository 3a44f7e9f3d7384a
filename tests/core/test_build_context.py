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


@pytest.fixture(autouse=True)
def _own_digest_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAIOPS_CACHE_DIR", str(tmp_path / "digest-cache"))


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


# ---- the digest cache: an unchanged tree is not re-hashed, a changed file always is


@pytest.fixture
def counted_hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Files actually read and hashed by scan_context (our own function, counted, still run)."""
    import genaiops_cli.core.build_context as bc

    seen: list[str] = []
    real = bc._sha256_file

    def counting(path: Path) -> str:
        seen.append(path.name)
        return real(path)

    monkeypatch.setattr(bc, "_sha256_file", counting)
    monkeypatch.setattr(bc, "RACY_NS", 0)  # files written a moment ago may be remembered in a test
    return seen


def _tree(root: Path) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY app /app\n")
    (root / "app" / "main.py").write_text("print('v1')\n")
    (root / "app" / "util.py").write_text("X = 1\n")
    return root


def _digest(root: Path, cache: Path) -> str:
    return source_hash(scan_context(root, cache_dir=cache), b"", {}, None)


def test_unchanged_tree_is_not_rehashed(tmp_path: Path, counted_hashes: list[str]) -> None:
    root, cache = _tree(tmp_path / "ctx"), tmp_path / "cache"
    first = _digest(root, cache)
    assert sorted(counted_hashes) == ["Dockerfile", "main.py", "util.py"]
    counted_hashes.clear()
    assert _digest(root, cache) == first
    assert counted_hashes == []


def test_changed_file_rebuilds_even_with_the_same_size_and_mtime(
    tmp_path: Path, counted_hashes: list[str]
) -> None:
    import os

    root, cache = _tree(tmp_path / "ctx"), tmp_path / "cache"
    first = _digest(root, cache)
    main = root / "app" / "main.py"
    before = main.stat()
    main.write_text("print('v2')\n")  # same size
    os.utime(main, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime restored
    counted_hashes.clear()
    changed = _digest(root, cache)
    assert changed != first and counted_hashes == ["main.py"]
    assert _digest(root, cache) == changed  # and it is the new content that is remembered


def test_recently_written_files_are_not_remembered(
    tmp_path: Path, counted_hashes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import genaiops_cli.core.build_context as bc

    monkeypatch.setattr(bc, "RACY_NS", 3600 * 10**9)  # everything here was written "just now"
    root, cache = _tree(tmp_path / "ctx"), tmp_path / "cache"
    _digest(root, cache)
    counted_hashes.clear()
    _digest(root, cache)
    assert len(counted_hashes) == 3


def test_cache_of_another_root_or_a_corrupt_file_is_ignored(
    tmp_path: Path, counted_hashes: list[str]
) -> None:
    root, cache = _tree(tmp_path / "ctx"), tmp_path / "cache"
    first = _digest(root, cache)
    for f in cache.glob("*.json"):
        f.write_text("{not json")
    counted_hashes.clear()
    assert _digest(root, cache) == first and len(counted_hashes) == 3
