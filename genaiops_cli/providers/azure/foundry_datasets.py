"""core.ports.DatasetRegistry over azure-ai-projects `datasets` (one Foundry project): versions
are registered with `create_or_update(name, version, FileDatasetVersion|FolderDatasetVersion(
data_uri=…))` pointing at blobs genaiops already uploaded with Entra (providers/azure/
blob_datasets.py). The SDK's `upload_file`/`upload_folder` are never called: they ask the project
for a pending upload and write through the SAS URI it returns, which genaiops does not use.

Entra only (audience https://ai.azure.com). A 401 is exit 4; so is a 403 (the identity lacks a role
on the project). Other failures are `foundry_datasets_failed` with the service's code: exit 6 for a
registration (a `data push` that failed; a re-run registers it), exit 1 for a read."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.errors import AuthError, ExitCode, GenAIOpsError
from genaiops_cli.providers.azure.arm_errors import arm_errors
from genaiops_cli.providers.azure.foundry import _plain, project_client


class DatasetRegistryError(GenAIOpsError):
    code = "foundry_datasets_failed"


class DatasetRegistrationError(DatasetRegistryError):
    """A version's registration failed: the push failed (exit 6), resumable by running it again."""

    exit_code = ExitCode.BUILD


class FoundryDatasets:
    def __init__(self, target: AzureTarget, endpoint: str) -> None:
        self.target = target
        self.location = endpoint

    @cached_property
    def _datasets(self) -> Any:
        return project_client(self.target, self.location).datasets

    def names(self) -> list[str]:
        with _errors("list the project's datasets"):
            return sorted({str(d.name) for d in self._datasets.list()})

    def versions(self, name: str) -> list[dict[str, Any]]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with _errors(f"list the versions of dataset {name}"):
                return [_plain(v) for v in self._datasets.list_versions(name)]
        except DatasetRegistryError as exc:
            if isinstance(exc.__cause__, ResourceNotFoundError):
                return []
            raise

    def register(self, name: str, version: str, data_uri: str, folder: bool, tags: Mapping[str, str]) -> None:
        from azure.ai.projects.models import FileDatasetVersion, FolderDatasetVersion

        kind = FolderDatasetVersion if folder else FileDatasetVersion
        with _errors(f"register dataset {name}@{version} in the Foundry project", DatasetRegistrationError):
            self._datasets.create_or_update(
                name=name, version=version, dataset_version=kind(data_uri=data_uri, tags=dict(tags))
            )


@contextmanager
def _errors(action: str, kind: type[DatasetRegistryError] = DatasetRegistryError) -> Iterator[None]:
    try:
        with arm_errors(action, kind):
            yield
    except DatasetRegistryError as exc:
        if exc.details.get("status") == 403:
            raise AuthError(
                exc.message,
                hint="the identity needs a role on the Foundry project that may read and write its "
                "datasets (e.g. Azure AI User)",
            ) from exc.__cause__
        raise
