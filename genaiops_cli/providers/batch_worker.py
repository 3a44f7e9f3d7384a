"""The batch evaluation worker: what each replica of a `genaiops eval --batch` job execution runs,
inside the runner image, with nothing but the standard library and the pure evaluation runner
(core/evaluation/runner.py, calls.py, jsonpath.py, dataset.py) and HTTP client
(providers/row_client.py) a local `genaiops eval` uses — copied into the image beside this file, see
providers/azure/batch_eval.py.

Replicas are identical (Container Apps gives no replica index), so they split the work by leasing
shard blobs: a replica takes the first shard with no result yet whose lease it can acquire, sends
its calls with the same runner a local `genaiops eval` uses, writes one result line per call to
`<run>/results/<k>.jsonl` and releases the lease. A replica that dies leaves its shard's lease to
expire (15 s) and another replica — or its replacement, within the job's replicaRetryLimit — takes
the shard again. A replica exits 0 once every shard has a result.

Blob storage is reached with the replica's managed identity (IDENTITY_ENDPOINT / IDENTITY_HEADER,
audience https://storage.azure.com); no key, no SAS. Environment: GENAIOPS_BATCH_BLOB (the batch
container's URL) and GENAIOPS_BATCH_RUN (the run id)."""

from __future__ import annotations

import base64
import json
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

STORAGE = "https://storage.azure.com/"
X_MS_VERSION = "2025-01-05"
LEASE_SECONDS = 15
RENEW_EVERY = 5.0
BLOCK = 4 * 1024 * 1024  # one Put Blob up to this size, Put Block + Put Block List above


class Blob:
    """The few Blob REST calls the worker needs, with a managed-identity bearer token."""

    def __init__(self, container_url: str) -> None:
        self.base = container_url.rstrip("/")
        self.ctx = ssl.create_default_context()
        self._token: tuple[str, float] | None = None

    def token(self) -> str:
        if self._token is None or self._token[1] - time.time() < 300:
            query = urllib.parse.urlencode({"resource": STORAGE, "api-version": "2019-08-01"})
            req = urllib.request.Request(
                f"{os.environ['IDENTITY_ENDPOINT']}?{query}",
                headers={"X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]},
            )
            with urllib.request.urlopen(req, timeout=30) as resp:
                body = json.load(resp)
            self._token = (body["access_token"], float(body["expires_on"]))
        return self._token[0]

    def call(
        self, method: str, name: str, query: str = "", data: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes, Any]:
        url = f"{self.base}/{urllib.parse.quote(name)}" + (f"?{query}" if query else "")
        all_headers = {
            "Authorization": f"Bearer {self.token()}",
            "x-ms-version": X_MS_VERSION,
            **(headers or {}),
        }
        req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=60) as resp:
                return resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as err:
            return err.code, err.read(), err.headers

    def get(self, name: str) -> bytes | None:
        status, body, _ = self.call("GET", name)
        if status == 404:
            return None
        _check(status, body, f"read {name}")
        return body

    def create(self, name: str, data: bytes) -> bool:
        """Write a blob only if absent (If-None-Match: *); False when it already exists. Above 4 MiB
        in 4 MiB Put Block calls committed by one Put Block List (as the SDK uploads large blobs)."""
        headers = {"If-None-Match": "*", "x-ms-blob-content-type": "application/x-ndjson"}
        if len(data) <= BLOCK:
            headers["x-ms-blob-type"] = "BlockBlob"
            status, body, _ = self.call("PUT", name, data=data, headers=headers)
        else:
            ids = []
            for n, start in enumerate(range(0, len(data), BLOCK)):
                block_id = base64.b64encode(f"{n:08d}".encode()).decode()
                query = f"comp=block&blockid={urllib.parse.quote(block_id)}"
                status, body, _ = self.call("PUT", name, query=query, data=data[start : start + BLOCK])
                _check(status, body, f"write a block of {name}")
                ids.append(block_id)
            listing = "".join(f"<Latest>{i}</Latest>" for i in ids)
            xml = f'<?xml version="1.0" encoding="utf-8"?><BlockList>{listing}</BlockList>'.encode()
            status, body, _ = self.call("PUT", name, query="comp=blocklist", data=xml, headers=headers)
        if status in (409, 412):
            return False
        _check(status, body, f"write {name}")
        return True

    def names(self, prefix: str) -> list[str]:
        container, found, marker = "", [], ""
        while True:
            query = f"restype=container&comp=list&prefix={urllib.parse.quote(prefix)}" + (
                f"&marker={urllib.parse.quote(marker)}" if marker else ""
            )
            status, body, _ = self.call("GET", container, query=query)
            _check(status, body, f"list {prefix}")
            text = body.decode()
            found += [part.split("</Name>", 1)[0] for part in text.split("<Name>")[1:]]
            marker = (
                text.split("<NextMarker>", 1)[1].split("</NextMarker>", 1)[0]
                if "<NextMarker>" in text
                else ""
            )
            if not marker:
                return found

    def lease(self, name: str, action: str, lease_id: str | None = None) -> str | None:
        headers = {"x-ms-lease-action": action}
        if action == "acquire":
            headers["x-ms-lease-duration"] = str(LEASE_SECONDS)
        if lease_id:
            headers["x-ms-lease-id"] = lease_id
        status, body, resp_headers = self.call("PUT", name, query="comp=lease", headers=headers)
        if status == 409:
            return None  # someone else holds it
        _check(status, body, f"{action} the lease on {name}")
        return resp_headers.get("x-ms-lease-id") or lease_id


