"""Build records: what `build` produced and `push` published, consumed by deploy and promote.

Kept per project under `.genaiops/builds/<service>.json` — a local cache of facts that are also
true in the registry (the tag and digest), so losing it costs a rebuild check, nothing more."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

RECORDS_DIR = Path(".genaiops") / "builds"


@dataclass
class BuildRecord:
    service: str
    source_hash: str
    repository: str
    tag: str
    image: str  # full reference as tagged: [<login server>/]<repository>:<tag>
    status: str  # built | up_to_date | pushed | in_registry
    registry: str | None = None  # login server, once known
    digest: str | None = None  # sha256:… in the registry; the identity every later step uses
    image_id: str | None = None  # local engine image id
    git_commit: str | None = None
    built_at: str | None = None
    pushed_at: str | None = None
    extra_tags: list[str] = field(default_factory=list)

    @property
    def pinned(self) -> str | None:
        """`<login server>/<repository>@<digest>`: the immutable reference deployments use."""
        if self.registry and self.digest:
            return f"{self.registry}/{self.repository}@{self.digest}"
        return None

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["pinned"] = self.pinned
        return data


def records_dir(base_dir: Path) -> Path:
    return base_dir / RECORDS_DIR


def save_record(base_dir: Path, record: BuildRecord) -> Path:
    directory = records_dir(base_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{record.service}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2, sort_keys=True))
    tmp.replace(path)
    return path


def load_record(base_dir: Path, service: str) -> BuildRecord | None:
    path = records_dir(base_dir) / f"{service}.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        known = set(BuildRecord.__dataclass_fields__)
        return BuildRecord(**{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, TypeError):
        return None  # a damaged cache is rebuilt, not trusted
