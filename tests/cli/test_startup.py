"""Start-up stays light: the commands that need no cloud load no cloud SDK."""

from __future__ import annotations

import json
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
