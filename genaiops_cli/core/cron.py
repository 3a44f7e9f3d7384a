"""Cron expressions as Azure Container Apps jobs accept them (`scheduleTriggerConfig.cronExpression`):
five fields — minute, hour, day of month, month, day of week — evaluated in UTC. Each field is `*`,
a number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of those; months and weekdays also
by name (JAN-DEC, SUN-SAT). Quartz extensions (`?`, `L`, `W`, `#`, a seconds field) are not cron.

`check` explains the first problem in words a person can act on; `matches` says whether a minute is
on the schedule (used by tests and `genaiops job status` to show the next run)."""

from __future__ import annotations

import datetime as dt
import re

FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),  # 0 and 7 are both Sunday
)
MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
WEEKDAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}
NAMES = {3: MONTHS, 4: WEEKDAYS}
EXAMPLES = "e.g. `0 2 * * *` (02:00 UTC daily) or `*/15 * * * *` (every 15 minutes)"


class CronError(ValueError):
    pass


def _value(text: str, index: int) -> int:
    name, low, high = FIELDS[index]
    upper = text.upper()
    if upper in NAMES.get(index, {}):
        return NAMES[index][upper]
    if not text.isdigit():
        raise CronError(f"{name} field: `{text}` is not a number" + (" or a name" if index in NAMES else ""))
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{name} field: {value} is outside {low}-{high}")
    return value


def _field(text: str, index: int) -> set[int]:
    name, low, high = FIELDS[index]
    out: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{name} field: empty item in `{text}`")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{name} field: step `/{step_text}` must be a positive number")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _value(a, index), _value(b, index)
            if first > last:
                raise CronError(f"{name} field: range `{base}` runs backwards")
        else:
            first = _value(base, index)
            last = high if step_text else first
        out.update(range(first, last + 1, step))
    return out


def parse(expression: str) -> list[set[int]]:
    """The allowed values of each of the five fields. Raises CronError."""
    if re.search(r"[?LW#]", expression):
        raise CronError(
            "`?`, `L`, `W` and `#` are Quartz extensions; Container Apps jobs take standard 5-field cron"
        )
    parts = expression.split()
    if len(parts) != 5:
        hint = " (a seconds field is not supported)" if len(parts) == 6 else ""
        raise CronError(f"a cron expression has 5 fields, this one has {len(parts)}{hint}")
    return [_field(p, i) for i, p in enumerate(parts)]


def check(expression: str) -> str | None:
    """None when `expression` is valid, else what is wrong with it."""
    try:
        parse(expression)
    except CronError as exc:
        return str(exc)
    return None


def matches(expression: str, at: dt.datetime) -> bool:
    """Whether the minute `at` (UTC) is on the schedule."""
    return _on(parse(expression), expression.split(), at.astimezone(dt.UTC))


def _on(fields: list[set[int]], parts: list[str], at: dt.datetime) -> bool:
    minute, hour, dom, month, dow = fields
    weekday = at.isoweekday() % 7
    in_dow = weekday in {d % 7 for d in dow}
    if parts[2] != "*" and parts[4] != "*":  # standard cron: either day field may match
        day_ok = at.day in dom or in_dow
    else:
        day_ok = at.day in dom and in_dow
    return at.minute in minute and at.hour in hour and at.month in month and day_ok


def next_run(expression: str, after: dt.datetime, horizon_days: int = 366) -> dt.datetime | None:
    """The first minute strictly after `after` on the schedule (None within a year: never)."""
    fields, parts = parse(expression), expression.split()
    at = after.astimezone(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    end = at + dt.timedelta(days=horizon_days)
    while at < end:
        if at.month not in fields[3]:
            at = (at.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
            continue
        if _on(fields, parts, at):
            return at
        at += dt.timedelta(minutes=1)
    return None
