"""A service deploys the same way to a connected environment (Container Apps on Arc-enabled
Kubernetes): the app is placed in the custom location and answers like any other."""

from __future__ import annotations

import pytest

from .conftest import Project, Sandbox, make_project
from .test_deploy_bluegreen import version_at

CUSTOM_LOCATION = (
    "/subscriptions/{sub}/resourceGroups/rg-arc/providers/Microsoft.ExtendedLocation/customLocations/cl-edge"
)


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure import clients

    # its own resource group: an app's environment is fixed at creation, as in Azure
    proj = make_project(sandbox, tmp_path_factory.mktemp("arc"), ("arcdev",))
    target = target_for("sandbox", None)
    clients.container_apps(target).connected_environments.begin_create_or_update(
        "rg-arcdev",
        "arc-dev",
        {
            "location": "eastus2",
            "extendedLocation": {
                "type": "CustomLocation",
                "name": CUSTOM_LOCATION.format(sub=target.subscription_id),
            },
            "properties": {},
        },
    ).result()
    manifest = proj.root / "genaiops.yaml"
    text = manifest.read_text()
    for old, new in (
        ("resource_group: rg-dev", "resource_group: rg-arcdev"),
        ("registry: crdev", "registry: crarcdev"),
        ("containerapps_environment: cae-dev", "connected_environment: arc-dev"),
    ):
        text = text.replace(old, new, 1)
    manifest.write_text(text)
    return proj


def test_deploy_to_connected_environment(project: Project) -> None:
    assert project.run("build", "--push", "-e", "dev").code == 0
    run = project.run("-o", "json", "deploy", "-e", "dev", "--timeout", "60")
    assert run.code == 0, run.stderr + run.stdout
    deployed = run.json()["result"]["deployments"][0]
    assert deployed["action"] == "created"
    assert version_at(deployed["app_url"]) == "1.0.0"

    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure import clients

    app = (
        clients.container_apps(target_for("sandbox", None))
        .container_apps.get("rg-arcdev", deployed["app"])
        .as_dict()
    )
    assert app["extendedLocation"]["type"] == "CustomLocation"
    assert app["extendedLocation"]["name"].endswith("/customLocations/cl-edge")
    assert app["properties"]["environmentId"].endswith("/connectedEnvironments/arc-dev")
