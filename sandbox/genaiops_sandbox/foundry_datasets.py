"""Dataset versions of the stand-in's Foundry projects, as azure-ai-projects 2.10 calls them
(`AIProjectClient.datasets`, api-version v1): a registry of named, versioned references to data
(`dataUri`), no bytes of its own.

The routes and shapes follow the service's TypeSpec (`VersionedOperations<DatasetVersion>` in
specification/ai-foundry/data-plane/Foundry/src/servicepatterns.tsp and datasets/models.tsp) and the
SDK's models: create_or_update is `PATCH …/datasets/{name}/versions/{version}` with
`application/merge-patch+json`, answering 201 when it creates and 200 when it updates; get 200;
delete 204 whether or not the version existed; both lists are Azure.Core pages (`value`,
`nextLink`). Errors are Azure.Core errors (`{"error": {"code", "message"}}` plus the
`x-ms-error-code` header). What the stand-in decides on its own (validation limits, `latest`,
immutability of `dataUri`, the id format) is in docs/sandbox-foundry-differences.md."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from .foundry import Answer, FoundryError

TYPES = {"uri_file", "uri_folder"}
WRITABLE = {"type", "dataUri", "connectionName", "description", "tags"}
READ_ONLY = {"id", "name", "version", "isReference"}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MERGE_PATCH = "application/merge-patch+json"
PAGE = 50  # versions per page (Azure's page size is not documented)


def _error(status: int, code: str, message: str) -> FoundryError:
    return FoundryError(status, code, message, {"x-ms-error-code": code})


def _bad(message: str) -> FoundryError:
    return _error(400, "UserError", message)


class FoundryDatasets:
    """The datasets of every project, kept in the Foundry plane's state (one JSON file) under the
    project's key, so they survive a restart with the agents."""

    def __init__(self, plane: Any) -> None:
        self._plane = plane

    def _sets(self, account: str, project: str) -> dict[str, dict[str, Any]]:
        return self._plane.project_state(account, project).setdefault("datasets", {})

    # ------------------------------------------------------------------ writes
    def create_or_update(
        self, account: str, project: str, name: str, version: str, body: Any, content_type: str
    ) -> Answer:
        if content_type.split(";")[0].strip().lower() != MERGE_PATCH:
            raise _error(415, "UnsupportedMediaType", f"Content-Type must be {MERGE_PATCH}.")
        _check_ids(name, version)
        fields = _check_body(body)
        with self._plane.lock:
            versions = self._sets(account, project).setdefault(name, {})
            existing = versions.get(version)
            if existing is None:
                for key in ("type", "dataUri"):
                    if key not in fields:
                        raise _bad(f"'{key}' is required to create version '{version}' of dataset '{name}'.")
                record = {"name": name, "version": version, "created": time.time(), **fields}
                versions[version] = record
                status = 201
            else:
                for key in ("type", "dataUri", "connectionName"):
                    if key in fields and fields[key] != existing.get(key):
                        raise _error(
                            409,
                            "Conflict",
                            f"Version '{version}' of dataset '{name}' exists and its '{key}' cannot "
                            "change: a dataset version is immutable; create a new version.",
                        )
                for key in ("description", "tags"):
                    if key in fields:
                        existing[key] = _merge(existing.get(key), fields[key])
                record, status = existing, 200
            self._plane.save()
            return Answer(status, _render(account, project, record))

    def delete(self, account: str, project: str, name: str, version: str) -> Answer:
        with self._plane.lock:
            versions = self._sets(account, project).get(name) or {}
            if versions.pop(version, None) is not None:
                if not versions:
                    del self._sets(account, project)[name]
                self._plane.save()
        return Answer(204)

    # ------------------------------------------------------------------ reads
    def get(self, account: str, project: str, name: str, version: str) -> Answer:
        with self._plane.lock:
            record = (self._sets(account, project).get(name) or {}).get(version)
            if record is None:
                raise _error(404, "NotFound", f"Version '{version}' of dataset '{name}' was not found.")
            return Answer(200, _render(account, project, record))

    def list_versions(self, account: str, project: str, name: str, query: dict[str, str], url: str) -> Answer:
        with self._plane.lock:
            records = sorted(
                (self._sets(account, project).get(name) or {}).values(), key=lambda r: r["created"]
            )
            items = [_render(account, project, r) for r in records]
        return Answer(200, _page(items, query, url))

    def list_latest(self, account: str, project: str, query: dict[str, str], url: str) -> Answer:
        """The most recently created version of each dataset, by name."""
        with self._plane.lock:
            sets = self._sets(account, project)
            items = [
                _render(account, project, max(sets[n].values(), key=lambda r: r["created"]))
                for n in sorted(sets)
                if sets[n]
            ]
        return Answer(200, _page(items, query, url))