def _check(status: int, body: bytes, what: str) -> None:
    if not 200 <= status < 300:
        raise RuntimeError(f"could not {what}: HTTP {status} {body[:300]!r}")


# ------------------------------------------------------------------ one shard


def run_shard(lines: list[dict[str, Any]], config: dict[str, Any]) -> list[dict[str, Any]]:
    from genaiops_cli.core.evaluation.calls import Call
    from genaiops_cli.core.evaluation.dataset import RenderedRequest
    from genaiops_cli.core.evaluation.runner import RunOptions, Side, Target, execute

    by_side: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_side.setdefault(line["side"], []).append(line)
    sides = []
    for name, items in by_side.items():
        side = config["sides"][name]
        calls = [
            Call(str(it["i"]), 0, "row", RenderedRequest(**it["request"]), {}) for it in items
        ]  # row_id carries the call's index in its side: results are matched on it
        target = Target(side["base_url"], resolve=side.get("resolve") or {})
        sides.append(Side(name, target, calls, side.get("response_path")))
    options = RunOptions(**config["options"])

    def client(target: Any) -> Any:  # the client a local `genaiops eval` uses, CA from SSL_CERT_FILE
        from genaiops_cli.providers.row_client import RowClient

        return RowClient(target.resolve, None, options.timeout)

    collected = execute(sides, client, options)
    out = []
    for name, outcomes in collected.items():
        for o in outcomes:
            out.append(
                {
                    "side": name,
                    "i": int(o.call.row_id),
                    "status": o.status,
                    "latency_ms": o.latency_ms,
                    "body": o.body,
                    "answer": o.answer,
                    "error": o.error,
                    "attempts": o.attempts,
                }
            )
    return out


class _Renewer(threading.Thread):
    def __init__(self, blob: Blob, name: str, lease_id: str) -> None:
        super().__init__(daemon=True)
        self.blob, self.name, self.lease_id = blob, name, lease_id
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(RENEW_EVERY):
            try:
                self.blob.lease(self.name, "renew", self.lease_id)
            except Exception as exc:  # the next renewal may work; the result write decides anyway
                print(f"lease renewal of {self.name} failed: {exc}", file=sys.stderr)


def work(blob: Blob, run: str) -> int:
    config = json.loads(blob.get(f"{run}/run.json") or b"{}")
    total = int(config["shards"])
    faults = set(config.get("fail_once") or [])
    while True:
        done = {n.rsplit("/", 1)[-1].split(".")[0] for n in blob.names(f"{run}/results/")}
        pending = [k for k in range(total) if str(k) not in done]
        if not pending:
            return 0
        claimed = None
        for k in pending:
            lease_id = blob.lease(f"{run}/shards/{k}.jsonl", "acquire")
            if lease_id is None:
                continue
            if blob.get(f"{run}/results/{k}.jsonl") is not None:  # finished meanwhile
                blob.lease(f"{run}/shards/{k}.jsonl", "release", lease_id)
                continue
            claimed = (k, lease_id)
            break
        if claimed is None:
            time.sleep(1.0)  # the rest is leased by other replicas: wait for results or expiry
            continue
        k, lease_id = claimed
        name = f"{run}/shards/{k}.jsonl"
        if k in faults and blob.create(f"{run}/faults/{k}", b"failed once"):
            blob.lease(name, "release", lease_id)
            print(f"shard {k}: injected failure (fail_once), exiting", file=sys.stderr)
            return 3
        renewer = _Renewer(blob, name, lease_id)
        renewer.start()
        try:
            lines = [json.loads(x) for x in (blob.get(name) or b"").splitlines() if x.strip()]
            started = time.perf_counter()
            results = run_shard(lines, config)
            payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results).encode()
            blob.create(f"{run}/results/{k}.jsonl", payload)
            print(f"shard {k}: {len(results)} calls in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        finally:
            renewer.done.set()
            try:
                blob.lease(name, "release", lease_id)
            except RuntimeError as exc:  # expired and taken over: the other holder finishes it
                print(f"shard {k}: {exc}", file=sys.stderr)


def main() -> int:
    blob = Blob(os.environ["GENAIOPS_BATCH_BLOB"])
    return work(blob, os.environ["GENAIOPS_BATCH_RUN"])


if __name__ == "__main__":
    sys.exit(main())
