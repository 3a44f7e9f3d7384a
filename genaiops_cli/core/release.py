"""Release identity: what goes live together, named by a hash of its canonical form.

A release is every service's image digest plus the configuration the manifest gives the service
(env vars, secret references, resources, ingress, scale), the gate definitions (smoke checks and
evaluations) and the SHA-256 of every evaluation dataset. Environment overrides are *not* part of
the release: they belong to the environment and are recorded on each deployment, so the same
release keeps one id from dev to prod. Same inputs → same id on any machine (canonical JSON:
sorted keys, no whitespace, UTF-8)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import Manifest, Service

RELEASE_SCHEMA = "genaiops.release/v1"
ID_LENGTH = 12


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def short_hash(data: Any, length: int = ID_LENGTH) -> str:
    return hashlib.sha256(canonical_json(data)).hexdigest()[:length]


def service_config(service: Service) -> dict[str, Any]:
    """The deployed configuration of one service, as JSON (secrets by reference only)."""
    dumped = service.model_dump(mode="json", by_alias=True)
    keep = ("host", "repository", "image", "ingress", "resources", "scale", "env", "secrets", "agent")
    return {k: dumped.get(k) for k in keep if dumped.get(k) not in (None, {}, [])}


def gate_definitions(manifest: Manifest, dataset_hashes: dict[str, str]) -> dict[str, Any]:
    smoke = {
        name: [c.model_dump(mode="json", by_alias=True) for c in svc.smoke]
        for name, svc in sorted(manifest.services.items())
        if svc.smoke
    }
    evaluations = {
        name: {
            "definition": ev.model_dump(mode="json", by_alias=True),
            "dataset_sha256": dataset_hashes.get(name),
        }
        for name, ev in sorted(manifest.evaluations.items())
    }
    return {"smoke": smoke, "evaluations": evaluations}


def dataset_hashes(manifest: Manifest) -> dict[str, str]:
    """SHA-256 of each evaluation's dataset file ("missing" when it cannot be read)."""
    out: dict[str, str] = {}
    for name, ev in manifest.evaluations.items():
        if ev.dataset.startswith("foundry:"):  # content-addressed: the reference names the bytes
            out[name] = ev.dataset  # (`@latest` is pinned in the gate's evidence when it runs)
            continue
        path = Path(manifest.base_dir) / ev.dataset
        try:
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            out[name] = "missing"
    return out


def release_spec(
    manifest: Manifest, digests: dict[str, str], hashes: dict[str, str] | None = None
) -> dict[str, Any]:
    """The canonical release document for these service digests and the manifest's configuration."""
    services: dict[str, Any] = {}
    for name, digest in sorted(digests.items()):
        services[name] = {"digest": digest, "config": service_config(manifest.services[name])}
    return {
        "schema": RELEASE_SCHEMA,
        "project": manifest.name,
        "services": services,
        "gates": gate_definitions(manifest, hashes if hashes is not None else dataset_hashes(manifest)),
    }


def release_id(spec: dict[str, Any]) -> str:
    return short_hash(spec)


def digest_of(image: str | None) -> str | None:
    """`…@sha256:abc` → `sha256:abc`; None for a tag-only reference."""
    if not image or "@" not in image:
        return None
    return image.rsplit("@", 1)[1]


def spec_delta(a: dict[str, Any] | None, b: dict[str, Any] | None, prefix: str = "") -> list[dict[str, Any]]:
    """Leaf-level differences between two JSON documents: [{path, a, b}]."""
    out: list[dict[str, Any]] = []
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            out.extend(spec_delta(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else str(key)))
    elif a != b:
        out.append({"path": prefix, "a": a, "b": b})
    return out
