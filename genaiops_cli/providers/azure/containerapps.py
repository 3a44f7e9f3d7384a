"""Azure Container Apps over azure-mgmt-appcontainers, in the REST wire shape (plain dicts).

Bodies are built in core as JSON exactly as the REST spec defines them and handed to the SDK,
which accepts them as-is; responses come back as dicts via `.as_dict()`. One provider for managed
and connected environments: only the environment id and the extendedLocation differ."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.errors import DeployError
from genaiops_cli.providers.azure import clients
from genaiops_cli.providers.azure.arm_errors import arm_errors, wait_lro


def _as_dict(model: Any) -> dict[str, Any]:
    if model is None:
        return {}
    as_dict = getattr(model, "as_dict", None)
    return dict(as_dict()) if callable(as_dict) else dict(model)


class ContainerAppsArm:
    """core.ports.ContainerAppsApi over the SDK, for one resource group."""

    def __init__(self, target: AzureTarget, resource_group: str, lro_timeout: float = 600) -> None:
        self.target = target
        self.resource_group = resource_group
        self.lro_timeout = lro_timeout

    @property
    def _client(self):
        return clients.container_apps(self.target)

    # -- environments -------------------------------------------------------------------------
    def managed_environment(self, name: str) -> dict[str, Any]:
        with arm_errors(
            f"read managed environment {name}",
            DeployError,
            hint="provision it first (`genaiops provision`) or fix containerapps_environment",
        ):
            return _as_dict(self._client.managed_environments.get(self.resource_group, name))

    def connected_environment(self, name: str) -> dict[str, Any]:
        with arm_errors(
            f"read connected environment {name}",
            DeployError,
            hint="create the connected environment on your Arc-enabled cluster first",
        ):
            return _as_dict(self._client.connected_environments.get(self.resource_group, name))

    # -- apps -----------------------------------------------------------------------------------
    def get_app(self, name: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with arm_errors(f"read container app {name}", DeployError):
                return _as_dict(self._client.container_apps.get(self.resource_group, name))
        except DeployError as exc:
            if isinstance(exc.__cause__, ResourceNotFoundError):
                return None
            raise

    def put_app(
        self, name: str, body: dict[str, Any], on_tick: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        action = f"write container app {name}"
        with arm_errors(action, DeployError):
            poller = self._client.container_apps.begin_create_or_update(self.resource_group, name, body)
            return _as_dict(wait_lro(poller, self.lro_timeout, action, DeployError, on_tick))

    def patch_app(
        self, name: str, body: dict[str, Any], on_tick: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        action = f"update container app {name}"
        with arm_errors(action, DeployError):
            poller = self._client.container_apps.begin_update(self.resource_group, name, body)
            result = wait_lro(poller, self.lro_timeout, action, DeployError, on_tick)
        # PATCH may finish with an empty body (final-state via Location): read the app back.
        return _as_dict(result) if result else (self.get_app(name) or {})

    def delete_app(self, name: str) -> None:
        action = f"delete container app {name}"
        with arm_errors(action, DeployError):
            poller = self._client.container_apps.begin_delete(self.resource_group, name)
            wait_lro(poller, self.lro_timeout, action, DeployError)

    # -- revisions ------------------------------------------------------------------------------
    def revisions(self, app: str) -> list[dict[str, Any]]:
        with arm_errors(f"list revisions of {app}", DeployError):
            return [
                _as_dict(r)
                for r in self._client.container_apps_revisions.list_revisions(self.resource_group, app)
            ]

    def revision(self, app: str, revision: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with arm_errors(f"read revision {revision}", DeployError):
                return _as_dict(
                    self._client.container_apps_revisions.get_revision(self.resource_group, app, revision)
                )
        except DeployError as exc:
            if isinstance(exc.__cause__, ResourceNotFoundError):
                return None
            raise

    def activate(self, app: str, revision: str) -> None:
        with arm_errors(f"activate revision {revision}", DeployError):
            self._client.container_apps_revisions.activate_revision(self.resource_group, app, revision)

    def deactivate(self, app: str, revision: str) -> None:
        with arm_errors(f"deactivate revision {revision}", DeployError):
            self._client.container_apps_revisions.deactivate_revision(self.resource_group, app, revision)

    def restart(self, app: str, revision: str) -> None:
        with arm_errors(f"restart revision {revision}", DeployError):
            self._client.container_apps_revisions.restart_revision(self.resource_group, app, revision)

    # -- secret references ---------------------------------------------------------------------
    def resolve_reference(self, reference: str) -> str | None:
        """`<resourceId>#properties.<Name>` (a provisioning output such as the Application Insights
        connection string): one generic ARM GET. The value is returned to the caller only; nothing
        here logs it."""
        resource_id, _, path = reference.partition("#")
        rtype = "/".join(resource_id.split("/providers/")[-1].split("/")[:2]).lower()
        version = REFERENCE_API_VERSIONS.get(rtype)
        name = resource_id.rsplit("/", 1)[-1]
        if version is None or not path.startswith("properties."):
            raise DeployError(
                f"cannot read the secret reference to {name} ({rtype or 'no type'})",
                hint="genaiops reads `<componentId>#properties.ConnectionString` of "
                "Microsoft.Insights/components",
                code="unsupported_reference",
            )
        with arm_errors(f"read {name}", DeployError):
            found = clients.resource_groups(self.target).resources.get_by_id(resource_id, api_version=version)
        value = (_as_dict(found).get("properties") or {}).get(path.removeprefix("properties."))
        return str(value) if value else None


# The resource types whose properties a secret reference may name, and the api-version to read them.
REFERENCE_API_VERSIONS = {"microsoft.insights/components": "2020-02-02"}
