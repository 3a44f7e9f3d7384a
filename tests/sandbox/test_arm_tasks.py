"""ACR Tasks on the stand-in through the real azure-mgmt-containerregistrytasks client: build-source
upload URL, the SAS-checked upload, ScheduleRun with a DockerBuildRequest, Runs_Get until the run
ends, its log through Runs_GetLogSasUrl. The run really builds on the shared Docker engine and
pushes to a real registry of the fleet; every ARM exchange is checked against the 2025-03-01-preview
spec (and the registry calls against 2025-11-01)."""

from __future__ import annotations

import gzip
import io
import json
import os
import ssl
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import maybe_spec_validator, require_engine, require_specs

pytest.importorskip("azure.mgmt.containerregistrytasks")

RG, REGISTRY = "rg-tasks", "crtasks"
SPEC = (
    "specification/containerregistry/resource-manager/Microsoft.ContainerRegistry/RegistryTasks/preview/"
    "2025-03-01-preview/containerregistry_build.json"
)


@dataclass
class TasksEnv:
    endpoint: Any
    fleet: Any
    violations: Path

    @property
    def ca(self) -> str:
        return str(self.endpoint.ca_bundle)

    def credential(self) -> Any:
        from azure.identity import ClientSecretCredential

        creds = self.endpoint.credentials
        return ClientSecretCredential(
            creds.tenant_id,
            creds.client_id,
            creds.secret(),
            authority=self.endpoint.url,
            disable_instance_discovery=True,
            connection_verify=self.ca,
        )

    def client(self, cls: Any) -> Any:
        return cls(
            self.credential(),
            self.endpoint.credentials.subscription_id,
            base_url=self.endpoint.url,
            connection_verify=self.ca,
            polling_interval=0,
        )

    def tasks(self) -> Any:
        from azure.mgmt.containerregistrytasks import ContainerRegistryTasksMgmtClient

        return self.client(ContainerRegistryTasksMgmtClient)

    def open(self, request: urllib.request.Request) -> Any:
        return urllib.request.urlopen(request, context=ssl.create_default_context(cafile=self.ca), timeout=30)


