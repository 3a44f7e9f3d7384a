"""The `genaiops` entry point: answer `--help` from the rendered-help cache, else run the CLI.

A `--help` screen is a pure function of the code, the argv and the terminal it is printed to, yet
rendering it through typer + rich costs a fresh process ≈ 200–270 ms of CPU (typer, rich and, for a
subcommand, typer's pydantic-based parameter conversion). az answers the same question from its
command index. This module imports nothing heavier than the standard library: a help-shaped argv
whose screen was rendered before under the same key is printed from the cache; anything else (and
a miss, which renders through typer and stores the screen) runs `genaiops_cli.cli.main`.
"""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if not args or args[-1] not in ("--help", "-h"):
        from genaiops_cli.cli import main as run_directly

        run_directly(teardown=False)  # not a help request: no cache to consult, nothing to do after
        return
    from genaiops_cli import help_cache

    key = help_cache.key_for(args)
    if key is not None and help_cache.serve(key):
        raise SystemExit(0)
    from genaiops_cli.cli import main as run

    if key is None:
        run()
        return
    with help_cache.recording(key):
        run()
