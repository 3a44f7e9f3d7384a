"""Scheduled Container Apps jobs (`triggerType: Schedule`): the stand-in starts an execution at
every minute its `scheduleTriggerConfig.cronExpression` names, in UTC, as Azure does.

A scheduler thread ticks every few seconds (GENAIOPS_SANDBOX_JOB_TICK, default 5 s) and asks
`ArmApi.schedule_tick(now)`; each (job, minute) fires at most once, so a tick rate faster than a
minute never starts a run twice, and a daemon that was down for a minute does not catch up (Azure
does not either). Tests may also call the tick for a given minute through the loopback-only admin
route `POST /sandbox/jobs/tick {"at": "<ISO time>"}` — the same code path, on a chosen clock."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from typing import Any

log = logging.getLogger("genaiops.sandbox.jobs")

TICK_ENV = "GENAIOPS_SANDBOX_JOB_TICK"
DEFAULT_TICK = 5.0
FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
NAMES = (
    {},
    {},
    {},
    {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)},
    {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())},
)


def _value(text: str, index: int) -> int:
    named = NAMES[index].get(text.upper())
    return named if named is not None else int(text)


def _field(text: str, index: int) -> set[int]:
    low, high = FIELDS[index]
    out: set[int] = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _value(a, index), _value(b, index)
        else:
            first = _value(base, index)
            last = high if step else first
        out.update(range(first, last + 1, int(step or 1)))
    return out


def cron_fields(expression: str) -> list[set[int]] | None:
    """The five fields' allowed values, or None when the expression is not 5-field cron."""
    parts = expression.split()
    if len(parts) != 5 or re.search(r"[?LW#]", expression):
        return None
    try:
        return [_field(p, i) for i, p in enumerate(parts)]
    except ValueError:
        return None


def due(expression: str, at: dt.datetime) -> bool:
    fields = cron_fields(expression)
    if fields is None:
        return False
    minute, hour, dom, month, dow = fields
    parts = expression.split()
    weekday_ok = at.isoweekday() % 7 in {d % 7 for d in dow}
    if parts[2] != "*" and parts[4] != "*":
        day_ok = at.day in dom or weekday_ok
    else:
        day_ok = at.day in dom and weekday_ok
    return at.minute in minute and at.hour in hour and at.month in month and day_ok


class JobScheduler:
    """The thread that ticks `api.schedule_tick` (see the module docstring)."""

    def __init__(self, api: Any, tick: float = DEFAULT_TICK) -> None:
        self.api = api
        self.tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> JobScheduler:
        self._thread = threading.Thread(target=self._loop, name="job-scheduler", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.api.schedule_tick(dt.datetime.now(dt.UTC))
            except Exception:  # one bad job never stops the schedule of the others
                log.exception("job scheduler tick failed")
