"""`--help` answered from the rendered-help cache: same screen as typer renders, no typer/rich/pydantic
loaded, and never a stale screen (other terminal, other environment, other code)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genaiops_cli import help_cache

# Runs the entry point and reports which heavy modules the process loaded.
PROBE = """
import json, sys
sys.argv = ["genaiops", *json.loads(sys.argv[1])]
try:
    from genaiops_cli.launcher import main
    main()
except SystemExit:
    pass
finally:
    loaded = sorted({m.split('.')[0] for m in sys.modules} & {"typer", "rich", "pydantic", "click"})
    sys.__stderr__.write("\\nLOADED=" + json.dumps(loaded) + "\\n")
"""


def _run(args: list[str], cache: Path, **env: str) -> tuple[str, list[str]]:
    full = {**os.environ, "XDG_CACHE_HOME": str(cache), "COLUMNS": "100", "NO_COLOR": "1", **env}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, env=full, timeout=60
    )
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("LOADED=")][-1]
    return proc.stdout, json.loads(line[len("LOADED=") :])


@pytest.mark.parametrize("args", [["--help"], ["deploy", "--help"], ["sandbox", "up", "-h"]])
def test_second_help_is_the_same_screen_without_typer(args: list[str], tmp_path: Path) -> None:
    first, loaded_first = _run(args, tmp_path)
    second, loaded_second = _run(args, tmp_path)
    assert "Usage:" in first and "typer" in loaded_first  # rendered by typer, then stored
    assert second == first
    assert loaded_second == []  # served: no typer, rich, click or pydantic


def test_terminal_width_and_environment_are_part_of_the_key(tmp_path: Path) -> None:
    wide, _ = _run(["status", "--help"], tmp_path, COLUMNS="140")
    narrow, loaded = _run(["status", "--help"], tmp_path, COLUMNS="60")
    assert "typer" in loaded and narrow != wide  # not served the 140-column screen
    assert max(len(line) for line in narrow.splitlines()) <= 60
    plain, _ = _run(["status", "--help"], tmp_path, COLUMNS="140", GENAIOPS_HELP_CACHE="0")
    assert plain == wide


def test_a_screen_rendered_by_other_code_is_not_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    key = help_cache.key_for(["deploy", "--help"])
    assert key is not None
    help_cache.cache_dir().mkdir(parents=True)
    # An entry whose code fingerprint is not this code's (an upgrade, an edited command module).
    stale = help_cache._path(key)
    stale.write_text(f"{key}\nsome older code\n\0\nSTALE SCREEN", encoding="utf-8")
    assert help_cache.serve(key) is False
    fresh = help_cache._path(key)
    fresh.write_text(f"{key}\n{help_cache._fingerprint()}\n\0\nCURRENT SCREEN", encoding="utf-8")
    assert help_cache.serve(key) is True


def test_editing_a_command_module_changes_the_fingerprint(tmp_path: Path) -> None:
    module = Path(help_cache.__file__).parent / "commands" / "deploy.py"
    before = help_cache._fingerprint()
    stat = module.stat()
    try:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert help_cache._fingerprint() != before
    finally:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert help_cache._fingerprint() == before


@pytest.mark.parametrize(
    "args",
    [
        ["deploy"],
        ["-e", "dev", "deploy", "--help"],  # options before --help: parsed by typer, not cached
        ["deploy", "--help", "extra"],
        ["a", "b", "c", "--help"],
        ["--version"],
    ],
)
def test_only_plain_help_requests_are_cached(args: list[str]) -> None:
    assert help_cache.key_for(args) is None


def test_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAIOPS_HELP_CACHE", "0")
    assert help_cache.key_for(["--help"]) is None
