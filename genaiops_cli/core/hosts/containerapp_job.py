"""The Container Apps job host (`host: containerapp-job`): batch inference and scheduled work that
runs to completion. Implements core.ports.Host over the ContainerAppJobsApi port
(providers/azure/containerapp_jobs.py, azure-mgmt-appcontainers `jobs`).

A job serves no traffic, so what "live" means changes: the live configuration is the one the next
execution runs (by image digest), written by one PUT. There is nothing to stage, swap, split or
smoke-test; those refuse with a message that says what to do instead. Rollback writes the previous
image back (kept in the job's tags). Promotion deploys a job at its swap step — after the target's
gates passed — so a refused promotion never changes what the next scheduled run executes."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import containerapps as ca
from genaiops_cli.core import deploy as dep
from genaiops_cli.core import jobs
from genaiops_cli.core.ports import (
    PREVIOUS_RELEASE_TAG,
    RELEASE_TAG,
    ContainerAppJobsApi,
    DeployOutcome,
    Endpoint,
    EventFn,
    LiveService,
)
from genaiops_cli.core.release import digest_of
from genaiops_cli.errors import DeployError

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment

# A promotion deploys hosts with this capability at the swap step, after the gates (promote_steps.py).
DEPLOY_AT_SWAP = "deploy_at_swap"


class ContainerAppJobHost:
    kind = "containerapp-job"
    capabilities = frozenset({DEPLOY_AT_SWAP, "executions"})

    def __init__(self, env: Environment, api: ContainerAppJobsApi) -> None:
        self.env = env
        self.api = api

    def job_name(self, service: str) -> str:
        return jobs.job_name(self.env.manifest.name, service)

    @cached_property
    def placement(self) -> ca.Placement:
        return dep.placement(self.api, self.env.resolved)  # type: ignore[arg-type]

    def _planned(self, service: str, image: str) -> tuple[str, dict[str, Any]]:
        svc = self.env.resolved.services[service]
        return jobs.planned(self.env.manifest.name, service, svc, image, self.placement)

    def _registry(self) -> ca.RegistryAuth:
        return ca.RegistryAuth(
            self.env.registry.login_server,
            dep.identity_id(self.env.resolved, self.env.target.subscription_id),
        )

    def require_job(self, service: str) -> dict[str, Any]:
        job = self.api.get_job(self.job_name(service))
        if job is None:
            raise DeployError(
                f"job {service!r} is not deployed in {self.env.name}",
                hint=f"run `genaiops deploy -e {self.env.name} {service}`",
                code="not_deployed",
            )
        return job

    # -- plan --------------------------------------------------------------------------------------
    def expected_revision(self, service: str, image: str) -> str:
        return self._planned(service, image)[0]

    def current(self, service: str) -> LiveService:
        name = self.job_name(service)
        job = self.api.get_job(name)
        if job is None:
            return LiveService(service, name, False)
        item = _live(service, name, job)
        item.matches_manifest = bool(item.image) and item.live == self.expected_revision(
            service, str(item.image)
        )
        return item

    def has_revision(self, service: str, revision: str) -> bool:
        job = self.api.get_job(self.job_name(service))
        tags = (job or {}).get("tags") or {}
        return revision in (tags.get(ca.TAG_LIVE), tags.get(ca.TAG_PREVIOUS))

    # -- change ------------------------------------------------------------------------------------
    def deploy(self, service: str, image: str, timeout: float, on_event: EventFn) -> DeployOutcome:
        name = self.job_name(service)
        key, parts = self._planned(service, image)
        outcome = DeployOutcome(service, name, key, image, "unchanged", "direct")
        job = self.api.get_job(name)
        old_tags = dict((job or {}).get("tags") or {})
        if job is not None and old_tags.get(ca.TAG_LIVE) == key and jobs.job_image(job) == image:
            on_event(service, f"job {name} already runs {key}; nothing to do")
            return outcome
        on_event(service, f"{'updating' if job else 'creating'} job {name} ({key})")
        tags = jobs.live_tags(service, key, old_tags, jobs.job_image(job) if job else None)
        self.api.put_job(name, jobs.job_body(parts, self.placement, self._registry(), tags))
        outcome.action = "live" if job else "created"
        return outcome

    def swap(self, service: str, on_event: EventFn, tags: Mapping[str, str] | None = None) -> dict[str, Any]:
        raise DeployError(
            f"{service!r} is a job: it serves no traffic, so there is nothing to swap",
            hint="`genaiops deploy` makes a job's new image the one its next execution runs; "
            "`genaiops promote` does so after the target's gates",
            code="swap_unsupported",
        )

    def record_live(self, service: str, tags: Mapping[str, str]) -> dict[str, Any]:
        name = self.job_name(service)
        job = self.require_job(service)
        self.api.patch_job(name, {"tags": {**(job.get("tags") or {}), **tags}})
        return {"live": (job.get("tags") or {}).get(ca.TAG_LIVE), "note": "already live"}

    def _previous(self, service: str) -> tuple[dict[str, Any], str, str]:
        job = self.require_job(service)
        tags = job.get("tags") or {}
        previous, image = tags.get(ca.TAG_PREVIOUS), tags.get(jobs.TAG_PREVIOUS_IMAGE)
        if not previous or not image:
            raise DeployError(
                f"no previous image of job {service!r} in {self.env.name} to roll back to",
                hint="a rollback returns to the image the job ran before its last deploy or promotion",
                code="no_previous",
            )
        return job, previous, image

    def rollback_plan(self, service: str) -> dict[str, Any]:
        job, previous, _ = self._previous(service)
        return {"service": service, "live": (job.get("tags") or {}).get(ca.TAG_LIVE), "previous": previous}

    def rollback(self, service: str, timeout: float, on_event: EventFn) -> dict[str, Any]:
        job, _, image = self._previous(service)
        old = dict(job.get("tags") or {})
        key, parts = self._planned(service, image)
        on_event(service, f"rolling back job {self.job_name(service)} to {image.rsplit('@', 1)[-1][:19]}")
        tags = jobs.live_tags(service, key, old, jobs.job_image(job))
        tags[RELEASE_TAG], tags[PREVIOUS_RELEASE_TAG] = (
            old.get(PREVIOUS_RELEASE_TAG, ""),
            old.get(RELEASE_TAG, ""),
        )
        self.api.put_job(self.job_name(service), jobs.job_body(parts, self.placement, self._registry(), tags))
        return {
            "service": service,
            "app": self.job_name(service),
            "live": key,
            "rolled_back_from": old.get(ca.TAG_LIVE),
            "release": tags[RELEASE_TAG] or None,
            "rolled_back_release": tags[PREVIOUS_RELEASE_TAG] or None,
        }

    def remove(self, service: str, on_event: EventFn) -> dict[str, Any]:
        name = self.job_name(service)
        found = self.api.get_job(name) is not None
        if found:
            on_event(service, f"deleting job {name}: it had no earlier release to go back to")
            self.api.delete_job(name)
        return {"service": service, "app": name, "removed": found}

    def restart(
        self, service: str, revision: str | None, timeout: float, on_event: EventFn
    ) -> dict[str, Any]:
        raise DeployError(
            f"{service!r} is a job: it keeps no replicas running to restart",
            hint=f"start a new execution with `genaiops job run -e {self.env.name} {service}`",
            code="restart_unsupported",
        )

    # -- read --------------------------------------------------------------------------------------
    def status(self, service: str) -> dict[str, Any]:
        return self.observe(service)[0]

    def observe(self, service: str) -> tuple[dict[str, Any], LiveService]:
        """One read of the job (and of its newest executions, which status shows)."""
        name = self.job_name(service)
        job = self.api.get_job(name)
        if job is None:
            view = {"service": service, "app": name, "host": self.kind, "deployed": False, "revisions": []}
            return view, LiveService(service, name, False)
        return self._view(service, name, job), _live(service, name, job)

    def _view(self, service: str, name: str, job: dict[str, Any]) -> dict[str, Any]:
        tags = job.get("tags") or {}
        config = (job.get("properties") or {}).get("configuration") or {}
        executions = [jobs.execution_row(e) for e in self.api.executions(name)[:5]]
        row = {
            "name": tags.get(ca.TAG_LIVE),
            "image": jobs.job_image(job),
            "created": ((job.get("systemData") or {}).get("lastModifiedAt")),
            "active": True,
            "running_state": (job.get("properties") or {}).get("runningState"),
            "health_state": executions[0]["status"] if executions else "None",
            "provisioning_state": (job.get("properties") or {}).get("provisioningState"),
            "traffic": 0,
            "label": None,
            "role": "live",
            "url": None,
            "label_url": None,
        }
        return {
            "service": service,
            "app": name,
            "host": self.kind,
            "deployed": True,
            "url": None,
            "live": tags.get(ca.TAG_LIVE) or None,
            "staged": None,
            "previous": tags.get(ca.TAG_PREVIOUS) or None,
            "release": tags.get(RELEASE_TAG) or None,
            "trigger": config.get("triggerType"),
            "schedule": (config.get("scheduleTriggerConfig") or {}).get("cronExpression"),
            "executions": executions,
            "revisions": [row],
        }

    def endpoint(self, service: str, label: str) -> Endpoint:
        raise DeployError(
            f"{service!r} is a job: it has no endpoint to send requests to",
            hint="smoke checks and evaluations target services with host: containerapp or "
            "foundry-agent; check a job's run with `genaiops job run --wait` and `genaiops job logs`",
            code="no_endpoint",
        )


def _live(service: str, name: str, job: dict[str, Any]) -> LiveService:
    """What `job` (as read) says runs, without the comparison with the manifest."""
    tags = job.get("tags") or {}
    image = jobs.job_image(job)
    item = LiveService(service, name, True, tags.get(ca.TAG_LIVE) or None, None, image, digest_of(image))
    item.release = tags.get(RELEASE_TAG) or None
    return item
