"""The BatchBackend port (core/ports.py) on Azure: shards and results in the environment's storage
account, replicas as a Container Apps Job execution in the environment, the runner image built
from this package and pushed by digest to the environment's registry.

- Blob container `genaiops-batch`: `<run>/run.json`, `<run>/shards/<k>.jsonl` (written here),
  `<run>/results/<k>.jsonl` (written by the replicas with their managed identity).
- Job `genaiops-eval` in the environment's resource group: manual trigger, system-assigned identity,
  `parallelism` = `replicaCompletionCount` = shards (each replica exits 0 once every shard has a
  result), replicaRetryLimit 3. Every run starts an execution with its own template (image by
  digest, GENAIOPS_BATCH_BLOB, GENAIOPS_BATCH_RUN).
- Runner image `genaiops/eval-runner`: the pure runner modules of core/evaluation plus
  providers/batch_worker.py on a Python base image (BASE_IMAGE, else the stand-in's local base image,
  else python:3.12-slim). Its tag is the hash of its files and base, so an unchanged runner is pushed
  once per registry. The build needs no network: nothing is installed in it.

Entra only: the environment's credential here, the job's managed identity in the replicas."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.errors import BuildError, DeployError
from genaiops_cli.providers.azure.arm_errors import arm_errors
from genaiops_cli.providers.azure.blob_lock import account_url, raise_if_denied
from genaiops_cli.providers.azure.clients import _transport_kwargs, container_apps, credential, storage_retry

CONTAINER = "genaiops-batch"
JOB = "genaiops-eval"
RUNNER_REPOSITORY = "genaiops/eval-runner"
RETRY_LIMIT = 3
REPLICA_TIMEOUT = 3600
SINGLE_PUT = 4 * 1024 * 1024  # larger shards go up in 4 MiB blocks (as datasets do)
PACKAGE = Path(__file__).resolve().parents[2]  # genaiops_cli/
# what the runner image carries: the worker and the stdlib-only modules it runs (the runner and
# the HTTP client of a local eval)
RUNNER_FILES = (
    "__init__.py",
    "errors.py",
    "core/__init__.py",
    "core/project_files.py",
    "core/resolve.py",
    "core/evaluation/__init__.py",
    "core/evaluation/calls.py",
    "core/evaluation/dataset.py",
    "core/evaluation/jsonpath.py",
    "core/evaluation/runner.py",
    "providers/__init__.py",
    "providers/row_client.py",
)
DOCKERFILE = """ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
COPY runner /runner
ENV PYTHONPATH=/runner PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
CMD ["python3", "/runner/batch_worker.py"]
"""


def runner_files() -> dict[str, bytes]:
    """Build-context path → bytes of the runner image."""
    files = {f"runner/genaiops_cli/{rel}": (PACKAGE / rel).read_bytes() for rel in RUNNER_FILES}
    files["runner/batch_worker.py"] = (PACKAGE / "providers" / "batch_worker.py").read_bytes()
    files["Dockerfile"] = DOCKERFILE.encode()
    return files


def base_image() -> str:
    if os.environ.get("BASE_IMAGE"):
        return os.environ["BASE_IMAGE"]
    from genaiops_cli.core.sandbox_profile import SandboxProfile

    profile = SandboxProfile.load()
    return (profile.base_image if profile and profile.base_image else "") or "python:3.12-slim"


class AzureBatch:
    def __init__(
        self,
        target: AzureTarget,
        resource_group: str,
        account: str,
        environment: str,
        registry: Any,
        engine: Any,
    ) -> None:
        from azure.storage.blob import BlobServiceClient

        self.target, self.resource_group, self.environment = target, resource_group, environment
        self.registry, self.engine = registry, engine
        self.container_url = f"{account_url(target, account)}/{CONTAINER}"
        service = BlobServiceClient(
            account_url(target, account),
            credential=credential(target),
            max_single_put_size=SINGLE_PUT,
            max_block_size=SINGLE_PUT,
            retry_policy=storage_retry(),
            **_transport_kwargs(target),
        )
        self.blobs = service.get_container_client(CONTAINER)
        self.apps = container_apps(target)

    # -- BatchBackend ----------------------------------------------------------------------------
    def submit(
        self, run_id: str, config: Mapping[str, Any], shards: Sequence[bytes], parallelism: int
    ) -> str:
        self._upload(run_id, config, shards)
        image = self._runner_image()
        self._ensure_job(image, parallelism)
        from azure.mgmt.appcontainers import models as m

        env = [
            m.EnvironmentVar(name="GENAIOPS_BATCH_BLOB", value=self.container_url),
            m.EnvironmentVar(name="GENAIOPS_BATCH_RUN", value=run_id),
        ]
        template = m.JobExecutionTemplate(
            containers=[m.JobExecutionContainer(name="runner", image=image, env=env, resources=_resources(m))]
        )
        with arm_errors(f"start job {JOB}", DeployError):
            started = self.apps.jobs.begin_start(self.resource_group, JOB, template=template).result()
        return str(started.name)

    def progress(self, run_id: str, execution: str) -> tuple[str, int, str | None]:
        with arm_errors(f"read job execution {execution}", DeployError):
            found = self.apps.job_execution(self.resource_group, JOB, execution)
        with _denied("list batch results"):
            done = sum(1 for _ in self.blobs.list_blobs(name_starts_with=f"{run_id}/results/"))
        status = getattr(found.status, "value", found.status) or "Unknown"  # an enum of str
        return str(status), done, getattr(found, "reason", None)

    def results(self, run_id: str, shards: int) -> list[bytes]:
        from azure.core.exceptions import ResourceNotFoundError

        out = []
        with _denied("read batch results"):
            for k in range(shards):
                try:
                    out.append(self.blobs.download_blob(f"{run_id}/results/{k}.jsonl").readall())
                except ResourceNotFoundError:
                    out.append(b"")
        return out

    def stop(self, execution: str) -> None:
        with arm_errors(f"stop job execution {execution}", DeployError):
            self.apps.jobs.begin_stop_execution(self.resource_group, JOB, execution).result()

    # -- internals -------------------------------------------------------------------------------
    def _upload(self, run_id: str, config: Mapping[str, Any], shards: Sequence[bytes]) -> None:
        from azure.core.exceptions import ResourceExistsError

        with _denied("write batch shards"):
            try:
                self.blobs.create_container()
            except ResourceExistsError:
                pass
            for k, data in enumerate(shards):
                self.blobs.upload_blob(f"{run_id}/shards/{k}.jsonl", data, overwrite=False)
            # written last: a replica that finds run.json finds every shard
            self.blobs.upload_blob(f"{run_id}/run.json", json.dumps(dict(config)).encode(), overwrite=False)

    def _runner_image(self) -> str:
        """The runner image by digest in the environment's registry (built and pushed when absent)."""
        files, base = runner_files(), base_image()
        digest_input = hashlib.sha256(base.encode())
        for name in sorted(files):
            digest_input.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
        tag = digest_input.hexdigest()[:16]
        login = self.registry.login_server
        existing = self.registry.digest(RUNNER_REPOSITORY, tag)
        if existing:
            return f"{login}/{RUNNER_REPOSITORY}@{existing}"
        from genaiops_cli.core.build_context import scan_context

        with tempfile.TemporaryDirectory(prefix="gops-runner-") as tmp:
            for name, data in files.items():
                path = Path(tmp) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            context = scan_context(Path(tmp))
            reference = f"{login}/{RUNNER_REPOSITORY}"
            self.engine.build(
                context,
                [f"{reference}:{tag}"],
                {"BASE_IMAGE": base},
                {"genaiops.runner": tag},
                None,
                None,
                False,
            )
        digest = self.engine.push(reference, tag, self.registry.push_auth())
        if not digest:
            raise BuildError(f"pushing {reference}:{tag} returned no digest")
        return f"{reference}@{digest}"

    def _ensure_job(self, image: str, parallelism: int) -> None:
        from azure.mgmt.appcontainers import models as m

        with arm_errors(f"read managed environment {self.environment}", DeployError):
            env = self.apps.managed_environments.get(self.resource_group, self.environment)
        job = m.Job(
            location=env.location,
            environment_id=env.id,
            identity=m.ManagedServiceIdentity(type="SystemAssigned"),
            configuration=m.JobConfiguration(
                trigger_type="Manual",
                replica_timeout=REPLICA_TIMEOUT,
                replica_retry_limit=RETRY_LIMIT,
                manual_trigger_config=m.JobConfigurationManualTriggerConfig(
                    parallelism=parallelism, replica_completion_count=parallelism
                ),
                registries=[m.RegistryCredentials(server=self.registry.login_server, identity="system")],
            ),
            template=m.JobTemplate(
                containers=[m.Container(name="runner", image=image, resources=_resources(m))]
            ),
        )
        with arm_errors(f"create job {JOB}", DeployError):
            self.apps.jobs.begin_create_or_update(self.resource_group, JOB, job).result()


def _resources(m: Any) -> Any:
    return m.ContainerResources(cpu=0.5, memory="1Gi")


class _denied:
    """A refused blob request is a role problem (exit 4), as for datasets and the lock."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        from azure.core.exceptions import AzureError

        if exc is not None:
            raise_if_denied(exc, self.what)
            if isinstance(exc, AzureError):
                raise BatchStorageError(
                    f"could not {self.what}: {str(exc).splitlines()[0][:300]}",
                    hint="the storage account failed or was unreachable past the retries (usually "
                    "transient): re-run the evaluation; if it persists, check the environment's storage "
                    "account (`genaiops provision -e ENV` creates it)",
                ) from None
        return False


class BatchStorageError(BuildError):
    """The run's blobs could not be written or read past the SDK's retries: exit 6 `storage_failed`,
    as for datasets (blob_datasets.py) — a failed transfer, resumable by running the evaluation again."""

    code = "storage_failed"
