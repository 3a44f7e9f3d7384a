"""Azure AI Foundry Agent Service over azure-ai-projects (AIProjectClient at one project endpoint),
in the REST wire shape (plain dicts): core.ports.FoundryAgentsApi for the hosted-agent host.

Entra only: the credential of the environment's target, token audience https://ai.azure.com.
azure.ai.projects costs ~2 s to import, so it is imported on first use, never on a path that does
not call Foundry. Each call answers the SDK's exact status (see /work/shared/FOUNDRY.md); errors
become GenAIOpsErrors with the service's code and message (exit 7, auth exit 4)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.errors import DeployError
from genaiops_cli.providers.azure import clients
from genaiops_cli.providers.azure.arm_errors import arm_errors

SCOPE = "https://ai.azure.com/.default"


def _plain(model: Any) -> dict[str, Any]:
    as_dict = getattr(model, "as_dict", None)
    return dict(as_dict()) if callable(as_dict) else dict(model or {})


def project_client(target: AzureTarget, endpoint: str) -> Any:
    """An AIProjectClient for the project at `endpoint`, with the environment's credential."""
    from azure.ai.projects import AIProjectClient

    return AIProjectClient(
        endpoint,
        clients.credential(target),
        allow_preview=True,  # hosted agents are a preview feature (Foundry-Features header)
        connection_verify=target.verify,
    )


class FoundryAgents:
    """core.ports.FoundryAgentsApi over AIProjectClient, for one Foundry project."""

    def __init__(self, target: AzureTarget, endpoint: str) -> None:
        self.target = target
        self.endpoint = endpoint

    @cached_property
    def _client(self) -> Any:
        return project_client(self.target, self.endpoint)

    @property
    def _agents(self) -> Any:
        return self._client.agents

    def agent(self, name: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with arm_errors(f"read hosted agent {name}", DeployError):
                return _plain(self._agents.get(name))
        except DeployError as exc:
            if isinstance(exc.__cause__, ResourceNotFoundError):
                return None
            raise

    def versions(self, name: str) -> list[dict[str, Any]]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with arm_errors(f"list versions of hosted agent {name}", DeployError):
                return [_plain(v) for v in self._agents.list_versions(name)]
        except DeployError as exc:
            if isinstance(exc.__cause__, ResourceNotFoundError):
                return []
            raise

    def version(self, name: str, version: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with arm_errors(f"read version {version} of hosted agent {name}", DeployError):
                return _plain(self._agents.get_version(name, version))
        except DeployError as exc:
            if isinstance(exc.__cause__, ResourceNotFoundError):
                return None
            raise

    def create_version(
        self, name: str, definition: dict[str, Any], metadata: dict[str, str]
    ) -> dict[str, Any]:
        from azure.ai.projects.models import HostedAgentDefinition

        with arm_errors(
            f"create a version of hosted agent {name}",
            DeployError,
            hint="check the project's quota and that the project's identity can pull from the registry",
        ):
            created = self._agents.create_version(
                name, definition=HostedAgentDefinition(definition), metadata=metadata
            )
        return _plain(created)

    def delete_version(self, name: str, version: str) -> None:
        with arm_errors(f"delete version {version} of hosted agent {name}", DeployError):
            self._agents.delete_version(name, version)

    def delete_agent(self, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with arm_errors(f"delete hosted agent {name}", DeployError):
                # force: ends the sessions the gates opened (else 409); only ever our own new agent
                self._agents.delete(name, force=True)
        except DeployError as exc:
            if not isinstance(exc.__cause__, ResourceNotFoundError):
                raise

    def set_selector(self, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
        from azure.ai.projects.models import AgentEndpointConfig, VersionSelector

        with arm_errors(f"move traffic of hosted agent {name}", DeployError):
            updated = self._agents.update_details(
                name,
                agent_endpoint=AgentEndpointConfig(
                    version_selector=VersionSelector(version_selection_rules=rules)
                ),
            )
        return _plain(updated)

    def create_session(self, name: str, version: str) -> str:
        from azure.ai.projects.models import VersionRefIndicator

        with arm_errors(f"open a session on version {version} of hosted agent {name}", DeployError):
            session = self._agents.create_session(
                name, version_indicator=VersionRefIndicator(agent_version=version)
            )
        return str(session.agent_session_id)

    def token(self) -> str:
        return clients.credential(self.target).get_token(SCOPE).token
