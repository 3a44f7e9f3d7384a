# ruff: noqa: F811  (pytest fixtures imported from conftest_runtime are redefined as parameters)
"""DockerRuntime against a real Docker engine and real containers (no mocks)."""

from __future__ import annotations

import time
import urllib.request

import pytest
from conftest_runtime import NoFleet, rt_docker, rt_docker_host, rt_image, rt_state  # noqa: F401

from genaiops_sandbox.runtime import DockerRuntime, parse_memory, readiness_probe
from genaiops_sandbox.runtime_api import ContainerSpec, JobExecutionSpec, RevisionSpec
from genaiops_sandbox.tokens import TokenIssuer

DOMAIN = "rt.sandbox.genaiops.test"


def wait_for(fn, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if predicate(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def container_of(rt_docker, revision_name):
    """The revision's container, found by label (its name is scoped to the stand-in and environment)."""
    found = rt_docker.containers.list(all=True, filters={"label": f"genaiops.revision={revision_name}"})
    assert len(found) == 1, [c.name for c in found]
    return found[0]


def make_runtime(rt_state, rt_docker_host, **kw) -> DockerRuntime:
    return DockerRuntime(
        rt_state["state_dir"],
        TokenIssuer(rt_state["state_dir"]),
        NoFleet(),
        rt_state["tls_dir"],
        docker_host=rt_docker_host,
        **kw,
    )


def revision(app, suffix, image, version="v1", command=None, probes=None, target_port=8080, **c):
    return RevisionSpec(
        app=app,
        revision=f"{app}--{suffix}",
        resource_group="rg1",
        default_domain=DOMAIN,
        containers=[
            ContainerSpec(
                name=app, image=image, env={"APP_VERSION": version}, command=command, probes=probes or [], **c
            )
        ],
        target_port=target_port,
    )


@pytest.fixture
def runtime(rt_state, rt_docker_host):
    rt = make_runtime(rt_state, rt_docker_host, ready_timeout=20)
    yield rt
    rt.remove_all()
    rt.close()


def test_revision_becomes_running_and_answers_on_its_port(runtime, rt_image, rt_docker):
    spec = revision(
        "web",
        "a1",
        rt_image,
        version="v-a1",
        cpu=0.5,
        memory="0.25Gi",
        probes=[{"type": "Readiness", "httpGet": {"path": "/healthz", "port": 8080}}],
    )
    t0 = time.monotonic()
    runtime.ensure_revision(spec)
    assert time.monotonic() - t0 < 1.0, "ensure_revision must return at once"
    status = wait_for(
        lambda: runtime.revision_status("web--a1"), lambda s: s.provisioning_state != "Provisioning"
    )
    assert (status.provisioning_state, status.running_state, status.health_state) == (
        "Provisioned",
        "Running",
        "Healthy",
    )
    host, port = runtime.revision_endpoint("web--a1")
    body = urllib.request.urlopen(f"http://{host}:{port}/cgi-bin/version", timeout=5).read().decode()
    assert "version=v-a1" in body
    ctr = container_of(rt_docker, "web--a1")
    assert ctr.labels["genaiops.sandbox"] == "1" and ctr.labels["genaiops.app"] == "web"
    assert ctr.labels["genaiops.resource-group"] == "rg1"
    assert ctr.attrs["HostConfig"]["NanoCpus"] == 500_000_000
    assert ctr.attrs["HostConfig"]["Memory"] == 256 * 2**20
    # idempotent: a second ensure keeps the same container
    runtime.ensure_revision(spec)
    assert container_of(rt_docker, "web--a1").id == ctr.id


def test_crashing_image_fails_with_exit_code_and_logs(runtime, rt_image):
    runtime.ensure_revision(
        revision("crash", "c1", rt_image, command=["sh", "-c", "echo booting; echo kaboom-42 >&2; exit 3"])
    )
    status = wait_for(
        lambda: runtime.revision_status("crash--c1"), lambda s: s.provisioning_state == "Failed"
    )
    assert (status.provisioning_state, status.running_state, status.health_state) == (
        "Failed",
        "Failed",
        "Unhealthy",
    )
    assert "code 3" in status.reason and "kaboom-42" in status.reason and "booting" in status.reason
    assert runtime.revision_endpoint("crash--c1") is None


def test_never_ready_times_out_as_failed(rt_state, rt_docker_host, rt_image):
    rt = make_runtime(rt_state, rt_docker_host, ready_timeout=2)
    try:  # listens on 8080, but the readiness path never answers 2xx
        rt.ensure_revision(
            revision("slow", "s1", rt_image, probes=[{"type": "Readiness", "httpGet": {"path": "/missing"}}])
        )
        assert rt.revision_status("slow--s1").provisioning_state == "Provisioning"
        status = wait_for(
            lambda: rt.revision_status("slow--s1"), lambda s: s.provisioning_state != "Provisioning"
        )
        assert status.provisioning_state == "Failed" and status.health_state == "Unhealthy"
        assert "not ready after 2 s" in status.reason and "/missing" in status.reason
    finally:
        rt.remove_all()
        rt.close()


def test_crash_after_ready_is_restarted_with_back_off_and_counted(runtime, rt_image, rt_docker):
    """Azure restarts a crashed replica itself (the revision reads Degraded meanwhile) and counts it."""
    runtime.ensure_revision(revision("late", "l1", rt_image))
    wait_for(lambda: runtime.revision_status("late--l1"), lambda s: s.running_state == "Running")
    container_of(rt_docker, "late--l1").kill()
    status = wait_for(lambda: runtime.revision_status("late--l1"), lambda s: s.running_state != "Running", 10)
    assert status.running_state == "Degraded" and status.health_state == "Unhealthy"
    assert "code 137" in status.reason and "restart count 1" in status.reason
    status = wait_for(lambda: runtime.revision_status("late--l1"), lambda s: s.running_state == "Running", 15)
    assert status.health_state == "Healthy" and runtime.revision_restarts("late--l1") == 1
    (replica,) = runtime.revision_replicas("late--l1")
    assert replica.restart_count == 1 and replica.running and replica.ready
    assert replica.name.startswith("late--l1-")
    host, port = runtime.revision_endpoint("late--l1")
    assert urllib.request.urlopen(f"http://{host}:{port}/", timeout=5).status == 200


def test_platform_environment_variables_in_every_container(runtime, rt_image, rt_docker):
    runtime.ensure_revision(revision("envs", "e1", rt_image))
    wait_for(lambda: runtime.revision_status("envs--e1"), lambda s: s.running_state == "Running")
    env = dict(e.split("=", 1) for e in container_of(rt_docker, "envs--e1").attrs["Config"]["Env"])
    assert env["CONTAINER_APP_NAME"] == "envs" and env["CONTAINER_APP_REVISION"] == "envs--e1"
    assert env["CONTAINER_APP_ENV_DNS_SUFFIX"] == DOMAIN and env["CONTAINER_APP_PORT"] == "8080"
    assert env["CONTAINER_APP_HOSTNAME"] == f"envs--e1.{DOMAIN}"
    assert env["CONTAINER_APP_REPLICA_NAME"].startswith("envs--e1-") and env["APP_VERSION"] == "v1"


def test_start_that_fails_for_a_host_reason_is_retried(runtime, rt_image, monkeypatch):
    """Someone takes the picked host port before docker binds it: a fresh port, not a Failed revision."""
    import socket

    from genaiops_sandbox import runtime as runtime_module

    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    picks = iter([taken])
    real = runtime_module.free_port
    monkeypatch.setattr(runtime_module, "free_port", lambda: next(picks, None) or real())
    try:
        runtime.ensure_revision(revision("busy", "b1", rt_image))
        status = wait_for(
            lambda: runtime.revision_status("busy--b1"), lambda s: s.running_state != "Processing"
        )
        assert status.running_state == "Running", status.reason
        assert runtime.revision_endpoint("busy--b1")[1] != taken
    finally:
        squatter.close()


def test_two_stand_ins_share_an_engine_without_touching_each_other(
    rt_state, rt_docker_host, rt_image, tmp_path
):
    """Same app and revision names in two stand-ins (two state dirs) on one engine."""
    import shutil

    other_state = {"state_dir": tmp_path / "other", "tls_dir": tmp_path / "other" / "tls"}
    shutil.copytree(rt_state["tls_dir"], other_state["tls_dir"])
    first = make_runtime(rt_state, rt_docker_host, ready_timeout=20)
    second = make_runtime(other_state, rt_docker_host, ready_timeout=20)
    try:
        for rt, version in ((first, "one"), (second, "two")):
            rt.ensure_revision(revision("twin", "t1", rt_image, version=version))
        for rt, version in ((first, "one"), (second, "two")):
            wait_for(lambda rt=rt: rt.revision_status("twin--t1"), lambda s: s.running_state == "Running")
            host, port = rt.revision_endpoint("twin--t1")
            body = urllib.request.urlopen(f"http://{host}:{port}/cgi-bin/version", timeout=5).read().decode()
            assert f"version={version}" in body
        second.remove_all()
        assert first.revision_status("twin--t1").running_state == "Running"
        assert second.revision_status("twin--t1").running_state == "Stopped"
    finally:
        for rt in (first, second):
            rt.remove_all()
            rt.close()


def test_stop_removes_container_and_restart_recreates(runtime, rt_image, rt_docker):
    runtime.ensure_revision(revision("stop", "s1", rt_image))
    wait_for(lambda: runtime.revision_status("stop--s1"), lambda s: s.running_state == "Running")
    runtime.stop_revision("stop--s1")
    assert runtime.revision_status("stop--s1").running_state == "Stopped"
    assert rt_docker.containers.list(all=True, filters={"label": "genaiops.revision=stop--s1"}) == []
    assert runtime.revision_endpoint("stop--s1") is None
    runtime.restart_revision("stop--s1")  # activate again
    status = wait_for(lambda: runtime.revision_status("stop--s1"), lambda s: s.running_state == "Running")
    assert status.health_state == "Healthy"
    old = container_of(rt_docker, "stop--s1").attrs["State"]["StartedAt"]
    runtime.restart_revision("stop--s1")
    status = wait_for(lambda: runtime.revision_status("stop--s1"), lambda s: s.running_state == "Running")
    assert container_of(rt_docker, "stop--s1").attrs["State"]["StartedAt"] != old


def test_missing_image_fails_with_reason(runtime):
    runtime.ensure_revision(revision("nope", "n1", "127.0.0.1:1/none/such:tag"))
    status = wait_for(lambda: runtime.revision_status("nope--n1"), lambda s: s.provisioning_state == "Failed")
    assert "none/such" in status.reason


def test_remove_app_removes_all_its_revisions(runtime, rt_image, rt_docker):
    runtime.ensure_revision(revision("gone", "g1", rt_image))
    runtime.ensure_revision(revision("gone", "g2", rt_image, version="v2"))
    wait_for(lambda: runtime.revision_status("gone--g2"), lambda s: s.running_state == "Running")
    runtime.remove_app("gone")
    assert rt_docker.containers.list(all=True, filters={"label": "genaiops.app=gone"}) == []
    assert runtime.revision_status("gone--g1").running_state == "Stopped"


def test_jobs_succeed_fail_and_stop(runtime, rt_image):
    def job(execution, script, timeout=60):
        return JobExecutionSpec(
            job="batch",
            execution=execution,
            resource_group="rg1",
            timeout_seconds=timeout,
            containers=[ContainerSpec(name="b", image=rt_image, command=["sh", "-c", script])],
        )

    runtime.start_job_execution(job("batch-ok", "echo working; sleep 1; echo done"))
    runtime.start_job_execution(job("batch-bad", "echo oh-no >&2; exit 5"))
    runtime.start_job_execution(job("batch-long", "sleep 60"))
    runtime.start_job_execution(job("batch-slow", "sleep 60", timeout=1))
    assert runtime.job_execution_status("batch-ok").status == "Running"
    ok = wait_for(lambda: runtime.job_execution_status("batch-ok"), lambda s: s.status != "Running")
    assert ok.status == "Succeeded" and ok.start_time and ok.end_time and ok.end_time > ok.start_time
    bad = wait_for(lambda: runtime.job_execution_status("batch-bad"), lambda s: s.status != "Running")
    assert bad.status == "Failed" and "code 5" in bad.reason and "oh-no" in bad.reason
    wait_for(lambda: runtime.job_execution_status("batch-long"), lambda s: s.start_time is not None)
    runtime.stop_job_execution("batch-long")
    stopped = wait_for(lambda: runtime.job_execution_status("batch-long"), lambda s: s.status != "Running")
    assert stopped.status == "Stopped"
    slow = wait_for(lambda: runtime.job_execution_status("batch-slow"), lambda s: s.status != "Running")
    assert slow.status == "Failed" and "timed out" in slow.reason
    assert runtime.job_execution_status("never-started").status == "Unknown"


def _replicas_job(execution, image, script, **settings):
    return JobExecutionSpec(
        job="shards",
        execution=execution,
        resource_group="rg1",
        timeout_seconds=settings.pop("timeout", 60),
        containers=[ContainerSpec(name="b", image=image, command=["sh", "-c", script])],
        **settings,
    )


def _interval(ctr):
    state = ctr.attrs["State"]
    return state["StartedAt"], state["FinishedAt"]


# the first replica (index 0) fails; every other one works for a second
FIRST_REPLICA_FAILS = (
    'case "$CONTAINER_APP_REPLICA_NAME" in *-0-*) echo first-fails >&2; exit 4;; esac; sleep 1'
)


def test_job_replicas_run_in_parallel_until_enough_succeed(runtime, rt_image):
    runtime.start_job_execution(
        _replicas_job("par-ok", rt_image, "sleep 2", parallelism=3, replica_completion_count=3)
    )
    done = wait_for(lambda: runtime.job_execution_status("par-ok"), lambda s: s.status != "Running")
    assert done.status == "Succeeded" and done.end_time > done.start_time
    replicas = runtime.job_replica_containers("par-ok")
    assert len(replicas) == 3
    intervals = [_interval(c) for c in replicas]
    # all three ran at the same time: each started before any of them finished
    assert max(start for start, _ in intervals) < min(end for _, end in intervals)
    replica_names = {
        e.split("=", 1)[1]
        for c in replicas
        for e in c.attrs["Config"]["Env"]
        if e.startswith("CONTAINER_APP_REPLICA_NAME=")
    }
    assert len(replica_names) == 3  # identical replicas, each with its own name
    assert all(c.attrs["HostConfig"]["NetworkMode"] == "host" for c in replicas)


def test_a_failed_replica_is_retried_within_the_retry_limit(runtime, rt_image):
    runtime.start_job_execution(
        _replicas_job(
            "retry-ok",
            rt_image,
            FIRST_REPLICA_FAILS,
            parallelism=2,
            replica_completion_count=2,
            replica_retry_limit=1,
        )
    )
    done = wait_for(lambda: runtime.job_execution_status("retry-ok"), lambda s: s.status != "Running")
    assert done.status == "Succeeded"
    codes = [c.attrs["State"]["ExitCode"] for c in runtime.job_replica_containers("retry-ok")]
    assert codes == [4, 0, 0]  # replica 0 failed, a third replica replaced it


def test_replica_failures_beyond_the_retry_limit_fail_the_execution(runtime, rt_image):
    script = 'case "$CONTAINER_APP_REPLICA_NAME" in *-0-*) echo first-fails >&2; exit 4;; esac; sleep 30'
    runtime.start_job_execution(
        _replicas_job("retry-no", rt_image, script, parallelism=2, replica_completion_count=2)
    )
    failed = wait_for(lambda: runtime.job_execution_status("retry-no"), lambda s: s.status != "Running")
    assert failed.status == "Failed" and "replica 0" in failed.reason and "code 4" in failed.reason
    assert "first-fails" in failed.reason
    # the other replica is stopped with the execution, not left running for 30 s
    replicas = wait_for(
        lambda: runtime.job_replica_containers("retry-no"),
        lambda rs: not any(c.attrs["State"]["Running"] for c in rs),
        timeout=15,
    )
    assert len(replicas) == 2 and not any(c.attrs["State"]["Running"] for c in replicas)


def test_stopping_an_execution_stops_every_replica(runtime, rt_image):
    runtime.start_job_execution(
        _replicas_job("stop-all", rt_image, "sleep 60", parallelism=3, replica_completion_count=3)
    )
    wait_for(lambda: runtime.job_replica_containers("stop-all"), lambda rs: len(rs) == 3)
    runtime.stop_job_execution("stop-all")
    stopped = runtime.job_execution_status("stop-all")
    assert stopped.status == "Stopped" and stopped.end_time
    assert not any(c.attrs["State"]["Running"] for c in runtime.job_replica_containers("stop-all"))
    time.sleep(0.5)  # the supervisor must not start replacements for the stopped replicas
    assert len(runtime.job_replica_containers("stop-all")) == 3


def test_new_runtime_adopts_existing_containers(rt_state, rt_docker_host, rt_image):
    first = make_runtime(rt_state, rt_docker_host, ready_timeout=20)
    try:
        first.ensure_revision(revision("adopt", "a1", rt_image))
        first.ensure_revision(revision("adopt", "bad", rt_image, command=["sh", "-c", "exit 7"]))
        wait_for(lambda: first.revision_status("adopt--a1"), lambda s: s.running_state == "Running")
        wait_for(lambda: first.revision_status("adopt--bad"), lambda s: s.running_state == "Failed")
        port = first.revision_endpoint("adopt--a1")[1]
        first.close()  # a daemon restart: containers keep running

        second = make_runtime(rt_state, rt_docker_host, ready_timeout=20)
        status = wait_for(
            lambda: second.revision_status("adopt--a1"), lambda s: s.running_state == "Running", 10
        )
        assert status.health_state == "Healthy"
        assert second.revision_endpoint("adopt--a1") == ("127.0.0.1", port)
        bad = wait_for(
            lambda: second.revision_status("adopt--bad"), lambda s: s.running_state == "Failed", 10
        )
        assert "code 7" in bad.reason
        second.remove_all()
        second.close()
    finally:
        first.close()


def test_pure_helpers():
    assert parse_memory("0.5Gi") == 2**29 and parse_memory("512Mi") == 2**29 and parse_memory("1G") == 10**9
    assert parse_memory(None) is None and parse_memory("lots") is None
    c = ContainerSpec(
        name="x",
        image="i",
        probes=[
            {"type": "Liveness", "httpGet": {"path": "/live", "port": 1}},
            {"type": "Readiness", "httpGet": {"path": "/ready"}, "periodSeconds": 2, "failureThreshold": 4},
        ],
    )
    assert readiness_probe(c, 8080, 99) == {"path": "/ready", "port": 8080, "scheme": "http", "timeout": 8.0}
    assert readiness_probe(ContainerSpec(name="x", image="i"), 9000, 99) == {
        "path": None,
        "port": 9000,
        "timeout": 99,
    }
    assert readiness_probe(ContainerSpec(name="x", image="i"), None, 99) is None


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    from genaiops_sandbox.registry import RegistryFleet

    root = tmp_path_factory.mktemp("fleet")
    fleet = RegistryFleet(root, TokenIssuer(root), root / "tls")
    yield fleet
    fleet.close()


def test_pulls_from_a_fleet_registry_with_a_refresh_token(rt_state, rt_docker_host, rt_docker, fleet):
    import conftest_runtime as c

    login = fleet.ensure("acrpull").login_server
    repo = f"{login}/pulltest/web"
    image_id = rt_docker.api.import_image_from_data(
        c._rootfs_tar(),
        repository=repo,
        tag="1",
        changes=['CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]', "ENV APP_VERSION=pulled"],
    )
    auth = {
        "username": "00000000-0000-0000-0000-000000000000",
        "password": fleet.mint_refresh_token("acrpull"),
        "serveraddress": login,
    }
    events = list(rt_docker.api.push(repo, tag="1", stream=True, decode=True, auth_config=auth))
    assert not [e for e in events if "error" in e], events
    digest = next(e["aux"]["Digest"] for e in events if "aux" in e and "Digest" in e["aux"])
    rt_docker.images.remove(rt_docker.images.get(f"{repo}:1").id, force=True)
    ref = f"{repo}@{digest}"
    del image_id

    anonymous = make_runtime(rt_state, rt_docker_host, ready_timeout=20)  # NoFleet: no credentials
    rt = DockerRuntime(
        rt_state["state_dir"],
        TokenIssuer(rt_state["state_dir"]),
        fleet,
        rt_state["tls_dir"],
        docker_host=rt_docker_host,
        ready_timeout=20,
    )
    try:
        spec = RevisionSpec(
            app="pull",
            revision="pull--p1",
            resource_group="rg",
            default_domain=DOMAIN,
            containers=[ContainerSpec(name="pull", image=ref)],
            target_port=8080,
        )
        anonymous.ensure_revision(spec)
        denied = wait_for(
            lambda: anonymous.revision_status("pull--p1"), lambda s: s.provisioning_state == "Failed"
        )
        assert "unauthorized" in denied.reason.lower() or "authentication" in denied.reason.lower(), (
            denied.reason
        )
        anonymous.stop_revision("pull--p1")

        rt.ensure_revision(spec)
        status = wait_for(
            lambda: rt.revision_status("pull--p1"), lambda s: s.provisioning_state != "Provisioning"
        )
        assert status.running_state == "Running", status.reason
        host, port = rt.revision_endpoint("pull--p1")
        assert (
            "version=pulled"
            in urllib.request.urlopen(f"http://{host}:{port}/cgi-bin/version").read().decode()
        )
    finally:
        rt.remove_all()
        rt.close()
        anonymous.close()
