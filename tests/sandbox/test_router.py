# ruff: noqa: F811  (pytest fixtures imported from conftest_runtime are redefined as parameters)
"""The ingress router in front of real containers, reached over real HTTPS through providers/http.py
with a resolve map and the sandbox CA (verification on)."""

from __future__ import annotations

import collections
import random
import time

import pytest
from conftest_runtime import NoFleet, rt_docker, rt_docker_host, rt_image  # noqa: F401

from genaiops_cli.providers.http import http_client
from genaiops_sandbox.ca import ensure_ca
from genaiops_sandbox.router import REVISION_HEADER, Router, RouteTable
from genaiops_sandbox.runtime import DockerRuntime
from genaiops_sandbox.runtime_api import AppRoutes, ContainerSpec, RevisionSpec, TrafficRoute
from genaiops_sandbox.tokens import TokenIssuer

DOMAIN = "blue-sky-1234.sandbox.genaiops.test"


def spec(app: str, suffix: str, image: str, version: str) -> RevisionSpec:
    return RevisionSpec(
        app=app,
        revision=f"{app}--{suffix}",
        resource_group="rg",
        default_domain=DOMAIN,
        target_port=8080,
        containers=[ContainerSpec(name=app, image=image, env={"APP_VERSION": version})],
    )


def wait_running(rt: DockerRuntime, *revisions: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    for r in revisions:
        while rt.revision_status(r).running_state != "Running":
            assert time.monotonic() < deadline, rt.revision_status(r)
            time.sleep(0.1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, rt_docker_host, rt_image):
    root = tmp_path_factory.mktemp("router")
    state, tls = root / "state", root / "tls"
    rt = DockerRuntime(
        state, TokenIssuer(state), NoFleet(), tls, docker_host=rt_docker_host, ready_timeout=60
    )
    router = None
    try:  # a set-up that fails half-way still removes the revisions it started
        for s in (spec("shop", "v1", rt_image, "one"), spec("shop", "v2", rt_image, "two")):
            rt.ensure_revision(s)
        rt.set_routes(
            AppRoutes(
                app="shop",
                default_domain=DOMAIN,
                revisions=["shop--v1", "shop--v2"],
                traffic=[TrafficRoute("shop--v1", 100, "blue"), TrafficRoute("shop--v2", 0, "green")],
            )
        )
        router = Router(rt, tls).start()
        wait_running(rt, "shop--v1", "shop--v2")
        with http_client(router.resolve_map(), ca_bundle=str(ensure_ca(tls).cert), timeout=10) as client:
            yield rt, router, client
    finally:
        if router is not None:
            router.close()
        rt.remove_all()
        rt.close()


def test_resolve_map_covers_the_environment_domain(stack):
    _, router, _ = stack
    assert router.resolve_map() == {f"*.{DOMAIN}": f"127.0.0.1:{router.port}"}


def test_revision_label_and_app_urls(stack):
    _, _, client = stack
    r = client.get(f"https://shop--v2.{DOMAIN}/cgi-bin/version")
    assert r.status_code == 200 and "version=two" in r.text and r.headers[REVISION_HEADER] == "shop--v2"
    r = client.get(f"https://shop---green.{DOMAIN}/cgi-bin/version")
    assert "version=two" in r.text and r.headers[REVISION_HEADER] == "shop--v2"
    r = client.get(f"https://shop---blue.{DOMAIN}/cgi-bin/version")
    assert "version=one" in r.text
    r = client.get(f"https://shop.{DOMAIN}/cgi-bin/version")
    assert "version=one" in r.text and int(r.headers["content-length"]) == len(r.content)


def test_method_query_and_body_are_proxied(stack):
    _, _, client = stack
    r = client.post(f"https://shop---green.{DOMAIN}/cgi-bin/version?q=42&x=y", content=b"payload-123")
    assert r.status_code == 200
    assert "method=POST" in r.text and "query=q=42&x=y" in r.text and "body=payload-123" in r.text
    r = client.get(f"https://shop---green.{DOMAIN}/index.html")
    assert r.text == "hello from the test image\n"


def test_traffic_100_0_always_hits_the_100_one(stack):
    _, _, client = stack
    served = {client.get(f"https://shop.{DOMAIN}/").headers[REVISION_HEADER] for _ in range(30)}
    assert served == {"shop--v1"}


def test_traffic_50_50_hits_both(stack):
    rt, _, client = stack
    rt.set_routes(
        AppRoutes(
            app="shop",
            default_domain=DOMAIN,
            revisions=["shop--v1", "shop--v2"],
            traffic=[TrafficRoute("shop--v1", 50, "blue"), TrafficRoute("shop--v2", 50, "green")],
        )
    )
    try:
        counts = collections.Counter(
            client.get(f"https://shop.{DOMAIN}/cgi-bin/version").text.split()[0] for _ in range(40)
        )
        assert set(counts) == {"version=one", "version=two"}, counts  # P(miss) = 2 * 2^-40
    finally:
        rt.set_routes(
            AppRoutes(
                app="shop",
                default_domain=DOMAIN,
                revisions=["shop--v1", "shop--v2"],
                traffic=[TrafficRoute("shop--v1", 100, "blue"), TrafficRoute("shop--v2", 0, "green")],
            )
        )


def test_unknown_hosts_get_404(stack):
    _, _, client = stack
    for host in (f"nosuch.{DOMAIN}", f"shop---nolabel.{DOMAIN}", f"shop--v9.{DOMAIN}"):
        r = client.get(f"https://{host}/")
        assert r.status_code == 404 and "does not exist" in r.text, host


def test_stopped_revision_gives_503_then_404(stack, rt_image):
    rt, router, client = stack
    rt.ensure_revision(spec("tmp", "t1", rt_image, "tmp"))
    rt.set_routes(
        AppRoutes(
            app="tmp", default_domain=DOMAIN, revisions=["tmp--t1"], traffic=[TrafficRoute("tmp--t1", 100)]
        )
    )
    wait_running(rt, "tmp--t1")
    assert client.get(f"https://tmp.{DOMAIN}/").status_code == 200
    rt.stop_revision("tmp--t1")
    r = client.get(f"https://tmp--t1.{DOMAIN}/")
    assert r.status_code == 503 and r.headers[REVISION_HEADER] == "tmp--t1"
    rt.set_routes(AppRoutes(app="tmp", default_domain=DOMAIN, revisions=[], traffic=[]))
    assert client.get(f"https://tmp--t1.{DOMAIN}/").status_code == 404
    assert client.get(f"https://tmp.{DOMAIN}/").status_code == 404


def test_request_log_per_revision(stack):
    _, router, client = stack
    before = len(router.request_log("shop--v2"))
    client.get(f"https://shop---green.{DOMAIN}/index.html?a=1")
    client.get(f"https://shop---green.{DOMAIN}/missing")
    entries = router.request_log("shop--v2")[before:]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/index.html?a=1", 200),
        ("GET", "/missing", 404),
    ]
    assert all(e["latency_ms"] >= 0 and e["revision"] == "shop--v2" for e in entries)
    assert router.request_log()[-1]["path"] == "/missing"