@pytest.fixture(scope="module")
def env(shared_engine: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TasksEnv]:
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    from genaiops_sandbox.arm import start_arm
    from genaiops_sandbox.registry import RegistryFleet
    from genaiops_sandbox.tokens import TokenIssuer

    require_engine(shared_engine)
    state = tmp_path_factory.mktemp("tasks") / "state"
    state.mkdir()
    issuer = TokenIssuer(state)
    fleet = RegistryFleet(state, issuer, state / "tls")
    violations = state.parent / "violations.jsonl"
    endpoint = start_arm(
        state,
        state / "tls",
        issuer=issuer,
        fleet=fleet,
        validator=maybe_spec_validator(),
        validation_log=violations,
    )
    tasks_env = TasksEnv(endpoint, fleet, violations)
    try:
        token = tasks_env.credential().get_token("https://management.azure.com/.default").token
        sub = endpoint.credentials.subscription_id
        tasks_env.open(
            urllib.request.Request(
                f"{endpoint.url}/subscriptions/{sub}/resourcegroups/{RG}?api-version=2024-11-01",
                data=json.dumps({"location": "eastus2"}).encode(),
                method="PUT",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        )
        acr = tasks_env.client(ContainerRegistryManagementClient)
        acr.registries.begin_create(RG, REGISTRY, {"location": "eastus2", "sku": {"name": "Basic"}}).result()
        yield tasks_env
    finally:
        endpoint.close()
        fleet.close()
    found = [json.loads(line) for line in violations.read_text().splitlines()] if violations.exists() else []
    assert not found, "spec violations:\n" + "\n".join(json.dumps(v) for v in found)


def source_tarball(files: dict[str, str]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


def upload(env: TasksEnv, files: dict[str, str]) -> str:
    upload_def = env.tasks().registries.get_build_source_upload_url(RG, REGISTRY)
    assert upload_def.upload_url.startswith("https://127.0.0.1:") and "sig=" in upload_def.upload_url
    assert upload_def.relative_path.startswith("source/") and upload_def.relative_path.endswith(".tar.gz")
    request = urllib.request.Request(
        upload_def.upload_url,
        data=source_tarball(files),
        method="PUT",
        headers={"x-ms-blob-type": "BlockBlob"},
    )
    with env.open(request) as response:
        assert response.status == 201
    return str(upload_def.relative_path)


def wait_for(env: TasksEnv, run_id: str, timeout: float = 120) -> Any:
    client, deadline = env.tasks(), time.monotonic() + timeout
    seen = set()
    while time.monotonic() < deadline:
        run = client.runs.get(RG, REGISTRY, run_id)
        seen.add(run.status)
        if run.status in ("Succeeded", "Failed", "Canceled", "Error", "Timeout"):
            return run, seen
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end")


def run_log(env: TasksEnv, run_id: str) -> str:
    link = env.tasks().runs.get_log_sas_url(RG, REGISTRY, run_id).log_link
    with env.open(urllib.request.Request(link)) as response:
        return response.read().decode()


def docker_build_request(relative_path: str, dockerfile: str = "Dockerfile", **extra: Any) -> Any:
    from azure.mgmt.containerregistrytasks import models

    return models.DockerBuildRequest(
        source_location=relative_path,
        docker_file_path=dockerfile,
        image_names=["tests/hello:v1", "tests/hello:{{.Run.ID}}"],
        is_push_enabled=True,
        arguments=[models.Argument(name="GREETING", value="hi", is_secret=False)],
        platform=models.PlatformProperties(os="Linux", architecture="amd64"),
        **extra,
    )


def test_quick_build_runs_pushes_and_logs(env: TasksEnv) -> None:
    from azure.containerregistry import ContainerRegistryClient

    path = upload(
        env,
        {
            "Dockerfile": "FROM scratch\nARG GREETING\nCOPY hello.txt /hello.txt\n",
            "hello.txt": "hello from ACR Tasks\n",
        },
    )
    queued = env.tasks().registries.schedule_run(RG, REGISTRY, docker_build_request(path))
    assert queued.status == "Queued" and queued.run_id.startswith("cb")
    run, seen = wait_for(env, queued.run_id)
    assert run.status == "Succeeded", run_log(env, run.run_id)
    assert {i.tag for i in run.output_images} == {"v1", run.run_id}
    digest = run.output_images[0].digest
    assert digest.startswith("sha256:") and all(i.digest == digest for i in run.output_images)

    login = run.output_images[0].registry
    from conftest_registry import IssuerCredential  # the stand-in's tokens as an azure-core credential

    data = ContainerRegistryClient(
        f"https://{login}",
        IssuerCredential(env.fleet.tokens),
        audience="https://containerregistry.azure.net",
        connection_verify=env.ca,
    )
    assert data.get_manifest_properties("tests/hello", "v1").digest == digest

    text = run_log(env, run.run_id)
    assert "COPY hello.txt /hello.txt" in text
    assert f"Run ID: {run.run_id} was successful" in text
    assert f"digest: {digest}" in text

    listed = list(env.tasks().runs.list(RG, REGISTRY))
    assert run.run_id in {r.run_id for r in listed}


def test_failing_build_ends_failed_with_its_log(env: TasksEnv) -> None:
    path = upload(env, {"Dockerfile": "FROM scratch\nCOPY missing.txt /\n"})
    queued = env.tasks().registries.schedule_run(RG, REGISTRY, docker_build_request(path))
    run, _ = wait_for(env, queued.run_id)
    assert run.status == "Failed"
    assert "failed during run" in (run.run_error_message or "")
    text = run_log(env, run.run_id)
    assert "missing.txt" in text and f"Run ID: {run.run_id} failed" in text
    assert not run.output_images


def test_run_ids_count_up_like_acr(env: TasksEnv) -> None:
    from genaiops_sandbox.arm.tasks import run_id_for

    assert [run_id_for(n) for n in (1, 9, 10, 36, 37)] == ["cb1", "cb9", "cba", "cb10", "cb11"]


def test_upload_needs_a_valid_signature_and_blockblob(env: TasksEnv) -> None:
    url = env.tasks().registries.get_build_source_upload_url(RG, REGISTRY).upload_url
    tampered = url.replace("sig=", "sig=x")
    for target, headers, status in ((tampered, {"x-ms-blob-type": "BlockBlob"}, 403), (url, {}, 400)):
        with pytest.raises(urllib.error.HTTPError) as err:
            env.open(urllib.request.Request(target, data=b"x", method="PUT", headers=headers))
        assert err.value.code == status


def test_unknown_source_and_run_are_arm_errors(env: TasksEnv) -> None:
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

    with pytest.raises(HttpResponseError) as err:
        env.tasks().registries.schedule_run(RG, REGISTRY, docker_build_request("source/nope/none.tar.gz"))
    assert err.value.status_code == 400 and err.value.error.code == "InvalidSourceLocation"
    with pytest.raises(ResourceNotFoundError):
        env.tasks().runs.get(RG, REGISTRY, "cbzz")


def test_sdk_api_version_is_the_spec_version() -> None:
    from azure.mgmt.containerregistrytasks._configuration import ContainerRegistryTasksMgmtClientConfiguration

    config = ContainerRegistryTasksMgmtClientConfiguration(object(), "sub")  # type: ignore[arg-type]
    assert config.api_version == "2025-03-01-preview"
    assert os.environ.get("DOCKER_HOST")  # the run builds on the shared engine


def test_schedule_run_request_matches_spec(env: TasksEnv) -> None:
    """The body the SDK sends, against DockerBuildRequest flattened with its RunRequest base."""
    from genaiops_sandbox.specs import shared_index

    require_specs()
    sent: list[bytes] = []
    path = upload(env, {"Dockerfile": "FROM scratch\nCOPY a /a\n", "a": "a"})
    run = env.tasks().registries.schedule_run(
        RG,
        REGISTRY,
        docker_build_request(path),
        raw_request_hook=lambda pipeline_request: sent.append(pipeline_request.http_request.body),
    )
    wait_for(env, run.run_id)
    body = json.loads(sent[0])
    assert body["type"] == "DockerBuildRequest" and body["sourceLocation"] == path
    index = shared_index()
    definitions = json.loads((index.root / SPEC).read_text())["definitions"]
    base, child = definitions["RunRequest"], definitions["DockerBuildRequest"]
    flat = {
        "type": "object",
        "properties": {**base["properties"], **child["properties"]},
        "required": sorted(set(base.get("required", [])) | set(child.get("required", []))),
    }
    assert index.validate(flat, index.root / SPEC, body, True) == []
    assert index.validate(flat, index.root / SPEC, {"type": "DockerBuildRequest"}, True), "the check can fail"