def _check_ids(name: str, version: str) -> None:
    if not NAME_RE.match(name):
        raise _bad(f"Dataset name '{name}' is invalid: letters, digits, '.', '_' or '-', up to 255.")
    if not VERSION_RE.match(version):
        raise _bad(f"Version '{version}' is invalid: letters, digits, '.', '_' or '-', up to 128.")


def _check_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object (a DatasetVersion).")
    read_only = sorted(READ_ONLY & set(body))
    if read_only:
        raise _bad(f"{', '.join(read_only)}: read-only, not accepted in a request.")
    unknown = sorted(set(body) - WRITABLE)
    if unknown:
        raise _bad(f"Unknown DatasetVersion field(s): {', '.join(unknown)}.")
    if "type" in body and body["type"] not in TYPES:
        raise _bad(f"type '{body['type']}' is not one of {', '.join(sorted(TYPES))}.")
    if "dataUri" in body:
        _check_uri(body["dataUri"])
    for key in ("connectionName", "description"):
        if key in body and not isinstance(body[key], str):
            raise _bad(f"{key} must be a string.")
    tags = body.get("tags")
    if tags is not None and (
        not isinstance(tags, dict) or not all(isinstance(v, (str, type(None))) for v in tags.values())
    ):
        raise _bad("tags must map names to strings.")
    return {k: v for k, v in body.items() if v is not None}


def _check_uri(uri: Any) -> None:
    if not isinstance(uri, str) or not uri:
        raise _bad("dataUri must be a non-empty string.")
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "azureml") or not parts.netloc:
        raise _bad(f"dataUri '{uri[:80]}' must be an https:// (or azureml://) URI.")
    if parts.query or parts.fragment:
        raise _bad(
            "dataUri carries a query string: a dataset version would keep it (e.g. a SAS token) "
            "for everyone who reads the project; register the URL without it."
        )


def _merge(old: Any, new: Any) -> Any:
    """JSON merge patch (RFC 7386) of one field: objects merge key by key, null removes a key."""
    if not isinstance(new, dict) or not isinstance(old, dict):
        return new
    merged = dict(old)
    for key, value in new.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _render(account: str, project: str, record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"azureai://accounts/{account}/projects/{project}/data/{record['name']}/versions/"
        f"{record['version']}",
        "name": record["name"],
        "version": record["version"],
        "type": record["type"],
        "dataUri": record["dataUri"],
        "isReference": True,  # the stand-in never holds or deletes the bytes behind dataUri
    }
    for key in ("connectionName", "description", "tags"):
        if record.get(key) is not None:
            out[key] = record[key]
    return out


def _page(items: list[dict[str, Any]], query: dict[str, str], url: str) -> dict[str, Any]:
    """One Azure.Core page: `value`, and `nextLink` (the full URL of the next page) while more remain.
    The SDK re-adds api-version to a nextLink and keeps its other query parameters."""
    try:
        skip = max(0, int(query.get("skip") or 0))
    except ValueError:
        raise _bad("skip must be a non-negative integer.") from None
    page: dict[str, Any] = {"value": items[skip : skip + PAGE]}
    if skip + PAGE < len(items):
        page["nextLink"] = (
            f"{url}?{urlencode({'api-version': query.get('api-version', ''), 'skip': skip + PAGE})}"
        )
    return page
