"""Start-up benchmark: `genaiops --help` vs a generated bare typer app with the same command tree.

Both run as fresh interpreters, interleaved (A, B, A, B, …) so machine noise hits both alike.
Prints the medians and the ratio; the target is ratio ≤ 1.25.

    python benchmarks/startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path


def command_tree() -> dict[str, list[str] | dict]:
    """{command: [option names]} or {group: {command: [options]}} read from the real CLI."""
    import typer.main

    from genaiops_cli.cli import app

    def walk(cmd) -> dict:
        tree: dict = {}
        for name, sub in getattr(cmd, "commands", {}).items():
            if getattr(sub, "commands", None):
                tree[name] = walk(sub)
            else:
                tree[name] = [p.name for p in sub.params if p.name]
        return tree

    return walk(typer.main.get_command(app))


def generate_bare_app(tree: dict, root_options: list[str]) -> str:
    lines = ["import typer", "from typing import Optional", "app = typer.Typer(add_completion=False)", ""]
    opts = ", ".join(f"{o}: Optional[str] = typer.Option(None)" for o in root_options)
    lines += ["@app.callback()", f"def root({opts}):", "    pass", ""]

    def emit(parent: str, sub: dict, prefix: str) -> None:
        for name, body in sub.items():
            ident = f"{prefix}_{name}".replace("-", "_")
            if isinstance(body, dict):
                lines.append(f"{ident} = typer.Typer()")
                lines.append(f"{parent}.add_typer({ident}, name={name!r})")
                emit(ident, body, ident)
            else:
                params = ", ".join(f"{p}: Optional[str] = typer.Option(None)" for p in body)
                lines.append(f"@{parent}.command({name!r})")
                lines.append(f"def {ident}({params}):")
                lines.append("    pass")
        lines.append("")

    emit("app", tree, "cmd")
    lines += ["if __name__ == '__main__':", "    app()"]
    return "\n".join(lines)


def time_once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    import typer.main

    from genaiops_cli.cli import app

    root_options = [p.name for p in typer.main.get_command(app).params if p.name and p.name != "help"]
    source = generate_bare_app(command_tree(), root_options)
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare_app.py"
        bare.write_text(textwrap.dedent(source))
        ours_cmd = [sys.executable, "-m", "genaiops_cli", "--help"]
        bare_cmd = [sys.executable, str(bare), "--help"]
        for _ in range(3):  # warm the OS file cache for both
            time_once(ours_cmd), time_once(bare_cmd)
        ours, peer = [], []
        for _ in range(args.runs):
            ours.append(time_once(ours_cmd))
            peer.append(time_once(bare_cmd))
    m_ours, m_peer = statistics.median(ours), statistics.median(peer)
    print(f"genaiops --help   median {m_ours * 1000:7.1f} ms over {args.runs} runs")
    print(f"bare typer --help median {m_peer * 1000:7.1f} ms over {args.runs} runs")
    print(f"ratio {m_ours / m_peer:.2f} (target <= 1.25)")


if __name__ == "__main__":
    main()
