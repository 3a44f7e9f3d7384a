"""Start-up stays light: the commands that need no cloud load no cloud SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .helpers import TEMPLATE_MANIFEST

HEAVY = ("azure", "docker", "openai", "httpx", "tenacity")

PROBE = """
import json, sys
sys.argv = ["genaiops", *json.loads(sys.argv[1])]
try:
    from genaiops_cli.cli import main
    main()
except SystemExit:
    pass
finally:
    heavy = sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in HEAVY_NAMES})
    sys.__stderr__.write("\\nHEAVY=" + json.dumps(heavy) + "\\n")
""".replace("HEAVY_NAMES", repr(HEAVY))


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["schema"],
        ["-f", str(TEMPLATE_MANIFEST), "validate"],
        ["-f", str(TEMPLATE_MANIFEST), "config", "show", "--env", "dev"],
        ["sandbox", "--help"],
        ["-f", str(TEMPLATE_MANIFEST), "pipeline", "init", "--provider", "github", "--dry-run"],
    ],
    ids=lambda a: " ".join(a[-3:]),
)
def test_light_commands_import_no_sdk(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, timeout=60
    )
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("HEAVY=")][-1]
    assert json.loads(line[len("HEAVY=") :]) == [], proc.stderr


SUBCOMMANDS = (
    "init validate schema provision plan build push deploy smoke swap rollback status promote history diff "
    "eval config sandbox"
).split()


def test_every_subcommand_help_imports_no_sdk() -> None:
    """`genaiops <command> --help` for every command, in one interpreter per command."""
    for name in SUBCOMMANDS:
        proc = subprocess.run(
            [sys.executable, "-c", PROBE, json.dumps([name, "--help"])],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Usage:" in proc.stdout, (name, proc.stdout, proc.stderr)
        line = [ln for ln in proc.stderr.splitlines() if ln.startswith("HEAVY=")][-1]
        assert json.loads(line[len("HEAVY=") :]) == [], (name, proc.stderr)


def test_command_and_core_modules_import_nothing_heavy() -> None:
    """Importing every module under commands/ and core/ loads no SDK (bodies may, modules may not)."""
    code = (
        "import importlib, pkgutil, sys, json\n"
        "import genaiops_cli.commands as c, genaiops_cli.core as k\n"
        "for pkg in (c, k):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


RICH_UTILS_PROBE = """
import sys
sys.argv = ["genaiops", *sys.argv[1:]]
try:
    from genaiops_cli.cli import main
    main()
except SystemExit:
    pass
finally:
    loaded = sys.modules.get("typer.rich_utils")
    sys.__stderr__.write("\\nRICH_UTILS=" + repr(getattr(loaded, "COLOR_SYSTEM", "not loaded")) + "\\n")
"""


def _rich_utils_after(*args: str) -> str:
    env = {**os.environ, "NO_COLOR": "1", "GENAIOPS_HELP_CACHE": "0"}
    proc = subprocess.run(
        [sys.executable, "-c", RICH_UTILS_PROBE, *args], capture_output=True, text=True, timeout=60, env=env
    )
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("RICH_UTILS=")][-1]


def test_no_color_command_does_not_load_typer_help_renderer() -> None:
    """NO_COLOR used to import typer.rich_utils (60–130 ms: rich.markdown, rich.traceback) on every
    command only to switch its colours off; a command that renders no typer help must not load it."""
    assert _rich_utils_after("-f", str(TEMPLATE_MANIFEST), "validate") == "RICH_UTILS='not loaded'"


def test_no_color_still_reaches_typer_help_renderer_when_it_loads() -> None:
    """…and when help is rendered (uncached) the renderer is loaded with its colours off."""
    assert _rich_utils_after("deploy", "--help") == "RICH_UTILS=None"
