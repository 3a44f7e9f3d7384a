"""An ARM template of one Foundry account and project (the two resources the stand-in's Foundry
listener serves a project endpoint for), with the project's endpoint as its output `endpoint`.
Shared by the stand-in's own tests and the e2e helpers."""

from __future__ import annotations

from typing import Any

API = "2025-06-01"


def foundry_template(account: str, project: str) -> dict[str, Any]:
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            {
                "type": "Microsoft.CognitiveServices/accounts",
                "apiVersion": API,
                "name": account,
                "location": "eastus2",
                "kind": "AIServices",
                "sku": {"name": "S0"},
                "identity": {"type": "SystemAssigned"},
                "properties": {"customSubDomainName": account, "allowProjectManagement": True},
            },
            {
                "type": "Microsoft.CognitiveServices/accounts/projects",
                "apiVersion": API,
                "name": f"{account}/{project}",
                "location": "eastus2",
                "identity": {"type": "SystemAssigned"},
                "properties": {},
                "dependsOn": [f"[resourceId('Microsoft.CognitiveServices/accounts', '{account}')]"],
            },
        ],
        "outputs": {
            "endpoint": {
                "type": "string",
                "value": f"[reference(resourceId('Microsoft.CognitiveServices/accounts/projects', "
                f"'{account}', '{project}'), '{API}').endpoints['AI Foundry API']]",
            }
        },
    }
