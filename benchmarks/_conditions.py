"""What every benchmark prints beside its figures: the machine's load while it ran (2 shared cores)."""

from __future__ import annotations

import os
from pathlib import Path


def load() -> str:
    """`uptime`'s load averages (1, 5, 15 min) and the core count, as one short phrase."""
    try:
        one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return f"load unknown, {os.cpu_count()} cores"
    return f"load average {one} / {five} / {fifteen} (1/5/15 min), {os.cpu_count()} cores"