def test_route_table_weights_are_statistical_and_zero_never_picked():
    table = RouteTable(
        [
            AppRoutes(
                app="a",
                default_domain="d.test",
                revisions=["a--1", "a--2", "a--3"],
                traffic=[TrafficRoute("a--1", 80), TrafficRoute("a--2", 20), TrafficRoute("a--3", 0, "x")],
            )
        ],
        rng=random.Random(7),
    )
    picks = collections.Counter(table.pick("a.d.test") for _ in range(5000))
    assert "a--3" not in picks and 0.77 < picks["a--1"] / 5000 < 0.83
    assert table.pick("A---X.D.TEST.") == "a--3"
    assert table.pick("a--2.d.test") == "a--2"
    assert table.pick("a.other.test") is None and table.pick("x.a.d.test") is None


def test_listener_feeds_container_apps_metrics(stack):
    """The monitoring hook: every proxied request reaches the metrics store under its environment."""
    from genaiops_sandbox.monitor.traffic import TrafficMetrics

    _, router, client = stack
    metrics = TrafficMetrics()
    router.add_listener(metrics.observe)
    started = time.time()
    for _ in range(3):
        assert client.get(f"https://shop--v2.{DOMAIN}/cgi-bin/version").status_code == 200
    assert client.get(f"https://shop--v1.{DOMAIN}/no-such-page").status_code == 404
    samples = metrics.samples(DOMAIN, "shop", started - 1, time.time() + 1)
    by_revision = collections.Counter((s.revision, s.dimension("statusCodeCategory")) for s in samples)
    assert by_revision == {("shop--v2", "2xx"): 3, ("shop--v1", "4xx"): 1}
    assert all(s.latency_ms > 0 for s in samples)
    assert metrics.samples("other.domain", "shop", started - 1, time.time() + 1) == []


def test_a_request_is_logged_before_its_answer_arrives(stack):
    """Whoever has the answer finds the request in the log and the metrics: recorded after the
    answer, a quick reader could miss it (test_monitor once read 7 requests where 8 were served)."""
    _, router, client = stack
    for i in range(30):
        assert client.get(f"https://shop---green.{DOMAIN}/logged-{i}").status_code == 404
        assert router.request_log("shop--v2")[-1]["path"] == f"/logged-{i}"


def test_revisions_starting_at_once_share_one_trust_bundle(tmp_path, rt_docker_host):
    """Every revision's start writes the CA bundle its container mounts; starts run on threads of
    their own, and two at once used to rename one fixed temporary file twice (the second failed
    its revision's start)."""
    import threading

    tls = tmp_path / "tls"
    ensure_ca(tls)
    rt = DockerRuntime(
        tmp_path / "state", TokenIssuer(tmp_path / "state"), NoFleet(), tls, docker_host=rt_docker_host
    )
    try:
        barrier, found, failed = threading.Barrier(8), [], []

        def start() -> None:
            barrier.wait()
            try:
                found.append(rt._trust_bundle())
            except OSError as exc:
                failed.append(exc)

        threads = [threading.Thread(target=start) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert failed == [] and len(set(found)) == 1
        bundle = found[0]
        assert bundle.read_text().endswith((tls / "ca.pem").read_text())
        assert bundle.stat().st_mode & 0o444 == 0o444  # readable by a container's non-root user
    finally:
        rt.close()
