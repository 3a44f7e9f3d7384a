"""The ledger as OCI artifacts in an environment's registry (repository `genaiops/ledger`).

Each document is one JSON blob layer (canonical bytes, kept exactly as written) under an OCI image
manifest whose `artifactType` names the record kind and whose config is the OCI empty descriptor.
Tags are the keys (see core/ledger.py). Any client with AcrPull can read the history; writing needs
AcrPush — the same rights a deployment already needs."""

from __future__ import annotations

import hashlib
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.core.ledger import ARTIFACT_TYPES, LEDGER_REPOSITORY, iso
from genaiops_cli.core.release import canonical_json
from genaiops_cli.providers.azure.registry_raw import raw_registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY = b"{}"
EMPTY_DESCRIPTOR = {
    "mediaType": "application/vnd.oci.empty.v1+json",
    "digest": "sha256:" + hashlib.sha256(EMPTY).hexdigest(),
    "size": len(EMPTY),
}


class RegistryLedgerStore:
    def __init__(self, target: AzureTarget, login_server: str, repository: str = LEDGER_REPOSITORY) -> None:
        self.raw = raw_registry(target, login_server)
        self.repository = repository
        self.location = f"{login_server}/{repository}"
        self._empty_uploaded = False

    def put(self, tag: str, kind: str, document: dict[str, Any]) -> str:
        blob = canonical_json(document)
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        if not self._empty_uploaded:
            if not self.raw.has_blob(self.repository, EMPTY_DESCRIPTOR["digest"]):
                self.raw.put_blob(self.repository, EMPTY_DESCRIPTOR["digest"], EMPTY)
            self._empty_uploaded = True
        self.raw.put_blob(self.repository, digest, blob)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": ARTIFACT_TYPES[kind],
            "config": EMPTY_DESCRIPTOR,
            "layers": [
                {
                    "mediaType": "application/json",
                    "digest": digest,
                    "size": len(blob),
                    "annotations": {"org.opencontainers.image.title": f"{tag}.json"},
                }
            ],
            "annotations": {"org.opencontainers.image.created": iso(), "dev.genaiops.ledger.kind": kind},
        }
        return self.raw.put_manifest(self.repository, tag, canonical_json(manifest), OCI_MANIFEST)

    def get(self, tag: str) -> dict[str, Any] | None:
        import json

        found = self.raw.get_manifest(self.repository, tag)
        if found is None:
            return None
        manifest = json.loads(found[0])
        layers = manifest.get("layers") or []
        if not layers:
            return None
        return json.loads(self.raw.get_blob(self.repository, layers[0]["digest"]))

    def tags(self, prefix: str = "") -> list[str]:
        return [n for n in self.raw.tags(self.repository) if n.startswith(prefix)]
