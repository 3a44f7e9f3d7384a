# ruff: noqa: F811  (pytest fixtures imported from conftest_runtime are redefined as parameters)
"""Managed identity inside containers: the stand-in's IDENTITY_ENDPOINT issues tokens (App Service
protocol, api-version 2019-08-01) for the app's/job's identity, and a job replica uses one to write
to the stand-in's blob service over HTTPS, trusting the stand-in CA — all on the real engine."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest_runtime import NoFleet, rt_docker, rt_docker_host, rt_image, rt_state  # noqa: F401

from genaiops_sandbox.baseimage import BASE_IMAGE, ensure_base_image
from genaiops_sandbox.blob_leases import STORAGE_AUDIENCE, BlobLeaseService
from genaiops_sandbox.identity_endpoint import IdentityEndpoint
from genaiops_sandbox.runtime import DockerRuntime
from genaiops_sandbox.runtime_api import ContainerSpec, JobExecutionSpec, ManagedIdentity, RevisionSpec
from genaiops_sandbox.tokens import TokenIssuer

JOB_IDENTITY = ManagedIdentity(
    principal_id="6f1c7c9e-0000-4000-8000-00000000c0de",
    resource_id="/subscriptions/s/resourceGroups/rg1/providers/Microsoft.App/jobs/evaljob",
    tenant_id="72f988bf-0000-4000-8000-000000000000",
)

# what a runner does with nothing but the stdlib: token from the identity endpoint, then Blob REST
WRITE_BLOB = """
import json, os, ssl, urllib.request
url = os.environ["IDENTITY_ENDPOINT"] + "?resource=https://storage.azure.com/&api-version=2019-08-01"
req = urllib.request.Request(url, headers={"X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]})
token = json.load(urllib.request.urlopen(req))["access_token"]
headers = {"Authorization": "Bearer " + token, "x-ms-version": "2025-01-05"}
base = os.environ["BLOB"] + "/acct1/results"
ctx = ssl.create_default_context()
create = urllib.request.Request(base + "?restype=container", method="PUT", headers=headers)
urllib.request.urlopen(create, context=ctx)
name = os.environ["CONTAINER_APP_REPLICA_NAME"]
blob = urllib.request.Request(base + "/" + name, data=b"written-by-replica",
    method="PUT", headers={**headers, "x-ms-blob-type": "BlockBlob"})
print(urllib.request.urlopen(blob, context=ctx).status)
"""


@pytest.fixture
def stack(rt_state, rt_docker_host):
    issuer = TokenIssuer(rt_state["state_dir"])
    blobs = BlobLeaseService(rt_state["tls_dir"], issuer)  # also puts the CA into tls_dir
    identity = IdentityEndpoint(rt_state["state_dir"], issuer)
    runtime = DockerRuntime(
        rt_state["state_dir"],
        issuer,
        NoFleet(),
        rt_state["tls_dir"],
        docker_host=rt_docker_host,
        identity=identity,
    )
    yield issuer, blobs, identity, runtime
    runtime.remove_all()
    runtime.close()
    identity.close()
    blobs.close()


def _get_token(identity: IdentityEndpoint, header: str | None, resource: str = "https://storage.azure.com/"):
    url = f"http://127.0.0.1:{identity.port}/msi/token?resource={resource}&api-version=2019-08-01"
    req = urllib.request.Request(url, headers={"X-IDENTITY-HEADER": header} if header else {})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.load(resp)


def test_tokens_are_for_the_identity_and_the_header_is_checked(stack) -> None:
    issuer, _blobs, identity, _runtime = stack
    header = identity.header_for(JOB_IDENTITY)
    body = _get_token(identity, header)
    assert body["token_type"] == "Bearer" and body["resource"] == "https://storage.azure.com/"
    assert int(body["expires_on"]) > time.time() + 600 and body["client_id"] == JOB_IDENTITY.principal_id
    claims = issuer.verify(body["access_token"], STORAGE_AUDIENCE)
    assert claims is not None and claims["oid"] == JOB_IDENTITY.principal_id
    assert claims["xms_mirid"] == JOB_IDENTITY.resource_id
    # a forged or missing header gets nothing; the header itself is no bearer token
    for bad in (None, header[:-2] + "xx", "not-a-header"):
        with pytest.raises(urllib.error.HTTPError) as err:
            _get_token(identity, bad)
        assert err.value.code == 401
    assert issuer.verify(header) is None


def test_a_job_replica_writes_a_blob_with_its_managed_identity(stack, rt_docker_host) -> None:
    issuer, blobs, _identity, runtime = stack
    ensure_base_image(
        rt_docker_host, Path(os.environ.get("GENAIOPS_CACHE_DIR", "/tmp/gops-rt-cache")) / "debs"
    )
    runtime.start_job_execution(
        JobExecutionSpec(
            job="evaljob",
            execution="evaljob-mi1",
            resource_group="rg1",
            containers=[
                ContainerSpec(
                    name="w", image=BASE_IMAGE, env={"BLOB": blobs.url}, command=["python3", "-c", WRITE_BLOB]
                )
            ],
            identity=JOB_IDENTITY,
        )
    )
    deadline = time.monotonic() + 60
    while runtime.job_execution_status("evaljob-mi1").status == "Running" and time.monotonic() < deadline:
        time.sleep(0.2)
    status = runtime.job_execution_status("evaljob-mi1")
    assert status.status == "Succeeded", status.reason
    written = blobs.containers[("acct1", "results")]
    assert [b.data for b in written.values()] == [b"written-by-replica"]


def test_without_an_identity_a_job_gets_no_endpoint(stack, rt_image) -> None:
    _issuer, _blobs, _identity, runtime = stack
    runtime.start_job_execution(
        JobExecutionSpec(
            job="plain",
            execution="plain-1",
            resource_group="rg1",
            containers=[
                ContainerSpec(name="p", image=rt_image, command=["sh", "-c", 'test -z "$IDENTITY_ENDPOINT"'])
            ],
        )
    )
    deadline = time.monotonic() + 30
    while runtime.job_execution_status("plain-1").status == "Running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert runtime.job_execution_status("plain-1").status == "Succeeded"


def test_a_revision_with_an_identity_is_told_where_the_endpoint_is(stack, rt_image, rt_docker) -> None:
    _issuer, _blobs, identity, runtime = stack
    app_identity = ManagedIdentity(
        "11111111-0000-4000-8000-000000000001", "/subscriptions/s/.../apps/web", "t"
    )
    runtime.ensure_revision(
        RevisionSpec(
            app="miweb",
            revision="miweb--r1",
            resource_group="rg1",
            default_domain="mi.sandbox.genaiops.test",
            containers=[ContainerSpec(name="web", image=rt_image)],
            target_port=None,
            identity=app_identity,
        )
    )
    found = []
    deadline = time.monotonic() + 20
    while not found and time.monotonic() < deadline:
        found = rt_docker.containers.list(all=True, filters={"label": "genaiops.revision=miweb--r1"})
        time.sleep(0.1)
    env = dict(e.split("=", 1) for e in found[0].attrs["Config"]["Env"])
    assert env["IDENTITY_ENDPOINT"] == f"http://host.docker.internal:{identity.port}/msi/token"
    assert identity.identity_of(env["IDENTITY_HEADER"]) == app_identity
    assert any(h.startswith("host.docker.internal:") for h in found[0].attrs["HostConfig"]["ExtraHosts"])
    while runtime.revision_status("miweb--r1").running_state != "Running" and time.monotonic() < deadline:
        time.sleep(0.1)  # let readiness settle before teardown removes the container under it
