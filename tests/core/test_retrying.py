"""The one retry library wrapper (core/retrying.py): polling to a deadline, backoff with hints."""

from __future__ import annotations

import pytest

from genaiops_cli.core.retrying import backoff, poll
from genaiops_cli.errors import DeployError


class Clock:
    """A fake sleep that records the waits (tenacity measures time with the real clock, so the
    deadlines below are generous and the waits are what is checked)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_poll_returns_the_first_ready_value_and_propagates_a_failure() -> None:
    answers = iter([None, None, "ready"])
    clock = Clock()
    assert (
        poll(lambda: next(answers), timeout=60, interval=1, on_timeout=RuntimeError, sleep=clock.sleep)
        == "ready"
    )
    assert clock.waits == [0.1, 0.2]  # a tenth of the interval first: most waits end within a moment

    def broken() -> None:
        raise DeployError("revision failed")

    with pytest.raises(DeployError, match="revision failed"):
        poll(broken, timeout=60, interval=1, on_timeout=RuntimeError, sleep=clock.sleep)


def test_poll_pauses_double_up_to_the_interval() -> None:
    answers = iter([None] * 7 + ["ready"])
    clock = Clock()
    poll(
        lambda: next(answers), timeout=60, interval=2, first=0.25, on_timeout=RuntimeError, sleep=clock.sleep
    )
    assert clock.waits == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0]


def test_poll_gives_up_with_the_callers_error() -> None:
    with pytest.raises(DeployError, match="not ready"):
        poll(lambda: None, timeout=0.05, interval=0.01, on_timeout=lambda: DeployError("not ready"))


def test_backoff_doubles_honours_hints_and_returns_the_last_answer() -> None:
    answers = iter([503, 503, 429, 200])
    clock = Clock()
    last, tries = backoff(
        lambda: next(answers),
        again=lambda status: status != 200,
        attempts=10,
        first=0.25,
        most=4,
        wait_hint=lambda status: 7.0 if status == 429 else None,
        sleep=clock.sleep,
    )
    assert (last, tries) == (200, 4)
    assert clock.waits == [0.25, 0.5, 7.0]

    stuck, tries = backoff(lambda: 503, again=lambda s: True, attempts=3, sleep=clock.sleep)
    assert (stuck, tries) == (503, 3)


def test_backoff_retries_listed_exceptions_only() -> None:
    calls = {"n": 0}

    def flaky() -> int:
        calls["n"] += 1
        raise ConnectionError("refused")

    last, tries = backoff(flaky, on=(ConnectionError,), attempts=3, sleep=Clock().sleep)
    assert isinstance(last, ConnectionError) and tries == 3

    def wrong() -> int:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        backoff(wrong, on=(ConnectionError,), attempts=3, sleep=Clock().sleep)


def test_backoff_stops_before_a_wait_would_pass_the_deadline() -> None:
    clock = Clock()
    last, tries = backoff(lambda: 503, again=lambda s: True, within=1.0, first=0.25, sleep=clock.sleep)
    assert last == 503 and clock.waits == [0.25, 0.5] and tries == 3
