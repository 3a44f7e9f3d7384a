"""The `genaiops` entry point: answer `--help` from the rendered-help cache and a no-op `build` from
its stamp, else run the CLI.

A `--help` screen is a pure function of the code, the argv and the terminal it is printed to, yet
rendering it through typer + rich costs a fresh process ≈ 200–270 ms of CPU (typer, rich and, for a
subcommand, typer's pydantic-based parameter conversion). az answers the same question from its
command index. This module imports nothing heavier than the standard library: a help-shaped argv
whose screen was rendered before under the same key is printed from the cache; a `build` whose last
full run found everything up to date, with nothing it depended on changed since, is answered from
its no-op stamp (fast_build.py); anything else (and a miss, which runs the CLI and stores the screen
or the stamp) runs `genaiops_cli.cli.main`.
"""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if args and args[-1] not in ("--help", "-h") and "build" in args:
        _build(args)
        return
    if not args or args[-1] not in ("--help", "-h"):
        from genaiops_cli.cli import main as run_directly

        run_directly()  # not a help request: no cache to consult
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


def _build(args: list[str]) -> None:
    from genaiops_cli import fast_build

    key = fast_build.key_for(args)
    if key is not None:
        code = fast_build.serve(key)
        if code is not None:
            raise SystemExit(code)
    from genaiops_cli.cli import main as run

    if key is None:
        run()
        return
    with fast_build.recording(key):
        run()
