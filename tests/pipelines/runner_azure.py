"""Run a generated Azure Pipelines file's scripts in order, the way the agent would.

Stages follow `dependsOn`; in each job (or deployment job's runOnce.deploy) the `script:` steps and
the AzureCLI@2 tasks' inline scripts run in bash with the agent's macro substitution of `$(Name)`
from the pipeline's variables and the predefined ones, the variables also exported as environment
variables (upper-cased, `.` → `_`), and TF_BUILD=True. The first failing step stops the run. Steps
that cannot run here are skipped with the reason; anything else the runner does not know stops it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from .runner import StepRun, WorkflowRun

SKIPPED_TASKS = {
    "UsePythonVersion@0": f"the test's Python {sys.version_info.major}.{sys.version_info.minor} is on PATH",
    "Cache@2": "a pip download cache only makes the install faster",
    "PublishTestResults@2": "publishing JUnit is the platform's job; the test reads the XML files",
}
INSTALL = 'python -m pip install "$(GENAIOPS_CLI)"'
_MACRO = re.compile(r"\$\(([A-Za-z0-9_.]+)\)")


def _stage_order(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Generated stages name their predecessor in dependsOn (or list them in order without one).
    return sorted(stages, key=lambda s: [x["stage"] for x in stages].index(s["stage"]))


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    if "steps" in job:
        return job["steps"]
    return job["strategy"]["runOnce"]["deploy"]["steps"]


def run_pipeline(
    path: Path, workspace: Path, machine_env: dict[str, str], timeout: float = 900
) -> WorkflowRun:
    doc = yaml.safe_load(path.read_text())
    run = WorkflowRun(path.name)
    temp = workspace.parent / "agent-temp"
    temp.mkdir(exist_ok=True)
    predefined = {
        "Build.SourcesDirectory": str(workspace),
        "System.DefaultWorkingDirectory": str(workspace),
        "Pipeline.Workspace": str(workspace.parent),
        "Agent.TempDirectory": str(temp),
        "Agent.OS": "Linux",
        "System.JobAttempt": "1",
    }
    variables = {**predefined, **{k: str(v) for k, v in (doc.get("variables") or {}).items()}}

    def expand(text: str) -> str:
        return _MACRO.sub(lambda m: variables.get(m.group(1), m.group(0)), text)

    env = {
        **machine_env,
        **{k.upper().replace(".", "_"): expand(v) for k, v in variables.items()},
        "TF_BUILD": "True",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{machine_env.get('PATH', os.defpath)}",
    }
    for stage in _stage_order(doc["stages"]):
        for job in stage["jobs"]:
            job_name = job.get("job") or job.get("deployment")
            for step in _steps(job):
                name = step.get("displayName") or step.get("task") or next(iter(step))
                if "checkout" in step:
                    run.steps.append(StepRun(job_name, "checkout", skipped="the workspace is the project"))
                    continue
                if "publish" in step:
                    run.steps.append(StepRun(job_name, name, skipped="keeping reports is the platform's job"))
                    continue
                task = step.get("task")
                if task in SKIPPED_TASKS:
                    run.steps.append(StepRun(job_name, name, skipped=f"{task}: {SKIPPED_TASKS[task]}"))
                    continue
                if step.get("script") == INSTALL:
                    run.steps.append(StepRun(job_name, name, skipped="the genaiops under test is installed"))
                    continue
                if task == "AzureCLI@2":
                    inputs = step["inputs"]
                    assert inputs["scriptLocation"] == "inlineScript" and inputs["scriptType"] == "bash"
                    script, cwd = inputs["inlineScript"], inputs.get("workingDirectory")
                    # the service connection's sign-in is skipped: the stand-in's profile is the credential
                elif "script" in step:
                    script, cwd = step["script"], step.get("workingDirectory")
                else:
                    raise AssertionError(f"{job_name}/{name}: a step the local runner does not know: {step}")
                script_file = temp / "step.sh"
                script_file.write_text(expand(script))
                proc = subprocess.run(
                    ["bash", "--noprofile", "--norc", str(script_file)],
                    cwd=expand(cwd) if cwd else workspace,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=timeout,
                )
                run.steps.append(
                    StepRun(
                        job_name,
                        name,
                        command=expand(script).strip(),
                        code=proc.returncode,
                        output=proc.stdout,
                    )
                )
                if proc.returncode != 0:
                    return run
    return run
