"""The wheel carries what an installed genaiops needs at run time: templates and data files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

REQUIRED = [
    "genaiops_cli/templates/agent/genaiops.yaml",
    "genaiops_cli/templates/agent/src/agent/Dockerfile",
    "genaiops_cli/templates/agent/src/agent/app/server.py",
    "genaiops_cli/templates/agent/data/eval.jsonl",
    "genaiops_cli/templates/infra/main.json",
    "genaiops_cli/templates/infra/main.parameters.prod.json",
    "genaiops_cli/templates/pipelines/github/genaiops-pr.yml",
    "genaiops_cli/templates/pipelines/github/_promote_job.yml",
    "genaiops_cli/templates/pipelines/azure-pipelines/genaiops-release.yml",
    "genaiops_cli/core/safety/probes/v1.jsonl",
    "genaiops_cli/core/evaluation/result.schema.json",
]


def test_wheel_contains_templates_and_data(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("genaiops_cli-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in REQUIRED if n not in names]
    assert not missing, missing
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "genaiops = genaiops_cli.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
