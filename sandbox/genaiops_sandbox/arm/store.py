"""The ARM resource store: resources and operation records keyed by lower-cased id (ARM ids are
case-insensitive), persisted as one JSON file so state survives daemon restarts."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

STATE_FILE = "arm-state.json"


class ResourceStore:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._path = state_dir / STATE_FILE
        self.lock = threading.RLock()  # held by handlers for a whole read-modify-write
        self._data: dict[str, dict[str, Any]] = {"resources": {}, "operations": {}}
        if self._path.exists():
            loaded = json.loads(self._path.read_text())
            self._data["resources"].update(loaded.get("resources", {}))
            self._data["operations"].update(loaded.get("operations", {}))

    def _save(self) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, sort_keys=True))
        tmp.replace(self._path)

    # resources -------------------------------------------------------------------------------
    def get(self, resource_id: str) -> dict[str, Any] | None:
        with self.lock:
            found = self._data["resources"].get(resource_id.lower())
            return copy.deepcopy(found) if found is not None else None

    def put(self, resource_id: str, record: dict[str, Any]) -> None:
        with self.lock:
            self._data["resources"][resource_id.lower()] = copy.deepcopy(record)
            self._save()

    def delete(self, resource_id: str) -> bool:
        """Delete the resource and everything nested under its id."""
        with self.lock:
            key = resource_id.lower()
            doomed = [k for k in self._data["resources"] if k == key or k.startswith(key + "/")]
            for k in doomed:
                del self._data["resources"][k]
            if doomed:
                self._save()
            return bool(doomed)

    def list(self, prefix: str, resource_type: str) -> list[dict[str, Any]]:
        """Resources of `resource_type` whose id starts with `prefix` (both case-insensitive)."""
        with self.lock:
            p = prefix.lower().rstrip("/") + "/"
            t = resource_type.lower()
            return [
                copy.deepcopy(r)
                for k, r in sorted(self._data["resources"].items())
                if k.startswith(p) and r.get("type", "").lower() == t
            ]

    def all(self) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(r) for r in self._data["resources"].values()]

    # operations ------------------------------------------------------------------------------
    def get_operation(self, op_id: str) -> dict[str, Any] | None:
        with self.lock:
            found = self._data["operations"].get(op_id.lower())
            return copy.deepcopy(found) if found is not None else None

    def put_operation(self, op_id: str, record: dict[str, Any]) -> None:
        with self.lock:
            self._data["operations"][op_id.lower()] = copy.deepcopy(record)
            self._save()
