"""Job executions on the engine the way Container Apps runs them (a Kubernetes Job underneath):
`parallelism` identical replica containers at once, the execution Succeeded once
`replicaCompletionCount` replicas exited 0, a failed or timed-out replica replaced until more than
`replicaRetryLimit` have failed (then the execution is Failed and the others are stopped), and a
stop request ending every replica (Stopped).

Each replica is its own container `gops-job-<instance>-<execution>-<n>`, labelled with the job, the
execution and the execution's settings, so status can be derived again from the engine after a
daemon restart. Replicas share the host's network namespace: that is how they reach the stand-in's
loopback listeners (router, blob service, identity endpoint) the way Azure's replicas reach the
environment's internal network. Only runtime.py uses this module."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors

from genaiops_sandbox.runtime_api import JobExecutionSpec, JobExecutionStatus

log = logging.getLogger("genaiops.sandbox.jobs")

L_REPLICA = "genaiops.replica"
L_COMPLETIONS = "genaiops.completions"
POLL_SECONDS = 0.2
CA_IN_CONTAINER = "/etc/genaiops-sandbox/ca.pem"
SUCCEEDED, FAILED, STOPPED, RUNNING = "Succeeded", "Failed", "Stopped", "Running"


def replica_container_name(execution: str, instance: str, index: int) -> str:
    return f"gops-job-{instance}-{execution}-{index}"


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass
class _Replica:
    index: int
    container: Any
    deadline: float


@dataclass
class Execution:
    spec: JobExecutionSpec
    start: str = field(default_factory=_now_iso)
    end: str | None = None
    status: str = RUNNING
    reason: str | None = None
    succeeded: int = 0
    failed: int = 0
    started: int = 0  # replica containers created so far (the next one's index)
    running: dict[int, _Replica] = field(default_factory=dict)

    def finish(self, status: str, reason: str | None = None) -> bool:
        """First verdict wins: a stop racing a last success stays whichever came first."""
        if self.status != RUNNING:
            return False
        self.status, self.reason, self.end = status, reason, _now_iso()
        return True

    def snapshot(self) -> JobExecutionStatus:
        return JobExecutionStatus(self.status, self.start, self.end, self.reason)


class ExecutionSupervisor:
    """Runs one execution's replicas; `rt` is the DockerRuntime (engine client, image pulls, logs)."""

    def __init__(self, rt: Any, execution: Execution) -> None:
        self.rt = rt
        self.ex = execution
        self.lock = threading.Lock()

    # -- called by the runtime ---------------------------------------------------------------
    def start(self) -> None:
        threading.Thread(target=self._run, name=f"job-{self.ex.spec.execution}", daemon=True).start()

    def stop(self) -> None:
        with self.lock:
            self.ex.finish(STOPPED, "stopped by request")
            replicas = list(self.ex.running.values())
            self.ex.running.clear()
        self._stop_all(replicas)

    def status(self) -> JobExecutionStatus:
        with self.lock:
            return self.ex.snapshot()

    # -- the loop ------------------------------------------------------------------------------
    def _run(self) -> None:
        spec = self.ex.spec
        try:
            self.rt._ensure_image(spec.containers[0].image)
        except docker.errors.DockerException as exc:
            with self.lock:
                self.ex.finish(FAILED, f"could not start: {_explain(exc)}")
            return
        while not self.rt._closed.is_set():
            with self.lock:
                if self.ex.status != RUNNING:
                    return
            try:
                self._top_up()
                self._reap()
            except docker.errors.DockerException as exc:
                self._fail(f"engine error: {_explain(exc)}")
            with self.lock:
                if self.ex.status != RUNNING:
                    return
            time.sleep(POLL_SECONDS)

    def _top_up(self) -> None:
        """Start replicas until `parallelism` run, never more than the completions still needed."""
        spec = self.ex.spec
        while True:
            with self.lock:
                if self.ex.status != RUNNING:
                    return
                needed = spec.replica_completion_count - self.ex.succeeded
                if len(self.ex.running) >= min(spec.parallelism, needed):
                    return
                index = self.ex.started
                self.ex.started += 1
            container = self._create(index)
            with self.lock:
                if self.ex.status != RUNNING:  # stopped while it was created
                    self._stop_all([_Replica(index, container, 0.0)])
                    return
                self.ex.running[index] = _Replica(index, container, time.monotonic() + spec.timeout_seconds)

    def _create(self, index: int) -> Any:
        from genaiops_sandbox import runtime as rtm
        from genaiops_sandbox.runtime import L_EXEC, L_INSTANCE, L_JOB, L_KIND, L_RG, L_TIMEOUT, LABEL

        spec = self.ex.spec
        main = spec.containers[0]
        name = replica_container_name(spec.execution, self.rt._instance, index)
        self.rt._remove_container(name)
        labels = {
            LABEL: "1",
            L_INSTANCE: self.rt._instance,
            L_KIND: "job",
            L_JOB: spec.job,
            L_EXEC: spec.execution,
            L_RG: spec.resource_group,
            L_TIMEOUT: str(spec.timeout_seconds),
            L_REPLICA: str(index),
            L_COMPLETIONS: str(spec.replica_completion_count),
        }
        replica = f"{spec.execution}-{index}-{rtm._replica_suffix()}"
        platform = {
            "CONTAINER_APP_JOB_NAME": spec.job,
            "CONTAINER_APP_JOB_EXECUTION_NAME": spec.execution,
            "CONTAINER_APP_REPLICA_NAME": replica,
            **self.rt._identity_env(spec.identity, f"job {spec.job}"),
        }
        options = rtm._run_options(main, platform)
        ca = self.rt._ca_file()
        if ca is not None:
            # Azure's replicas trust the public CAs its endpoints use; here they trust the stand-in's
            options["environment"].setdefault("SSL_CERT_FILE", CA_IN_CONTAINER)
            options["volumes"] = {str(ca): {"bind": CA_IN_CONTAINER, "mode": "ro"}}
        return self.rt._client.containers.run(
            main.image, detach=True, name=name, labels=labels, network_mode="host", **options
        )

    def _reap(self) -> None:
        """Count replicas that ended; replace failed ones while the retry budget lasts."""
        with self.lock:
            replicas = list(self.ex.running.values())
        for replica in replicas:
            ctr = replica.container
            ctr.reload()
            state = ctr.attrs.get("State", {})
            if state.get("Running") or state.get("Status") in ("created", "restarting"):
                if time.monotonic() > replica.deadline:
                    self._kill(ctr)
                    self._replica_failed(
                        replica,
                        f"replica {replica.index} timed out after {self.ex.spec.timeout_seconds} s "
                        "(replicaTimeout)",
                    )
                continue
            if int(state.get("ExitCode", -1)) == 0:
                with self.lock:
                    if self.ex.running.pop(replica.index, None) is None:
                        continue
                    self.ex.succeeded += 1
                    if self.ex.succeeded >= self.ex.spec.replica_completion_count:
                        self.ex.finish(SUCCEEDED)
                        rest = list(self.ex.running.values())
                        self.ex.running.clear()
                    else:
                        rest = []
                self._stop_all(rest)
            else:
                from genaiops_sandbox.runtime import _exit_reason

                reason = self.rt._with_logs(f"replica {replica.index}: {_exit_reason(state)}", ctr)
                self._replica_failed(replica, reason)

    def _replica_failed(self, replica: _Replica, reason: str) -> None:
        with self.lock:
            if self.ex.running.pop(replica.index, None) is None:
                return
            self.ex.failed += 1
            over = self.ex.failed > self.ex.spec.replica_retry_limit
        log.info("job execution %s: %s", self.ex.spec.execution, reason.splitlines()[0])
        if over:
            limit = self.ex.spec.replica_retry_limit
            self._fail(reason if limit == 0 else f"{reason}\n(replicaRetryLimit {limit} exhausted)")

    def _fail(self, reason: str) -> None:
        with self.lock:
            self.ex.finish(FAILED, reason)
            rest = list(self.ex.running.values())
            self.ex.running.clear()
        self._stop_all(rest)

    def _stop_all(self, replicas: list[_Replica]) -> None:
        threads = [threading.Thread(target=self._stop_one, args=(r.container,)) for r in replicas]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _stop_one(self, ctr: Any) -> None:
        try:
            ctr.stop(timeout=self.rt._stop_grace)
        except docker.errors.DockerException as exc:
            log.warning("stopping job replica %s: %s", ctr.name, _explain(exc))

    def _kill(self, ctr: Any) -> None:
        try:
            ctr.kill()
        except docker.errors.DockerException:
            pass  # it ended by itself meanwhile


