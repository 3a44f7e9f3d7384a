"""`ContainerAppConsoleLogs_CL` for the stand-in's Log Analytics: what a Container App's revision
containers wrote to stdout/stderr, read from the Docker engine when a query or a log alert asks
(Azure ships the lines to the environment's workspace continuously). Column names are Azure's."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

TABLE = "ContainerAppConsoleLogs_CL"
CONTAINER_APP = "microsoft.app/containerapps"
LOOKBACK_SECONDS = 24 * 3600


def console_log_rows(api: Any, runtime: Any, scope: str) -> list[dict[str, Any]] | None:
    """Rows for a Container App scope (None for any other scope: the table is not there)."""
    record = api.store.get(scope)
    if record is None or str(record.get("type", "")).lower() != CONTAINER_APP:
        return None
    name = record["body"]["name"]
    domain = api.app_domain(record)
    environment = str(record["body"].get("properties", {}).get("environmentId", "")).rsplit("/", 1)[-1]
    rows = []
    for entry in runtime.console_logs(name, domain, time.time() - LOOKBACK_SECONDS):
        try:
            stamp = dt.datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
        except ValueError:
            continue
        rows.append(
            {
                "TimeGenerated": stamp.astimezone(dt.UTC),
                "ContainerAppName_s": name,
                "RevisionName_s": entry["revision"],
                "ContainerGroupName_s": entry["replica"],
                "ContainerId_s": entry["container_id"],
                "ContainerImage_s": entry["image"],
                "ContainerName_s": name,
                "EnvironmentName_s": environment,
                "Stream_s": entry["stream"],
                "Log_s": entry["log"],
                "_ResourceId": record["id"].lower(),
            }
        )
    rows.sort(key=lambda r: r["TimeGenerated"])
    return rows
