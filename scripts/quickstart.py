"""The quickstart: every genaiops step on the sample project, against the local Azure stand-in.

Each step is the real CLI in a subprocess, exactly as a user or a CI job would type it. Steps that
are *expected* to fail (the regressed release the gate must block) count as passed when they fail
with the right exit code. Ends with a table of steps, outcomes and timings."""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.rule import Rule
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
BASE_IMAGE = "genaiops/python-base:3.11"
console = Console(stderr=True, highlight=False)


@dataclass
class Step:
    title: str
    args: list[str]
    expect: int = 0  # the exit code that means success for this step
    why: str = ""
    seconds: float = 0.0
    cpu: float = 0.0  # user + sys seconds of the genaiops process: the time genaiops itself spent
    code: int | None = None
    note: str = ""  # why a step that exited as expected still failed (e.g. status found drift)

    @property
    def ok(self) -> bool:
        return self.code == self.expect and not self.note


def genaiops(*args: str) -> list[str]:
    return [sys.executable, "-m", "genaiops_cli", *args]


def run(step: Step, cwd: Path, env: dict[str, str]) -> Step:
    console.print(Rule(f"[bold]{step.title}[/bold]", align="left"))
    if step.why:
        console.print(f"[dim]{step.why}[/dim]")
    shown = " ".join(a for a in step.args if a != "--no-color")
    console.print(f"[cyan]$ genaiops {shown}[/cyan]")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(genaiops(*step.args), cwd=cwd, env=env, text=True, stdout=subprocess.PIPE)
    step.seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    step.cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    step.code = proc.returncode
    out = proc.stdout.strip()
    if out:
        print(out, flush=True)
    if step.args[:1] == ["status"] and "drift:" in out:  # our own commands must leave true records
        step.note = "the records do not name what runs (drift)"
    verdict = "[green]✓ ok[/green]" if step.ok else f"[red]✗ exit {step.code}, expected {step.expect}[/red]"
    if step.note:
        verdict = f"[red]✗ {step.note}[/red]"
    if step.ok and step.expect:
        verdict = f"[green]✓ blocked as expected (exit {step.code})[/green]"
    console.print(f"{verdict} [dim]({step.seconds:.1f}s)[/dim]\n")
    return step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(os.environ.get("GENAIOPS_QUICKSTART_DIR", REPO / ".quickstart")),
        help="where the sample project is created (default: .quickstart/)",
    )
    parser.add_argument("--fresh", action="store_true", help="wipe the sandbox state and the project first")
    args = parser.parse_args()

    work = args.dir.resolve()
    project = work / "contoso-support"
    env = {
        **os.environ,
        "GENAIOPS_SANDBOX_DIR": os.environ.get("GENAIOPS_SANDBOX_DIR", str(work / "sandbox")),
    }
    env.setdefault("BASE_IMAGE", BASE_IMAGE)  # offline machines: the base image `sandbox up` assembles
    env.setdefault("COLUMNS", "140")
    if args.fresh and work.exists():
        subprocess.run(genaiops("-y", "sandbox", "reset"), env=env, check=False)
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)

    steps: list[Step] = []

    def do(title: str, *cli: str, expect: int = 0, why: str = "", cwd: Path | None = None) -> Step:
        step = run(Step(title, list(cli), expect, why), cwd or project, env)
        steps.append(step)
        if not step.ok:
            summary(steps, failed=True)
            raise SystemExit(1)
        return step

    console.print(Rule("[bold]genaiops quickstart[/bold]"))
    console.print(f"project: {project}\nsandbox state: {env['GENAIOPS_SANDBOX_DIR']}\n")
    do(
        "Start the local Azure stand-in",
        "sandbox",
        "up",
        cwd=work,
        why="Docker engine, one real OCI registry per ACR, the ARM endpoint and the ingress router",
    )
    do(
        "Scaffold the sample agent",
        "init",
        str(project),
        "--force",
        cwd=work,
        why="a support agent with retrieval, smoke checks, an evaluation dataset and safety probes",
    )
    do("Validate the manifest", "validate")
    for env_name in ("dev", "staging", "prod"):
        do(
            f"Provision {env_name}",
            "-y",
            "provision",
            "-e",
            env_name,
            why="ARM template: registry, identity, Container Apps environment, monitoring, Foundry project",
        )
    do(
        "Build and push the image",
        "build",
        "--push",
        "-e",
        "dev",
        why="content-addressed: the source hash decides; the digest is read back from the registry",
    )
    do("Deploy to dev", "deploy", "-e", "dev", why="by digest; dev uses the direct strategy")
    do("Smoke-test dev", "smoke", "-e", "dev")
    do(
        "Evaluate dev",
        "eval",
        "quality",
        "-e",
        "dev",
        "--baseline",
        "none",
        why="54 questions with ground truth: token F1, latency, error rate, as gates",
    )
    do(
        "Promote dev → staging",
        "-y",
        "promote",
        "--from",
        "dev",
        "--to",
        "staging",
        why="same digest copied, staged as green, smoke + quality + safety gates, then swapped",
    )
    do("Promote staging → prod", "-y", "promote", "--from", "staging", "--to", "prod")
    do("Status of prod", "status", "-e", "prod")

    # A second, good release: a code change goes through the same path; prod keeps v1 warm.
    server = project / "src" / "agent" / "app" / "server.py"
    server.write_text(server.read_text().replace('"AGENT_VERSION", "1.0.0"', '"AGENT_VERSION", "1.1.0"'))
    do("Build v1.1", "build", "--push", "-e", "dev", why="only what changed is rebuilt and pushed")
    do("Deploy v1.1 to dev", "deploy", "-e", "dev")
    do("Promote v1.1 dev → staging", "-y", "promote", "--from", "dev", "--to", "staging")
    do(
        "Promote v1.1 staging → prod",
        "-y",
        "promote",
        "--from",
        "staging",
        "--to",
        "prod",
        why="blue/green in prod: v1.1 staged under a label, gated, swapped; v1.0 stays warm",
    )
    do("Release history", "history")

    # A regressed release: same image, a configuration switch that makes retrieval worse.
    manifest = project / "genaiops.yaml"
    text = manifest.read_text()
    manifest.write_text(text.replace("LOG_LEVEL: info", "LOG_LEVEL: info\n      AGENT_VARIANT: regressed", 1))
    do(
        "Deploy a regressed change to dev: its gate blocks it",
        "deploy",
        "-e",
        "dev",
        expect=9,
        why="AGENT_VARIANT=regressed retrieves the wrong passages and leaks its prompt: dev's smoke gate"
        " runs on the live side at deploy, fails, and dev is rolled back to the good release",
    )
    manifest.write_text(text)
    do(
        "Roll prod back to v1.0",
        "-y",
        "rollback",
        "-e",
        "prod",
        why="one traffic write back to the previous release (still warm), verified by smoke checks",
    )
    do("Status of prod after the rollback", "status", "-e", "prod")
    do("History of prod, rollback included", "history", "-e", "prod")
    hosted_agent(work, do)
    summary(steps, failed=False)
    return 0