def derived_status(containers: list[Any], exit_reason: Any) -> JobExecutionStatus:
    """An execution this daemon did not start (adopted after a restart): read from its replicas."""
    states = [c.attrs.get("State", {}) for c in containers]
    starts = sorted(s for s in (_iso(st.get("StartedAt")) for st in states) if s)
    ends = sorted(e for e in (_iso(st.get("FinishedAt")) for st in states) if e)
    start = starts[0] if starts else None
    if any(st.get("Running") or st.get("Status") in ("created", "restarting") for st in states):
        return JobExecutionStatus(RUNNING, start)
    needed = max(int(c.labels.get(L_COMPLETIONS, "1")) for c in containers)
    ok = sum(1 for st in states if int(st.get("ExitCode", -1)) == 0)
    end = ends[-1] if ends else None
    if ok >= needed:
        return JobExecutionStatus(SUCCEEDED, start, end)
    bad = next((st for st in states if int(st.get("ExitCode", -1)) != 0), {})
    return JobExecutionStatus(FAILED, start, end, exit_reason(bad))


def _iso(docker_time: str | None) -> str | None:
    from genaiops_sandbox.runtime import _iso as iso

    return iso(docker_time)


def _explain(exc: Exception) -> str:
    return getattr(exc, "explanation", None) or str(exc)
