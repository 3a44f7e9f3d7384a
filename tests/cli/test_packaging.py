"""The wheel carries what an installed genaiops needs at run time (templates and data files) and
none of the local Azure stand-in, which is its own distribution (./sandbox)."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

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


def _build_wheel(tmp_path: Path) -> Path:
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
    return next(tmp_path.glob("genaiops_cli-*.whl"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


def test_wheel_contains_templates_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in REQUIRED if n not in names]
    assert not missing, missing
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "genaiops = genaiops_cli.launcher:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_wheel_holds_no_stand_in(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    leaked = [n for n in names if n.startswith(("genaiops_cli/sandbox/", "genaiops_sandbox/"))]
    assert not leaked, leaked[:5]


def test_product_alone_runs_and_says_how_to_get_the_stand_in(wheel: Path, tmp_path: Path) -> None:
    """A fresh environment with only the product wheel (its dependencies borrowed from this venv's
    site-packages as a plain path, so no editable install of either distribution leaks in)."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    zipfile.ZipFile(wheel).extractall(site)
    (site / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1"}

    probe = subprocess.run([python, "-c", "import genaiops_sandbox"], capture_output=True, env=clean)
    assert probe.returncode != 0, "the stand-in must not be importable from the product alone"

    helped = subprocess.run(
        [python, "-m", "genaiops_cli", "--help"], capture_output=True, text=True, env=clean
    )
    assert helped.returncode == 0, helped.stderr[-2000:]
    assert "sandbox" in helped.stdout

    up = subprocess.run(
        [python, "-m", "genaiops_cli", "-o", "json", "sandbox", "up"],
        capture_output=True,
        text=True,
        env={**clean, "GENAIOPS_SANDBOX_DIR": str(tmp_path / "sbx")},
    )
    assert up.returncode == 5, up.stderr[-2000:]
    error = json.loads(up.stdout)["error"]
    assert error["code"] == "sandbox_unavailable"
    assert "not installed" in error["message"]
    assert "pip install" in error["hint"]
    assert "Traceback" not in up.stderr
