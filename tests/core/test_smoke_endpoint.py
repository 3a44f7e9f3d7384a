"""Smoke checks go through a host's Endpoint: its headers and bearer token ride on every request,
under the check's own headers; a warming gateway is retried, a hard failure is not."""

from __future__ import annotations

from typing import Any

from genaiops_cli.core import smoke
from genaiops_cli.core.manifest.model import SmokeCheck
from genaiops_cli.core.ports import Endpoint


class Client:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.sent: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.sent.append({"method": method, "url": url, **kwargs})
        status = self.statuses.pop(0)
        return type("R", (), {"status_code": status, "headers": {}, "content": b"{}"})()


CHECK = SmokeCheck.model_validate(
    {
        "name": "health",
        "request": {"path": "/healthz", "headers": {"X-Check": "1"}},
        "expect": {"status": 200},
    }
)


def test_endpoint_headers_and_token_ride_on_the_request() -> None:
    endpoint = Endpoint(
        "https://agent.example", headers={"X-Check": "endpoint", "X-Agent": "a"}, token=lambda: "t0k"
    )
    headers = smoke.endpoint_headers(endpoint)
    assert headers == {"X-Check": "endpoint", "X-Agent": "a", "Authorization": "Bearer t0k"}
    client = Client([200])
    result = smoke.run_check(client, endpoint.url, CHECK, 0, headers=headers)  # type: ignore[arg-type]
    assert result.passed and result.url == "https://agent.example/healthz"
    assert client.sent[0]["headers"] == {"X-Check": "1", "X-Agent": "a", "Authorization": "Bearer t0k"}


def test_a_warming_gateway_is_retried_and_a_hard_failure_is_not() -> None:
    waits: list[float] = []
    client = Client([503, 502, 200])
    result = smoke.run_check(client, "https://a", CHECK, 30, sleep=waits.append)  # type: ignore[arg-type]
    assert result.passed and result.attempts == 3 and waits == [0.25, 0.5]
    hard = Client([500, 200])
    failed = smoke.run_check(hard, "https://a", CHECK, 30, sleep=waits.append)  # type: ignore[arg-type]
    assert not failed.passed and failed.attempts == 1 and failed.failures == ["status 500, expected 200"]
