"""The batch worker's loop over an in-memory blob store (a fake of the worker's own Blob class, not of
an SDK) and a real local HTTP service: shards claimed by lease, leased shards left to their holder,
a failure injected once, and results equal to what the local runner gets."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genaiops_cli.core.evaluation.batch import plan
from genaiops_cli.core.evaluation.engine import Targets
from genaiops_cli.core.evaluation.runner import RunOptions, Target
from genaiops_cli.providers import batch_worker


class MemoryBlob:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.leases: dict[str, str] = {}
        self.lock = threading.Lock()
        self.counter = 0

    def get(self, name):
        return self.blobs.get(name)

    def create(self, name, data):
        with self.lock:
            if name in self.blobs:
                return False
            self.blobs[name] = data
            return True

    def names(self, prefix):
        return sorted(n for n in self.blobs if n.startswith(prefix))

    def lease(self, name, action, lease_id=None):
        with self.lock:
            if action == "acquire":
                if name in self.leases:
                    return None
                self.counter += 1
                self.leases[name] = f"lease-{self.counter}"
                return self.leases[name]
            if action == "release" and self.leases.get(name) == lease_id:
                del self.leases[name]
            return lease_id


class Echo(BaseHTTPRequestHandler):
    """Answers `{"answer": <message>}`; a message containing "boom" gets a 500."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = 500 if "boom" in body["message"] else 200
        data = json.dumps({"answer": body["message"]}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def service():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _batch(tmp_path, service, shards=3, fail_once=()):
    from genaiops_cli.core.evaluation import engine
    from genaiops_cli.core.manifest.model import Evaluation

    rows = [{"id": f"q{i}", "question": "boom" if i == 4 else f"q {i}", "answer": f"q {i}"} for i in range(9)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = Evaluation.model_validate(
        {
            "service": "agent",
            "dataset": "d.jsonl",
            "request": {"method": "POST", "path": "/chat", "json": {"message": "{{question}}"}},
            "response": "$.answer",
            "evaluators": ["exact_match", "error_rate"],
        }
    )
    p = engine.prepare("quality", spec, tmp_path)
    targets = {"quality": Targets(Target(service))}
    return plan([p], targets, shards, RunOptions(retries=0), run_id="run1", fail_once=fail_once)


def _store(batch_plan) -> MemoryBlob:
    blob = MemoryBlob()
    for k, data in enumerate(batch_plan.shards):
        blob.blobs[f"run1/shards/{k}.jsonl"] = data
    blob.blobs["run1/run.json"] = json.dumps(batch_plan.config).encode()
    return blob


def test_a_replica_does_every_free_shard_and_its_results_match_the_calls(tmp_path, service):
    batch_plan = _batch(tmp_path, service)
    blob = _store(batch_plan)
    assert batch_worker.work(blob, "run1") == 0
    assert blob.names("run1/results/") == [f"run1/results/{k}.jsonl" for k in range(3)]
    assert blob.leases == {}  # every lease released
    lines = [json.loads(x) for k in range(3) for x in blob.blobs[f"run1/results/{k}.jsonl"].splitlines()]
    by_i = {x["i"]: x for x in lines}
    assert sorted(by_i) == list(range(9))
    assert by_i[0]["answer"] == "q 0" and by_i[0]["status"] == 200 and by_i[0]["error"] is None
    assert by_i[4]["status"] == 500 and by_i[4]["error"] == "HTTP 500" and by_i[4]["attempts"] == 1


def test_a_leased_shard_is_left_to_its_holder_until_it_has_a_result(tmp_path, service):
    batch_plan = _batch(tmp_path, service, shards=2)
    blob = _store(batch_plan)
    blob.leases["run1/shards/0.jsonl"] = "someone-else"

    def holder_finishes():
        import time

        time.sleep(1.5)
        blob.blobs["run1/results/0.jsonl"] = b"done by the other replica\n"
        blob.leases.pop("run1/shards/0.jsonl")

    threading.Thread(target=holder_finishes).start()
    assert batch_worker.work(blob, "run1") == 0
    assert blob.blobs["run1/results/0.jsonl"] == b"done by the other replica\n"  # never redone
    assert len(blob.blobs["run1/results/1.jsonl"].splitlines()) == 5  # rows 4..8


def test_an_injected_failure_happens_once_and_releases_the_shard(tmp_path, service):
    batch_plan = _batch(tmp_path, service, shards=2, fail_once=[0])
    blob = _store(batch_plan)
    assert batch_worker.work(blob, "run1") == 3  # the replica fails on shard 0 …
    assert "run1/shards/0.jsonl" not in blob.leases and blob.names("run1/results/") == []
    assert batch_worker.work(blob, "run1") == 0  # … and its replacement does everything
    assert len(blob.names("run1/results/")) == 2


def test_the_worker_blob_client_against_the_stand_in_blob_service(tmp_path, monkeypatch):
    """Real HTTPS, the stand-in's Blob REST subset and its identity endpoint, in-process."""
    from genaiops_sandbox.blob_leases import BlobLeaseService
    from genaiops_sandbox.identity_endpoint import IdentityEndpoint
    from genaiops_sandbox.runtime_api import ManagedIdentity
    from genaiops_sandbox.tokens import TokenIssuer

    issuer = TokenIssuer(tmp_path)
    service = BlobLeaseService(tmp_path / "tls", issuer)
    identity = IdentityEndpoint(tmp_path, issuer, bind="127.0.0.1")
    try:
        env = identity.env_for(ManagedIdentity("p-1", "/subscriptions/s/jobs/j", "t"), "job j")
        for key, value in {**env, "SSL_CERT_FILE": str(tmp_path / "tls" / "ca.pem")}.items():
            monkeypatch.setenv(key, value)
        blob = batch_worker.Blob(f"{service.url}/acct1/genaiops-batch")
        status, _, _ = blob.call("PUT", "", query="restype=container")
        assert status == 201
        big = bytes(range(256)) * (9 * 4096)  # 9 MiB: three Put Block calls and a Put Block List
        assert blob.create("run1/results/0.jsonl", big) is True
        assert blob.create("run1/results/0.jsonl", b"again") is False  # written once
        assert blob.create("run1/results/1.jsonl", b"small\n") is True
        assert blob.get("run1/results/0.jsonl") == big and blob.get("run1/nope") is None
        assert blob.names("run1/results/") == ["run1/results/0.jsonl", "run1/results/1.jsonl"]
        lease = blob.lease("run1/results/1.jsonl", "acquire")
        assert lease and blob.lease("run1/results/1.jsonl", "acquire") is None
        assert blob.lease("run1/results/1.jsonl", "renew", lease) == lease
        blob.lease("run1/results/1.jsonl", "release", lease)
        assert blob.lease("run1/results/1.jsonl", "acquire")
    finally:
        identity.close()
        service.close()
