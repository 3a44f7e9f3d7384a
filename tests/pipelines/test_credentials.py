"""`genaiops pipeline credentials`: the CI identity's plan (federated credential, least roles) from
the manifest, the templates it emits, and its refusals. The deployment itself: tests/e2e."""

from __future__ import annotations

import json
from pathlib import Path

from genaiops_cli.core.ci_identity import AUDIENCE, GITHUB_ISSUER, ROLES
from genaiops_cli.errors import ExitCode
from tests.cli.helpers import run_cli

from .helpers import sample_repo


def credentials(root: Path, *args: str):
    return run_cli("-o", "json", "pipeline", "credentials", *args, cwd=root)


def test_staging_plan_trusts_one_subject_and_grants_least_roles(tmp_path: Path) -> None:
    root = sample_repo(tmp_path)
    run = credentials(root, "-e", "staging", "--repo", "contoso/support-agent", "--emit", "infra-ci")
    assert run.code == 0, run.stderr
    plan = run.json()["result"]
    assert plan["ci_identity"] == "id-staging-ci", "its own identity, not the one the app runs as"
    assert plan["federated_credential"] == {
        "issuer": GITHUB_ISSUER,
        "subject": "repo:contoso/support-agent:environment:staging",
        "audiences": [AUDIENCE],
    }
    roles = {(r["role"], r["scope"]) for r in plan["roles"]}
    assert roles == {
        ("AcrPush", "registry crstaging"),
        ("Reader", "registry crstaging"),
        ("Container Apps Contributor", "resource group rg-staging"),
        ("Managed Identity Operator", "identity id-staging"),
        ("AcrPull", "registry crdev (dev)"),  # the registry staging promotes from, read-only
    }
    assert [(d["resource_group"], d["name"]) for d in plan["deployments"]] == [
        ("rg-staging", "genaiops-staging-ci"),
        ("rg-dev", "genaiops-staging-ci-from-dev"),
    ]
    template = json.loads((root / "infra-ci/genaiops-staging-ci.json").read_text())
    types = [r["type"] for r in template["resources"]]
    assert types.count("Microsoft.Authorization/roleAssignments") == 4
    fic = next(r for r in template["resources"] if r["type"].endswith("/federatedIdentityCredentials"))
    assert fic["properties"]["audiences"] == [AUDIENCE]
    granted = {
        r["properties"]["roleDefinitionId"].split("'")[-2]
        for r in template["resources"]
        if "properties" in r and "roleDefinitionId" in r["properties"]
    }
    assert granted == {
        ROLES[n] for n in ("AcrPush", "Reader", "Container Apps Contributor", "Managed Identity Operator")
    }
    assert "Owner" not in json.dumps(template) and "b24988ac" not in json.dumps(template), "never Contributor"
    params = json.loads((root / "infra-ci/genaiops-staging-ci.parameters.json").read_text())["parameters"]
    assert params["subject"]["value"] == "repo:contoso/support-agent:environment:staging"


def test_the_first_environment_pulls_from_nowhere(tmp_path: Path) -> None:
    run = credentials(sample_repo(tmp_path), "-e", "dev", "--repo", "contoso/agent", "--emit", "out")
    plan = run.json()["result"]
    assert [r["role"] for r in plan["roles"]] == [
        "AcrPush",
        "Reader",
        "Container Apps Contributor",
        "Managed Identity Operator",
    ]
    assert len(plan["deployments"]) == 1


def test_azure_devops_issuer_and_subject(tmp_path: Path) -> None:
    issuer = "https://vstoken.dev.azure.com/0b5c1f0e-0000-4000-8000-000000000000"
    subject = "sc://contoso/support/genaiops-prod"
    run = credentials(
        sample_repo(tmp_path), "-e", "prod", "--issuer", issuer, "--subject", subject, "--emit", "o"
    )
    assert run.code == 0, run.stderr
    assert run.json()["result"]["federated_credential"]["subject"] == subject


def test_refusals(tmp_path: Path) -> None:
    root = sample_repo(tmp_path)
    bad = credentials(root, "-e", "dev", "--repo", "not a repo", "--emit", "o")
    assert bad.code == ExitCode.USAGE and "OWNER/NAME" in bad.json()["error"]["message"]
    assert credentials(root, "-e", "dev", "--emit", "o").code == ExitCode.USAGE, "--repo or --subject"
    unconfirmed = credentials(root, "-e", "dev", "--repo", "contoso/agent")
    assert unconfirmed.code == ExitCode.USAGE and "--yes" in unconfirmed.json()["error"]["hint"]
    assert credentials(root, "--repo", "contoso/agent", "--what-if").code == ExitCode.USAGE, "needs -e"
