"""Start-up benchmark: `--help` of genaiops and of every subcommand, as fresh processes, against peers.

1. `genaiops --help` vs a generated bare typer app with the same command tree and options (both run by
   the same interpreter as `python -m`/script; goal ratio ≤ 1.10).
2. every `genaiops <command> --help` vs the comparable `az` command's `--help` (goal ratio ≤ 0.5). az is
   the azure-cli from --az (a separate venv; default ~/.cache/genaiops-test/az/bin/az); when it is absent
   the az column is skipped with the reason printed.

Runs are interleaved (A, B, A, B, …) so machine noise hits both alike; medians; 3 warm-up runs each.

    python benchmarks/startup.py [--runs 15] [--az PATH]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _conditions import load

DEFAULT_AZ = Path.home() / ".cache" / "genaiops-test" / "az" / "bin" / "az"
BARE_GOAL = 1.10
AZ_GOAL = 0.5

# genaiops command → the az command that does the comparable job (its --help is timed).
AZ_PEERS: dict[str, list[str]] = {
    "init": ["az", "init"],
    "validate": ["az", "bicep", "lint"],
    "schema": ["az", "bicep", "version"],
    "provision": ["az", "deployment", "group", "create"],
    "plan": ["az", "deployment", "group", "what-if"],
    "build": ["az", "acr", "build"],
    "push": ["az", "acr", "import"],
    "deploy": ["az", "containerapp", "update"],
    "smoke": ["az", "containerapp", "show"],
    "swap": ["az", "containerapp", "revision", "label", "swap"],
    "rollback": ["az", "containerapp", "ingress", "traffic", "set"],
    "status": ["az", "containerapp", "revision", "list"],
    "promote": ["az", "acr", "import"],
    "history": ["az", "containerapp", "revision", "list"],
    "diff": ["az", "deployment", "group", "what-if"],
    "eval": ["az", "containerapp", "revision", "show"],
    "config": ["az", "config"],  # a command group: its help lists its commands, like az's group help
    "sandbox": ["az", "login"],
    "pipeline": ["az", "ad", "app", "federated-credential", "create"],
}


def command_tree() -> dict:
    """{command: {"help": text, "params": [(name, option flags, help)]}} or {group: {…}} for groups, read
    from the real CLI, so the bare app prints the same help screens (same words to lay out)."""
    import typer.main

    from genaiops_cli.cli import app

    def walk(cmd) -> dict:
        tree: dict = {}
        for name, sub in getattr(cmd, "commands", {}).items():
            if getattr(sub, "commands", None):
                tree[name] = {"group": walk(sub), "help": sub.help or ""}
            else:
                params = [
                    (p.name, list(p.opts), getattr(p, "help", None) or "")
                    for p in sub.params
                    if p.name and p.name != "help"
                ]
                tree[name] = {"help": sub.help or "", "params": params}
        return tree

    return walk(typer.main.get_command(app))


def generate_bare_app(tree: dict, root_params: list, root_help: str) -> str:
    """A typer app with the same commands, options and help texts; every option a plain string."""

    def options(params: list) -> str:
        def one(ident: str, opts: list[str], text: str) -> str:
            flags = "".join(f"{o!r}, " for o in opts if o.startswith("-"))
            return f"{ident}: Optional[str] = typer.Option(None, {flags}help={text!r})"

        return ", ".join(one(*p) for p in params)

    lines = [
        "import typer",
        "from typing import Optional",
        "app = typer.Typer(add_completion=False, help=" + repr(root_help) + ")",
        "",
    ]
    lines += ["@app.callback()", f"def root({options(root_params)}):", "    pass", ""]

    def emit(parent: str, sub: dict, prefix: str) -> None:
        for name, body in sub.items():
            ident = f"{prefix}_{name}".replace("-", "_")
            if "group" in body:
                lines.append(f"{ident} = typer.Typer(help={body['help']!r})")
                lines.append(f"{parent}.add_typer({ident}, name={name!r})")
                emit(ident, body["group"], ident)
            else:
                lines.append(f"@{parent}.command({name!r}, help={body['help']!r})")
                lines.append(f"def {ident}({options(body['params'])}):")
                lines.append("    pass")
        lines.append("")

    emit("app", tree, "cmd")
    lines += ["if __name__ == '__main__':", "    app()"]
    return "\n".join(lines)


def app_file() -> str:
    import genaiops_cli

    return str(genaiops_cli.__file__)


UNCACHED = {"GENAIOPS_HELP_CACHE": "0"}


def time_once(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys) of one fresh process. An argv may start with a dict: extra
    environment for that process."""
    env = None
    if argv and isinstance(argv[0], dict):
        env, argv = {**os.environ, **argv[0]}, argv[1:]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def paired(*argvs: list, runs: int) -> list[tuple[float, float]]:
    """Medians (wall, cpu) of each argv over interleaved runs (A, B, C, A, B, C, …)."""
    for _ in range(3):  # warm the OS file cache, az's command index and genaiops' help cache
        for argv in argvs:
            time_once(argv)
    times: list[list[tuple[float, float]]] = [[] for _ in argvs]
    for _ in range(runs):
        for argv, sink in zip(argvs, times, strict=True):
            sink.append(time_once(argv))
    return [(statistics.median(w for w, _ in xs), statistics.median(c for _, c in xs)) for xs in times]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--az", default=str(DEFAULT_AZ), help="the az executable (azure-cli)")
    parser.add_argument("--commands", nargs="*", help="only these subcommands (default: all)")
    args = parser.parse_args()

    import typer.main

    from genaiops_cli.cli import app

    root = typer.main.get_command(app)
    root_params = [(p.name, list(p.opts), getattr(p, "help", None) or "") for p in root.params]
    tree = command_tree()
    source = generate_bare_app(tree, [p for p in root_params if p[0] != "help"], root.help or "")
    # What `pip install` gives a user: the package's modules compiled to bytecode. (This machine sets
    # PYTHONDONTWRITEBYTECODE, so an editable checkout would otherwise recompile every module per run.)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(app_file()).parent)], check=True)
    ours = [sys.executable, "-m", "genaiops_cli"]
    print(
        f"conditions: fresh processes, {args.runs} interleaved runs + 3 warm-up, medians, "
        f"{os.cpu_count()} cores, genaiops_cli compiled to bytecode as pip installs it"
    )
    # genaiops' rendered-help cache starts empty in a directory of its own: the warm-up runs fill it, so
    # the "cached" figures are what every --help after the first costs; "uncached" switches it off.
    cache_home = tempfile.mkdtemp(prefix="genaiops-help-bench-")
    os.environ["XDG_CACHE_HOME"] = cache_home
    print(f"machine: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare_app.py"
        bare.write_text(textwrap.dedent(source))
        (w_ours, c_ours), (w_raw, c_raw), (w_peer, c_peer) = paired(
            [*ours, "--help"],
            [UNCACHED, *ours, "--help"],
            [sys.executable, str(bare), "--help"],
            runs=args.runs,
        )
    print(
        f"bare typer app, same tree and help texts: wall {w_peer * 1000:.0f} ms, CPU {c_peer * 1000:.0f} ms\n"
        f"genaiops --help (help cache):   wall {w_ours * 1000:.0f} ms, CPU {c_ours * 1000:.0f} ms | ratio "
        f"wall {w_ours / w_peer:.2f}, CPU {c_ours / c_peer:.2f} (goal <= {BARE_GOAL:.2f})\n"
        f"genaiops --help (uncached):     wall {w_raw * 1000:.0f} ms, CPU {c_raw * 1000:.0f} ms | ratio "
        f"wall {w_raw / w_peer:.2f}, CPU {c_raw / c_peer:.2f}"
    )

    az = shutil.which(args.az) or (args.az if Path(args.az).exists() else None)
    if az is None:
        print(
            f"az: skipped — {args.az} not found "
            "(python -m venv DIR && DIR/bin/pip install azure-cli; pass --az DIR/bin/az)"
        )
        return
    env_version = subprocess.run([az, "version", "-o", "tsv"], capture_output=True, text=True).stdout.split()
    print(f"az: {az} (azure-cli {env_version[0] if env_version else '?'})")
    print("genaiops columns: help cache (uncached in brackets); ratios = genaiops / az")
    head = ("genaiops command", "wall", "CPU", "az peer", "wall", "CPU", "ratio wall", "CPU")
    print("{:<20}{:>17}{:>17}{:>40}{:>8}{:>7}{:>16}{:>14}".format(*head))
    worst_wall = worst_cpu = worst_raw_wall = worst_raw_cpu = 0.0
    for name in args.commands or list(tree):
        peer = AZ_PEERS.get(name)
        if peer is None:
            print(f"{name:<20}: no comparable az command listed in AZ_PEERS")
            continue
        (w_ours, c_ours), (w_raw, c_raw), (w_az, c_az) = paired(
            [*ours, name, "--help"],
            [UNCACHED, *ours, name, "--help"],
            [az, *peer[1:], "--help"],
            runs=args.runs,
        )
        worst_wall, worst_cpu = max(worst_wall, w_ours / w_az), max(worst_cpu, c_ours / c_az)
        worst_raw_wall, worst_raw_cpu = max(worst_raw_wall, w_raw / w_az), max(worst_raw_cpu, c_raw / c_az)
        print(
            f"{name + ' --help':<20}{w_ours * 1000:>6.0f}ms ({w_raw * 1000:>4.0f}ms)"
            f"{c_ours * 1000:>6.0f}ms ({c_raw * 1000:>4.0f}ms){' '.join(peer):>40}"
            f"{w_az * 1000:>6.0f}ms{c_az * 1000:>5.0f}ms{w_ours / w_az:>9.2f} ({w_raw / w_az:.2f})"
            f"{c_ours / c_az:>7.2f} ({c_raw / c_az:.2f})"
        )
    print(
        f"worst subcommand ratio: wall {worst_wall:.2f}, CPU {worst_cpu:.2f} with the help cache "
        f"(uncached: wall {worst_raw_wall:.2f}, CPU {worst_raw_cpu:.2f}) (goal <= {AZ_GOAL})"
    )
    print(f"machine at the end: {load()}")
    shutil.rmtree(cache_home, ignore_errors=True)


if __name__ == "__main__":
    main()
