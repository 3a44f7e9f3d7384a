"""`genaiops provision` in a subprocess against the real stand-in daemon (every ARM exchange checked against
the specs): what-if Create -> deploy -> NoChange, a changed SKU -> Modify with the diff, outputs feeding
build/push/deploy with a manifest that names no registry, environment or identity, and failures exit 5."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import REPO, Project, Sandbox


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("provision") / "project"
    shutil.copytree(REPO / "templates" / "agent", root)
    p = Project(root, sandbox)
    for env in ("dev", "staging", "prod"):
        p.edit("genaiops.yaml", f"    registry: cr{env}\n", "")
        p.edit("genaiops.yaml", f"    containerapps_environment: cae-{env}\n", "")
        p.edit("genaiops.yaml", f"    identity: id-{env}\n", "")
        p.edit("genaiops.yaml", f"resource_group: rg-{env}\n", f"resource_group: rg-prov-{env}\n")
    return p


def _ok(run) -> dict:
    assert run.code == 0, run.stderr + run.stdout
    return run.json()["result"]


def _kinds(result: dict) -> dict[str, str]:
    return {c["resource"]: c["change"] for c in result["what_if"]["changes"]}


def test_what_if_provision_what_if_and_sku_change(project: Project) -> None:
    before = _ok(project.run("-o", "json", "provision", "-e", "dev", "--what-if"))
    assert len(before["what_if"]["changes"]) == 14
    assert set(_kinds(before).values()) == {"Create"}

    refused = project.run("-o", "json", "provision", "-e", "dev")  # not a terminal and no --yes
    assert refused.code == ExitCode.USAGE and "--yes" in refused.json()["error"]["hint"]

    done = _ok(project.run("-o", "json", "provision", "-e", "dev", "--yes"))
    assert done["provisioning_state"] == "Succeeded"
    assert len(done["resources"]) == 14 and {r["state"] for r in done["resources"]} == {"Succeeded"}
    outputs = done["outputs"]
    assert outputs["registryName"].startswith("contososucr")
    assert outputs["containerAppsEnvironmentName"].startswith("contoso-su-cae-")
    # the vault Key Vault secret references read from (its data plane is served by the stand-in)
    assert outputs["keyVaultName"].startswith("kv-contososu-")
    assert outputs["keyVaultUri"].startswith("https://") and outputs["keyVaultUri"].endswith("/")
    cached = json.loads((project.root / ".genaiops/provisioned/dev.json").read_text())
    assert cached["outputs"] == outputs and cached["deployment"] == "genaiops-dev"
    assert "sharedKey" not in json.dumps(done) and "primarySharedKey" not in json.dumps(done)

    after = _ok(project.run("-o", "json", "provision", "-e", "dev", "--what-if"))
    assert set(_kinds(after).values()) == {"NoChange"}, _kinds(after)

    params = project.root / "sku.parameters.json"
    params.write_text(
        json.dumps({"parameters": {"registrySku": {"value": "Premium"}}, "contentVersion": "1.0.0.0"})
    )
    changed = _ok(
        project.run("-o", "json", "provision", "-e", "dev", "--what-if", "--parameters", str(params))
    )
    registry = f"Microsoft.ContainerRegistry/registries/{outputs['registryName']}"
    kinds = _kinds(changed)
    assert kinds.pop(registry) == "Modify" and set(kinds.values()) == {"NoChange"}
    delta = next(c["delta"] for c in changed["what_if"]["changes"] if c["resource"] == registry)
    assert {"path": "sku.name", "change": "Modify", "before": "Basic", "after": "Premium"} in delta

    text = project.run("provision", "-e", "dev", "--what-if", "--parameters", str(params))
    assert text.code == 0 and "Modify" in text.stdout and "sku.name: Basic → Premium" in text.stdout


def test_outputs_feed_build_push_and_deploy(project: Project) -> None:
    _ok(project.run("-o", "json", "provision", "-e", "dev", "--yes"))
    # a fresh checkout has no local cache: the deployment in Azure is the source of truth
    shutil.rmtree(project.root / ".genaiops" / "provisioned")
    pushed = _ok(project.run("-o", "json", "build", "--push", "-e", "dev"))["builds"][0]
    assert pushed["status"] == "pushed"
    deployed = _ok(project.run("-o", "json", "deploy", "-e", "dev", timeout=300))["deployments"][0]
    assert deployed["action"] in ("created", "live")
    assert deployed["image"].startswith(pushed["registry"])


def test_staging_provisions_in_text_mode(project: Project) -> None:
    run = project.run("provision", "-e", "staging", "--yes")
    assert run.code == 0, run.stderr
    assert "registryLoginServer" in run.stdout and "✓ Microsoft.ContainerRegistry/registries/" in run.stderr


def test_plan_infra_is_the_what_if_and_changes_nothing(project: Project) -> None:
    run = project.run("-o", "json", "plan", "-e", "staging", "--infra")
    assert run.code == 0, run.stderr
    doc = run.json()
    assert doc["command"] == "plan"
    summary = doc["result"]["what_if"]["summary"]
    assert summary.get("NoChange", 0) > 0 and "Create" not in summary and "Modify" not in summary


def test_unprovisioned_environment_says_how_to_fix(project: Project) -> None:
    run = project.run("-o", "json", "deploy", "-e", "prod")
    assert run.code == ExitCode.PROVISION
    error = run.json()["error"]
    assert error["code"] == "not_provisioned" and "genaiops provision -e prod" in error["hint"]


def _template(project: Project, name: str, body: dict | str) -> Path:
    path = project.root / "infra" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(body if isinstance(body, str) else json.dumps(body, indent=2))
    return path


SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


@pytest.mark.parametrize(
    ("case", "body", "code", "expect"),
    [
        ("syntax", '{\n  "resources": [\n    oops\n  ]\n}\n', "invalid_template", "syntax.json:3:"),
        (
            "function",
            {
                "$schema": SCHEMA,
                "contentVersion": "1.0.0.0",
                "resources": [],
                "outputs": {"o": {"type": "string", "value": "[nosuchfn('a')]"}},
            },
            "invalid_template",
            "nosuchfn",
        ),
        (
            "parameter",
            {
                "$schema": SCHEMA,
                "contentVersion": "1.0.0.0",
                "parameters": {"needed": {"type": "string"}},
                "resources": [],
            },
            "invalid_template",
            "needed",
        ),
        (
            "resource",
            {
                "$schema": SCHEMA,
                "contentVersion": "1.0.0.0",
                "resources": [
                    {
                        "type": "Microsoft.ContainerRegistry/registries",
                        "apiVersion": "2025-11-01",
                        "name": "c!",
                        "location": "eastus2",
                        "sku": {"name": "Basic"},
                        "properties": {},
                    }
                ],
            },
            "deployment_failed",
            "InvalidRegistryName",
        ),
        ("bicep", "param x string\n", "bicep_missing", "bicep"),
    ],
)
def test_failures_exit_5_with_arm_code_and_resource(
    project: Project, case: str, body: dict | str, code: str, expect: str
) -> None:
    if case == "bicep" and (shutil.which("bicep") or shutil.which("az")):
        pytest.skip("a bicep compiler is installed here")
    path = _template(project, f"{case}.{'bicep' if case == 'bicep' else 'json'}", body)
    run = project.run("-o", "json", "provision", "-e", "staging", "--yes", "--template", str(path))
    assert run.code == ExitCode.PROVISION, run.stderr + run.stdout
    error = run.json()["error"]
    assert error["code"] == code and expect in error["message"], error
    if case == "resource":
        failed = error["details"]["failed_resources"]
        assert failed[0]["resource"] == "Microsoft.ContainerRegistry/registries/c!"
        assert failed[0]["code"] == "InvalidRegistryName"


def test_monitor_apply_on_provision(project: Project) -> None:
    """`monitor.apply_on: [provision]`: provision applies the environment's alerts after the ARM
    deployment (what-if summary on stderr); the second provision changes nothing in them."""
    project.edit(
        "genaiops.yaml",
        "    gates: [smoke, quality, safety]\n",
        "    gates: [smoke, quality, safety]\n    monitor:\n      apply_on: [provision]\n"
        '      action_groups:\n        ops: {webhooks: [{name: pager, url: "https://pager.example.com/hook"}]}\n',
    )
    first = project.run("-o", "json", "provision", "-e", "staging", "--yes")
    result = _ok(first)
    assert result["monitor"]["ok"] and result["monitor"]["applied"] == 1
    assert result["monitor"]["summary"]["Create"] == 1
    assert "monitor what-if: 1 create" in first.stderr
    again = _ok(project.run("-o", "json", "provision", "-e", "staging", "--yes"))["monitor"]
    assert again["applied"] == 0 and again["summary"]["NoChange"] == 1
    status = _ok(project.run("-o", "json", "monitor", "status", "-e", "staging"))
    assert [(r["name"], r["deployed"]) for r in status["rules"]] == [("ops", True)]