def hosted_agent(work: Path, do: Any) -> None:
    """The second host: the same support agent as an Azure AI Foundry hosted agent (Responses
    protocol) and a Container App, one image, one manifest, dev → staging → prod and a rollback."""
    project = work / "contoso-support-foundry"
    do(
        "Scaffold the hosted-agent sample",
        "init",
        str(project),
        "--template",
        "foundry-agent",
        "--force",
        cwd=work,
        why="one image on both hosts: a Foundry hosted agent (POST /responses) and a Container App",
    )
    for env_name in ("dev", "staging", "prod"):
        do(f"Provision {env_name} (hosted-agent sample)", "-y", "provision", "-e", env_name, cwd=project)
    do("Build and push the agent image", "build", "--push", "-e", "dev", cwd=project)
    do(
        "Deploy to dev: an agent version and a revision",
        "deploy",
        "-e",
        "dev",
        cwd=project,
        why="the hosted agent's version runs the image by digest; the Container App runs the same digest",
    )
    do("Smoke-test the hosted agent through the Responses protocol", "smoke", "-e", "dev", cwd=project)
    for source, target in (("dev", "staging"), ("staging", "prod")):
        do(
            f"Promote the mixed release {source} → {target}",
            "-y",
            "promote",
            "--from",
            source,
            "--to",
            target,
            cwd=project,
            why="the new agent version is staged at 0 % in the version selector, gated, then shifted",
        )
    server = project / "src" / "agent" / "app" / "server.py"
    server.write_text(server.read_text().replace('"AGENT_VERSION", "1.0.0"', '"AGENT_VERSION", "1.1.0"'))
    do("Build the hosted agent v1.1", "build", "--push", "-e", "dev", cwd=project)
    do("Deploy v1.1 to dev", "deploy", "-e", "dev", cwd=project)
    do("Promote v1.1 dev → staging", "-y", "promote", "--from", "dev", "--to", "staging", cwd=project)
    do("Promote v1.1 staging → prod", "-y", "promote", "--from", "staging", "--to", "prod", cwd=project)
    do(
        "Roll the hosted agent back in prod",
        "-y",
        "rollback",
        "-e",
        "prod",
        "agent",
        cwd=project,
        why="one write to the agent's version selector: v1.0's version takes 100 % again",
    )
    do(
        "Status of the hosted agent in prod",
        "status",
        "-e",
        "prod",
        "agent",
        cwd=project,
        why="the agent on v1.0, the web app still on v1.1: the records say so, so no drift",
    )
    do("History of the hosted-agent sample in prod", "history", "-e", "prod", cwd=project)


def summary(steps: list[Step], failed: bool) -> None:
    table = Table(title="quickstart summary", header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("outcome")
    table.add_column("seconds", justify="right")
    table.add_column("CPU s", justify="right")
    for i, step in enumerate(steps, 1):
        if step.ok:
            outcome = "[green]ok[/green]" if not step.expect else f"[green]blocked (exit {step.code})[/green]"
        elif step.note:
            outcome = f"[red]{step.note}[/red]"
        else:
            outcome = f"[red]exit {step.code}[/red]"
        table.add_row(str(i), step.title, outcome, f"{step.seconds:.1f}", f"{step.cpu:.2f}")
    table.add_row(
        "",
        "[bold]total[/bold]",
        "",
        f"[bold]{sum(s.seconds for s in steps):.1f}[/bold]",
        f"[bold]{sum(s.cpu for s in steps):.1f}[/bold]",
    )
    console.print(table)
    if failed:
        console.print("[red]the quickstart stopped at a failing step[/red] (see its output above)")


if __name__ == "__main__":
    raise SystemExit(main())
