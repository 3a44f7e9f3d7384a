"""The stand-in's Foundry dataset registry through the REAL azure-ai-projects client
(`AIProjectClient.datasets`): create_or_update (201 then 200, merge-patch of tags), get, list_versions
across pages, list (latest per name), delete (204 even when absent), and the refusals — a changed
dataUri on an existing version, a dataUri with a query string, a wrong content type — in the shapes
the SDK maps to its exceptions. Answers are read back through the SDK's models field by field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import _SESSION_DIR
from tests.sandbox.test_foundry import ACCOUNT, PROJECT, Env, _fields_known, project_sandbox

BLOB = "https://127.0.0.1:1/acct/genaiops-datasets"


@pytest.fixture(scope="module")
def foundry() -> Iterator[Env]:
    yield from project_sandbox(_SESSION_DIR / "foundry-datasets-sandbox")


def _status(pipeline_response: Any, deserialized: Any, headers: Any) -> int:
    """`cls=` of a generated operation: what it answers instead of the model (the SDK's own hook)."""
    return int(pipeline_response.http_response.status_code)


def test_versions_are_created_read_listed_and_deleted(foundry: Env) -> None:
    from azure.ai.projects.models import DatasetVersion, FileDatasetVersion, FolderDatasetVersion

    client = foundry.project()
    first = client.datasets.create_or_update(
        "qa", "aaa111", FileDatasetVersion(data_uri=f"{BLOB}/qa/aaa111/files/qa.jsonl", tags={"k": "1"})
    )
    assert isinstance(first, FileDatasetVersion) and first.type == "uri_file"
    assert (first.name, first.version, first.is_reference) == ("qa", "aaa111", True)
    assert first.data_uri == f"{BLOB}/qa/aaa111/files/qa.jsonl" and first.tags == {"k": "1"}
    assert _fields_known(FileDatasetVersion, first.as_dict()) == []

    # the same version again: 200, tags merged (merge-patch), dataUri unchanged
    again = client.datasets.create_or_update(
        "qa", "aaa111", {"type": "uri_file", "dataUri": first.data_uri, "tags": {"k": None, "j": "2"}}
    )
    assert again.tags == {"j": "2"}
    second = client.datasets.create_or_update(
        "qa", "bbb222", FolderDatasetVersion(data_uri=f"{BLOB}/qa/bbb222/files")
    )
    assert isinstance(second, FolderDatasetVersion)
    client.datasets.create_or_update("other", "1", FileDatasetVersion(data_uri=f"{BLOB}/o.csv"))

    got = client.datasets.get("qa", "bbb222")
    assert isinstance(got, DatasetVersion) and got.data_uri.endswith("/bbb222/files")
    assert [v.version for v in client.datasets.list_versions("qa")] == ["aaa111", "bbb222"]
    latest = {d.name: d.version for d in client.datasets.list()}
    assert latest == {"qa": "bbb222", "other": "1"}, "list answers the newest version of each name"

    client.datasets.delete("qa", "bbb222")
    client.datasets.delete("qa", "bbb222")  # 204 again: deleting what is gone is not an error
    assert [v.version for v in client.datasets.list_versions("qa")] == ["aaa111"]
    assert list(client.datasets.list_versions("never-pushed")) == []


def test_create_answers_201_then_200(foundry: Env) -> None:
    from azure.ai.projects.models import FileDatasetVersion

    client = foundry.project()
    body = FileDatasetVersion(data_uri=f"{BLOB}/st/1/files/a.jsonl")
    assert client.datasets.create_or_update("st", "1", body, cls=_status) == 201
    assert client.datasets.create_or_update("st", "1", body, cls=_status) == 200


def test_list_versions_follows_next_links(foundry: Env) -> None:
    from azure.ai.projects.models import FileDatasetVersion

    client = foundry.project()
    for i in range(55):  # more than one page
        client.datasets.create_or_update("many", f"v{i:03d}", FileDatasetVersion(data_uri=f"{BLOB}/m/{i}"))
    assert [v.version for v in client.datasets.list_versions("many")] == [f"v{i:03d}" for i in range(55)]


def test_refusals_are_shaped_and_mapped_by_the_sdk(foundry: Env) -> None:
    from azure.ai.projects.models import FileDatasetVersion
    from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

    client = foundry.project()
    client.datasets.create_or_update("imm", "1", FileDatasetVersion(data_uri=f"{BLOB}/imm/1"))
    with pytest.raises(ResourceExistsError) as changed:  # 409: a version's data never changes
        client.datasets.create_or_update("imm", "1", FileDatasetVersion(data_uri=f"{BLOB}/imm/other"))
    assert changed.value.error.code == "Conflict"
    assert changed.value.response.headers["x-ms-error-code"] == "Conflict"
    with pytest.raises(HttpResponseError) as sas:
        client.datasets.create_or_update("imm", "2", FileDatasetVersion(data_uri=f"{BLOB}/imm/2?sig=x"))
    assert sas.value.status_code == 400 and "query string" in sas.value.error.message
    with pytest.raises(HttpResponseError) as kind:
        client.datasets.create_or_update("imm", "3", {"type": "mltable", "dataUri": f"{BLOB}/x"})
    assert kind.value.status_code == 400
    with pytest.raises(HttpResponseError) as missing:
        client.datasets.create_or_update("imm", "4", {"type": "uri_file"})
    assert missing.value.status_code == 400 and "dataUri" in missing.value.error.message
    with pytest.raises(HttpResponseError) as media:
        client.datasets.create_or_update(
            "imm", "5", {"type": "uri_file", "dataUri": f"{BLOB}/x"}, content_type="application/json"
        )
    assert media.value.status_code == 415
    with pytest.raises(ResourceNotFoundError):
        client.datasets.get("imm", "9")
    assert [v.version for v in client.datasets.list_versions("imm")] == ["1"], "refusals wrote nothing"


def test_a_project_arm_does_not_hold_is_404(foundry: Env) -> None:
    from azure.ai.projects import AIProjectClient
    from azure.core.exceptions import ResourceNotFoundError

    other = foundry.endpoint.replace(f"/{ACCOUNT}/api/projects/{PROJECT}", "/ai-nope/api/projects/nope")
    client = AIProjectClient(other, foundry.credential(), connection_verify=foundry.profile.ca_bundle)
    with pytest.raises(ResourceNotFoundError):
        list(client.datasets.list())
