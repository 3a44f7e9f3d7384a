"""Smoke checks: the manifest's requests against a revision's URL, with expectations on status,
JSONPath values, headers and latency. Retries with backoff while a revision warms up."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genaiops_cli.core.ci_annotations import Annotation
from genaiops_cli.core.evaluation.jsonpath import JsonPathError, Missing, extract
from genaiops_cli.core.evaluation.runner import with_query
from genaiops_cli.core.reports import TestCase, TestSuite, markdown_table

if TYPE_CHECKING:
    import httpx

    from genaiops_cli.core.manifest.locate import ManifestLocator
    from genaiops_cli.core.manifest.model import SmokeCheck
    from genaiops_cli.core.ports import Endpoint

WARMUP_STATUSES = {502, 503, 504}


@dataclass
class CheckResult:
    name: str
    url: str
    passed: bool
    status: int | None = None
    latency_ms: float | None = None
    attempts: int = 1
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "passed": self.passed,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "attempts": self.attempts,
            "failures": self.failures,
        }


def _matches(value: Any, matcher: Any) -> str | None:
    """None when `value` satisfies the matcher, else why not."""
    if matcher.exists is not None and not matcher.exists:
        return "expected the path to be absent"
    if matcher.equals is not None and value != matcher.equals:
        return f"expected {matcher.equals!r}, got {value!r}"
    if matcher.contains is not None and matcher.contains not in (
        value if isinstance(value, str) else json.dumps(value)
    ):
        return f"expected it to contain {matcher.contains!r}, got {str(value)[:120]!r}"
    if matcher.regex is not None and not re.search(
        matcher.regex, value if isinstance(value, str) else json.dumps(value)
    ):
        return f"expected it to match /{matcher.regex}/, got {str(value)[:120]!r}"
    return None


def evaluate(
    check: SmokeCheck, status: int, headers: dict[str, str], body: bytes, latency_ms: float
) -> list[str]:
    expect = check.expect
    failures: list[str] = []
    if status != expect.status:
        failures.append(f"status {status}, expected {expect.status}")
    if expect.max_ms is not None and latency_ms > expect.max_ms:
        failures.append(f"took {latency_ms:.0f} ms, budget {expect.max_ms} ms")
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, wanted in expect.headers.items():
        got = lowered.get(name.lower())
        if got != wanted:
            failures.append(f"header {name}: expected {wanted!r}, got {got!r}")
    if expect.json_:
        try:
            document = json.loads(body or b"null")
        except ValueError:
            return failures + ["response body is not JSON"]
        for path, matcher in expect.json_.items():
            try:
                value = extract(document, path)
            except Missing:
                if matcher.exists is False:
                    continue
                failures.append(f"{path}: not found in the response")
                continue
            except JsonPathError as exc:
                failures.append(str(exc))
                continue
            problem = _matches(value, matcher)
            if problem:
                failures.append(f"{path}: {problem}")
    return failures


def run_check(
    client: httpx.Client,
    base_url: str,
    check: SmokeCheck,
    warmup_seconds: float = 60,
    sleep: Callable[[float], None] = time.sleep,
    headers: dict[str, str] | None = None,
    endpoint: Endpoint | None = None,
) -> CheckResult:
    """Run one check against `base_url`; `headers` (an endpoint's own, e.g. its bearer token) go
    under the check's."""
    import httpx

    from genaiops_cli.core.retrying import backoff

    request = check.request
    url = base_url.rstrip("/") + request.path
    kwargs: dict[str, Any] = {"headers": {**(headers or {}), **dict(request.headers)}}
    json_body = request.json_
    if endpoint is not None:  # the host's protocol: token, api-version, a session pinning a version
        kwargs["headers"], json_body, query = endpoint.prepare(kwargs["headers"], json_body)
        url = with_query(url, query)
    if json_body is not None:
        kwargs["json"] = json_body
    elif request.body is not None:
        kwargs["content"] = request.body.encode()
    timing: dict[str, float] = {}

    def send() -> Any:
        timing["started"] = time.perf_counter()
        response = client.request(request.method, url, **kwargs)
        timing["latency"] = (time.perf_counter() - timing["started"]) * 1000
        return response

    def warming(response: Any) -> bool:  # a gateway answering for a revision still starting
        return response.status_code in WARMUP_STATUSES and check.expect.status not in WARMUP_STATUSES

    last, attempts = backoff(
        send, again=warming, on=(httpx.HTTPError,), within=warmup_seconds, first=0.25, most=4, sleep=sleep
    )
    if isinstance(last, BaseException):
        return CheckResult(check.name, url, False, attempts=attempts, failures=[f"request failed: {last}"])
    latency = timing["latency"]
    failures = evaluate(check, last.status_code, dict(last.headers), last.content, latency)
    return CheckResult(check.name, url, not failures, last.status_code, round(latency, 1), attempts, failures)


def endpoint_headers(endpoint: Endpoint) -> dict[str, str]:
    """What every request to `endpoint` carries: its headers, and its bearer token when it has one."""
    out = dict(endpoint.headers)
    if endpoint.token is not None:
        out["Authorization"] = f"Bearer {endpoint.token()}"
    return out


def suite(service: str, results: list[CheckResult]) -> TestSuite:
    """One test case per check, failing exactly when the check fails (and `smoke` exits 8)."""
    return TestSuite(
        name=f"smoke.{service}",
        cases=[
            TestCase(
                r.name,
                f"smoke.{service}",
                (r.latency_ms or 0) / 1000,
                failure="; ".join(r.failures) if not r.passed else None,
                details="\n".join(r.failures),
                properties={"url": r.url, "status": str(r.status or ""), "attempts": str(r.attempts)},
            )
            for r in results
        ],
    )


def annotations(
    service_results: dict[str, list[CheckResult]],
    locator: ManifestLocator | None = None,
    environment: str | None = None,
) -> list[Annotation]:
    """One per failed check, on the check's line in the manifest when `locator` finds it."""
    return [
        Annotation(
            "error",
            f"{r.url}: {'; '.join(r.failures)}",
            title=f"smoke {svc}/{r.name} failed",
            file=locator.file if locator else None,
            line=locator.smoke_check(svc, r.name, environment) if locator else None,
        )
        for svc, results in service_results.items()
        for r in results
        if not r.passed
    ]


def markdown(service_results: dict[str, list[CheckResult]]) -> str:
    rows = [
        [
            svc,
            r.name,
            "✅" if r.passed else "❌",
            str(r.status or "—"),
            f"{r.latency_ms:.0f} ms" if r.latency_ms is not None else "—",
            "; ".join(r.failures),
        ]
        for svc, results in service_results.items()
        for r in results
    ]
    return "### genaiops smoke checks\n\n" + markdown_table(
        ["service", "check", "result", "status", "latency", "why"], rows
    )
