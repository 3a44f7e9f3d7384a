"""Log Analytics queries through azure-monitor-query's LogsQueryClient (the LogsQuery port): the
same client and calls a user's own dashboards and scripts make. Against the stand-in, the endpoint
is its data plane (profile `logs_endpoint`), which answers a documented KQL subset."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.errors import ProvisionError
from genaiops_cli.providers.azure.clients import credential

if TYPE_CHECKING:
    from azure.monitor.query import LogsQueryClient


@lru_cache(maxsize=8)
def logs_client(target: AzureTarget) -> LogsQueryClient:
    from azure.monitor.query import LogsQueryClient

    return LogsQueryClient(
        credential(target),
        endpoint=target.logs_endpoint,
        audience=target.logs_audience,
        connection_verify=target.verify,
    )


class AzureLogs:
    """LogsQuery over one target's Log Analytics query endpoint."""

    def __init__(self, target: AzureTarget) -> None:
        self.target = target

    def query(self, scope: str, kql: str, window_seconds: float) -> list[dict[str, Any]]:
        from azure.core.exceptions import HttpResponseError
        from azure.monitor.query import LogsQueryStatus

        client = logs_client(self.target)
        span = dt.timedelta(seconds=window_seconds)
        try:
            if scope.startswith("/"):
                result = client.query_resource(scope, kql, timespan=span)
            else:
                result = client.query_workspace(scope, kql, timespan=span)
        except HttpResponseError as exc:
            raise ProvisionError(
                f"Log Analytics refused the query: {_message(exc)}",
                hint="check the KQL and the scope (docs/monitoring.md lists what the stand-in answers)",
                code="logs_query_failed",
            ) from None
        if result.status != LogsQueryStatus.SUCCESS:  # partial: the part that came back, and say so
            tables = result.partial_data or []
        else:
            tables = result.tables
        if not tables:
            return []
        table = tables[0]
        return [dict(zip(table.columns, list(row), strict=True)) for row in table.rows]


def _message(exc: Any) -> str:
    """Log Analytics puts what is wrong with the query in the inner error (a dict in azure-core)."""
    error = getattr(exc, "error", None)
    inner = getattr(error, "innererror", None)
    text = inner.get("message") if isinstance(inner, dict) else None
    text = text or getattr(error, "message", None) or str(exc)
    return str(text).splitlines()[0]
