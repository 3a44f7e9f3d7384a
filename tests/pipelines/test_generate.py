"""`genaiops pipeline init`: what is generated from the manifest's chain, proven valid by actionlint
and by check-jsonschema's GitHub-workflow and Azure-Pipelines schemas; refusals and --dry-run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from genaiops_cli.core.pipelines import fill
from genaiops_cli.errors import ExitCode
from tests.cli.helpers import run_cli

from .helpers import lint, sample_repo, tool

GITHUB = [
    ".github/workflows/genaiops-pr.yml",
    ".github/workflows/genaiops-main.yml",
    ".github/workflows/genaiops-release.yml",
]
AZURE = [
    ".azure-pipelines/genaiops-pr.yml",
    ".azure-pipelines/genaiops-main.yml",
    ".azure-pipelines/genaiops-release.yml",
]


def init(root: Path, provider: str, *extra: str):
    return run_cli("-o", "json", "pipeline", "init", "--provider", provider, *extra, cwd=root)


def generated(root: Path, provider: str) -> dict[str, dict]:
    run = init(root, provider)
    assert run.code == 0, run.stderr + run.stdout
    files = run.json()["result"]["files"]
    expected = GITHUB if provider == "github" else AZURE
    assert files == expected[: len(files)] and len(files) >= 2  # no release file without a promotion
    for f in files:
        assert "<<" not in (root / f).read_text(), f"unfilled placeholder in {f}"
    return {Path(f).stem.removeprefix("genaiops-"): yaml.safe_load((root / f).read_text()) for f in files}


def four_environments(data: dict) -> None:
    """dev → qa → pre-prod → prod: the chain decides the jobs, not the names dev/staging/prod."""
    envs = data["environments"]
    envs["qa"] = {**envs["staging"], "resource_group": "rg-qa", "promote_from": "dev", "gates": ["smoke"]}
    envs["pre-prod"] = {**envs.pop("staging"), "promote_from": "qa"}
    envs["prod"]["promote_from"] = "pre-prod"


def test_github_workflows_follow_the_chain(tmp_path: Path) -> None:
    wf = generated(sample_repo(tmp_path), "github")
    pr, main, release = wf["pr"], wf["main"], wf["release"]
    assert pr["permissions"] == main["permissions"] == release["permissions"] == {"contents": "read"}
    assert pr["defaults"]["run"]["shell"] == "bash"  # bash -eo pipefail: `| tee` cannot hide a failure

    dev = pr["jobs"]["deploy-dev"]
    assert dev["needs"] == "validate" and dev["environment"] == "dev"
    assert dev["permissions"] == {"contents": "read", "id-token": "write", "checks": "write"}
    assert dev["concurrency"] == {"group": "genaiops-dev", "cancel-in-progress": False}
    runs = [s.get("run", "") for s in dev["steps"]]
    assert any("build --push -e dev" in r for r in runs)
    assert any("smoke -e dev --junit reports/smoke-dev.xml" in r for r in runs)
    # the evaluations that staging's and prod's gates will run, previewed against dev with reports
    assert [r.split()[2] for r in runs if r.startswith("genaiops eval")] == ["quality", "safety"]
    uses = [s.get("uses", "") for s in dev["steps"]]
    assert "azure/login@v3" in uses and "mikepenz/action-junit-report@v5" in uses
    assert "permissions" not in pr["jobs"]["validate"], "the validate job needs no token beyond read"

    assert list(main["jobs"]) == ["deploy-dev", "promote-staging"]
    promote = main["jobs"]["promote-staging"]
    assert promote["needs"] == "deploy-dev" and promote["environment"] == "staging"
    assert promote["concurrency"]["group"] == "genaiops-staging"
    assert any("promote --from dev --to staging" in s.get("run", "") for s in promote["steps"])
    assert not any("build" in s.get("run", "") for s in promote["steps"]), "built once, in dev"

    assert list(release["jobs"]) == ["promote-prod"]
    prod = release["jobs"]["promote-prod"]
    assert prod["environment"] == "prod" and "needs" not in prod
    assert any("promote --from staging --to prod" in s.get("run", "") for s in prod["steps"])
    assert "release" in release[True], "`on:` (PyYAML reads the key as True)"


def test_azure_pipelines_follow_the_chain(tmp_path: Path) -> None:
    pl = generated(sample_repo(tmp_path), "azure-pipelines")
    main = pl["main"]
    assert [s["stage"] for s in main["stages"]] == ["dev", "promote_staging"]
    promote = main["stages"][1]
    assert promote["dependsOn"] == "dev"
    job = promote["jobs"][0]
    assert job["environment"] == "staging"
    steps = job["strategy"]["runOnce"]["deploy"]["steps"]
    azcli = [s for s in steps if s.get("task") == "AzureCLI@2"]
    assert azcli[0]["inputs"]["azureSubscription"] == "genaiops-staging"
    assert "promote --from dev --to staging" in azcli[0]["inputs"]["inlineScript"]
    pr_steps = pl["pr"]["stages"][1]["jobs"][0]["strategy"]["runOnce"]["deploy"]["steps"]
    publish = [s for s in pr_steps if s.get("task") == "PublishTestResults@2"]
    assert publish and publish[0]["inputs"]["testResultsFormat"] == "JUnit"
    assert publish[0]["condition"] == "succeededOrFailed()"
    assert pl["release"]["stages"][0]["jobs"][0]["environment"] == "prod"
    assert pl["release"]["trigger"]["tags"]["include"] == ["v*"]


def test_a_longer_chain_gets_one_job_per_promotion(tmp_path: Path) -> None:
    wf = generated(sample_repo(tmp_path, four_environments), "github")
    assert list(wf["main"]["jobs"]) == ["deploy-dev", "promote-qa", "promote-pre-prod"]
    assert wf["main"]["jobs"]["promote-pre-prod"]["needs"] == "promote-qa"
    assert list(wf["release"]["jobs"]) == ["promote-prod"]
    pl = generated(sample_repo(tmp_path / "az", four_environments), "azure-pipelines")
    assert [s["stage"] for s in pl["main"]["stages"]] == ["dev", "promote_qa", "promote_pre_prod"]


@pytest.mark.parametrize("shape", ["sample", "four environments", "no promotion"])
def test_generated_files_pass_actionlint_and_the_schemas(tmp_path: Path, shape: str) -> None:
    def single(data: dict) -> None:
        data["environments"] = {"dev": data["environments"]["dev"]}

    edit = {"sample": None, "four environments": four_environments, "no promotion": single}[shape]
    root = sample_repo(tmp_path, edit)
    github, azure = generated(root, "github"), generated(root, "azure-pipelines")
    assert len(github) == len(azure) == (2 if shape == "no promotion" else 3)
    workflows = sorted(str(p) for p in (root / ".github/workflows").glob("*.yml"))
    pipelines = sorted(str(p) for p in (root / ".azure-pipelines").glob("*.yml"))
    # shellcheck on PATH makes actionlint check every run: script too
    checks = [
        (tool("actionlint"), "-no-color", *workflows),
        (tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows),
        # the vendored Azure schema has patterns only Python's regex engine compiles
        (
            tool("check-jsonschema"),
            "--regex-variant",
            "python",
            "--builtin-schema",
            "vendor.azure-pipelines",
            *pipelines,
        ),
    ]
    for cmd in checks:
        proc = lint(*cmd)
        assert proc.returncode == 0, f"{Path(cmd[0]).name}: {proc.stdout}{proc.stderr}"


def test_the_linters_do_reject_a_broken_workflow(tmp_path: Path) -> None:
    """The proof above is only worth something if the same commands fail on a bad file."""
    root = sample_repo(tmp_path)
    generated(root, "github")
    broken = root / ".github/workflows/genaiops-main.yml"
    broken.write_text(broken.read_text().replace("needs: deploy-dev", "needs: deploy-nowhere"))
    assert lint(tool("actionlint"), "-no-color", str(broken)).returncode != 0
    bad_schema = root / ".github/workflows/genaiops-pr.yml"
    bad_schema.write_text(
        bad_schema.read_text().replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest", 1)
    )
    assert (
        lint(
            tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(bad_schema)
        ).returncode
        != 0
    )


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    root = sample_repo(tmp_path)
    assert init(root, "github").code == 0
    mine = root / GITHUB[1]
    mine.write_text("# my edits\n")
    again = init(root, "github")
    assert again.code == ExitCode.USAGE
    err = again.json()["error"]
    assert err["code"] == "pipeline_exists" and "--force" in err["hint"]
    assert mine.read_text() == "# my edits\n", "nothing is written when refusing"
    forced = init(root, "github", "--force")
    assert forced.code == 0 and forced.json()["result"]["overwritten"] == GITHUB
    assert "promote" in mine.read_text()


def test_dry_run_prints_and_writes_nothing(tmp_path: Path) -> None:
    root = sample_repo(tmp_path)
    run = init(root, "azure-pipelines", "--dry-run")
    assert run.code == 0
    contents = run.json()["result"]["contents"]
    assert sorted(contents) == sorted(AZURE) and "AzureCLI@2" in contents[AZURE[1]]
    assert not (root / ".azure-pipelines").exists()
    text = run_cli("pipeline", "init", "--provider", "github", "--dry-run", cwd=root)
    assert text.code == 0 and "# ---- .github/workflows/genaiops-release.yml" in text.stdout
    assert not (root / ".github").exists()


def test_unknown_provider_and_ambiguous_chains_are_usage_errors(tmp_path: Path) -> None:
    def forked(data: dict) -> None:
        data["environments"]["prod"]["promote_from"] = "dev"  # dev → staging and dev → prod

    assert init(sample_repo(tmp_path), "jenkins").code == ExitCode.USAGE
    run = init(sample_repo(tmp_path / "f", forked), "github")
    assert run.code == ExitCode.USAGE and run.json()["error"]["code"] == "ambiguous_chain"


def test_fill_indents_blocks_and_refuses_unknown_placeholders() -> None:
    out = fill("a:\n  <<block>>\n  <<gone>>\nb: <<x>>\n", {"block": "- 1\n- 2\n", "gone": "", "x": "y"})
    assert out == "a:\n  - 1\n  - 2\nb: y\n"
    with pytest.raises(KeyError, match="<<missing>>"):
        fill("<<missing>>", {})


def test_a_manifest_in_a_subdirectory_runs_there(tmp_path: Path) -> None:
    repo = tmp_path / "mono"
    repo.mkdir()
    (repo / ".git").mkdir()
    app = sample_repo(tmp_path / "x").rename(repo / "agent")
    (app / ".git").rmdir()  # the work tree's root is `mono`, the manifest lives in mono/agent
    run = run_cli("-o", "json", "pipeline", "init", "--provider", "github", cwd=app)
    assert run.code == 0, run.stderr
    assert run.json()["result"]["root"] == str(repo.resolve())
    pr = yaml.safe_load((repo / GITHUB[0]).read_text())
    assert pr["defaults"]["run"]["working-directory"] == "agent"
    assert run_cli("pipeline", "init", "--provider", "azure-pipelines", cwd=app).code == 0
    azure = (repo / AZURE[1]).read_text()
    assert "workingDirectory: $(Build.SourcesDirectory)/agent" in azure
    assert "searchFolder: $(Build.SourcesDirectory)/agent/reports" in azure
    workflows = [str(repo / f) for f in GITHUB]
    assert lint(tool("actionlint"), "-no-color", *workflows).returncode == 0
