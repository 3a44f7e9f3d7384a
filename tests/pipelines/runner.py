"""Run a generated GitHub Actions workflow's `run:` steps in order, the way the runner would.

Jobs run in `needs` order; each step's script runs in `bash --noprofile --norc -eo pipefail` (what
GitHub uses for `shell: bash`) with the environment the workflow, the job and the step set, on top
of the machine's, plus the variables GitHub's runner provides (GITHUB_ACTIONS, GITHUB_STEP_SUMMARY,
…). The first failing step stops the run, as on GitHub. Steps that use marketplace actions cannot
run here and are skipped, each with the reason it is safe to skip; so is the install step, since
the genaiops under test is already installed. Nothing else is interpreted: a `${{ }}` expression
in a run script or an env value, or an `if:` on a run step, makes the runner refuse the workflow,
so every command that runs here is exactly what GitHub would run."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SKIPPED_ACTIONS = {
    "actions/checkout": "the workspace already is the checked-out project",
    "actions/setup-python": f"the test's Python {sys.version_info.major}.{sys.version_info.minor} is on PATH",
    "actions/cache": "a pip download cache only makes the install faster",
    "azure/login": "the stand-in's credential comes from its connection profile; nothing to sign in to",
    "actions/upload-artifact": "keeping reports is the platform's job; the test reads them in place",
    "mikepenz/action-junit-report": "publishing JUnit is the platform's job; the test reads the XML files",
}
SKIPPED_STEP_IDS = {
    "install-genaiops": "the genaiops under test is installed in the test's virtualenv, first on PATH",
}


@dataclass
class StepRun:
    job: str
    name: str
    skipped: str | None = None  # the reason, when skipped
    command: str = ""
    code: int | None = None
    output: str = ""


@dataclass
class WorkflowRun:
    workflow: str
    steps: list[StepRun] = field(default_factory=list)
    summary: str = ""  # everything the steps appended to GITHUB_STEP_SUMMARY

    @property
    def ok(self) -> bool:
        return all(s.code in (None, 0) for s in self.steps)

    @property
    def failed(self) -> StepRun | None:
        return next((s for s in self.steps if s.code not in (None, 0)), None)

    def step(self, name: str) -> StepRun:
        return next(s for s in self.steps if s.name == name)

    def log(self) -> str:
        lines = []
        for s in self.steps:
            head = f"[{s.job}] {s.name}"
            if s.skipped:
                lines.append(f"{head}: skipped ({s.skipped})")
            else:
                lines.append(f"{head}: exit {s.code}\n$ {s.command}\n{s.output[-3000:]}")
        return "\n".join(lines)


def _no_expressions(where: str, value: Any) -> None:
    if "${{" in str(value):
        raise AssertionError(f"{where} uses a GitHub expression the local runner cannot evaluate: {value}")


def job_order(jobs: dict[str, Any]) -> list[str]:
    order: list[str] = []

    def visit(name: str, seen: tuple[str, ...] = ()) -> None:
        if name in order:
            return
        if name in seen:
            raise AssertionError(f"needs cycle through {name}")
        needs = jobs[name].get("needs") or []
        for need in [needs] if isinstance(needs, str) else needs:
            visit(need, (*seen, name))
        order.append(name)

    for name in jobs:
        visit(name)
    return order


def run_workflow(
    path: Path, workspace: Path, machine_env: dict[str, str], timeout: float = 900
) -> WorkflowRun:
    doc = yaml.safe_load(path.read_text())
    run = WorkflowRun(path.name)
    summary = workspace.parent / f"{path.stem}-step-summary.md"
    summary.write_text("")
    runner_temp = workspace.parent / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    defaults = (doc.get("defaults") or {}).get("run") or {}
    assert defaults.get("shell") == "bash", "the workflow should pin shell: bash (pipefail)"
    github = {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(runner_temp),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{machine_env.get('PATH', os.defpath)}",
    }
    for where, env in [("workflow env", doc.get("env") or {})]:
        for key, value in env.items():
            _no_expressions(f"{where} {key}", value)
    for job_name in job_order(doc["jobs"]):
        job = doc["jobs"][job_name]
        job_env = {**machine_env, **github, **(doc.get("env") or {}), **(job.get("env") or {})}
        cwd = workspace / (
            (job.get("defaults") or {}).get("run", {}).get("working-directory")
            or defaults.get("working-directory", ".")
        )
        for step in job["steps"]:
            name = step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0]
            if "uses" in step:
                action = step["uses"].split("@")[0]
                reason = SKIPPED_ACTIONS.get(action)
                assert reason, f"no stated reason to skip the action {step['uses']}"
                run.steps.append(StepRun(job_name, name, skipped=f"{step['uses']}: {reason}"))
                continue
            if step.get("id") in SKIPPED_STEP_IDS:
                run.steps.append(StepRun(job_name, name, skipped=SKIPPED_STEP_IDS[step["id"]]))
                continue
            assert "if" not in step, f"{name}: conditions on run steps are not interpreted here"
            script = step["run"]
            _no_expressions(f"{job_name}/{name}", script)
            env = {**job_env, **{k: str(v) for k, v in (step.get("env") or {}).items()}}
            for key, value in (step.get("env") or {}).items():
                _no_expressions(f"{job_name}/{name} env {key}", value)
            script_file = runner_temp / "step.sh"
            script_file.write_text(script)
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
                cwd=cwd / step.get("working-directory", "."),
                env={k: str(v) for k, v in env.items()},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,  # one log, as GitHub shows it
                text=True,
                timeout=timeout,
            )
            run.steps.append(
                StepRun(job_name, name, command=script.strip(), code=proc.returncode, output=proc.stdout)
            )
            if proc.returncode != 0:
                run.summary = summary.read_text()
                return run
    run.summary = summary.read_text()
    return run
