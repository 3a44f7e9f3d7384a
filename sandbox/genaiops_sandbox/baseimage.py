"""An offline Python base image for machines that cannot pull `python:3.x-slim` (CI here).

Recipe measured in ../shared/RIG.md: download the Debian packages Python needs, unpack them with
`dpkg -x` into a root filesystem, add busybox applet links and a minimal /etc/passwd, and
`docker import` the tree. About 43 MB; the .debs are cached so a rebuild needs no network."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from genaiops_sandbox.errors import SandboxError

BASE_IMAGE = "genaiops/python-base:3.11"
PACKAGES = [
    "python3-minimal",
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "libc6",
    "libgcc-s1",
    "zlib1g",
    "libexpat1",
    "libssl3",
    "media-types",
    "libffi8",
    "libbz2-1.0",
    "liblzma5",
    "libuuid1",
    "libsqlite3-0",
    "libcrypt1",
    "busybox-static",
]
_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"


def _debs(cache_dir: Path) -> list[Path]:
    """The cached .debs, downloading the missing ones with apt (no root-owned sandbox user needed)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    missing = [p for p in PACKAGES if not list(cache_dir.glob(f"{p}_*.deb"))]
    if missing:
        result = subprocess.run(
            ["apt-get", "-o", "APT::Sandbox::User=root", "download", *missing],
            cwd=cache_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SandboxError(
                f"could not download the base image packages: {result.stderr.strip()[-500:]}",
                hint="run `apt-get update` (needs the Debian mirror), or pull a python image into the engine",
            )
    return [next(iter(sorted(cache_dir.glob(f"{p}_*.deb")))) for p in PACKAGES]


def _rootfs(debs: list[Path], root: Path) -> None:
    for deb in debs:
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True, capture_output=True)
    busybox = root / "bin" / "busybox"
    applets = subprocess.run(
        [str(busybox), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        link = root / "bin" / applet
        if not link.exists() and not link.is_symlink():
            link.symlink_to("busybox")
    python = root / "usr" / "bin" / "python"
    if not python.exists():
        python.symlink_to("python3")
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "passwd").write_text(_PASSWD)
    (etc / "group").write_text(_GROUP)
    for folder in ("tmp", "root", "app"):
        (root / folder).mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)


def _tar(root: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for entry in sorted(root.iterdir()):
            tar.add(str(entry), arcname=entry.name, filter=_numeric_owner)
    return buf.getvalue()


def _numeric_owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uname = info.gname = ""
    info.uid = info.gid = 0
    info.mtime = 0  # reproducible layer: a rebuilt base image has the same layer digest
    return info


def ensure_base_image(docker_host: str, cache_dir: Path, name: str = BASE_IMAGE) -> str:
    """Build `name` into the engine unless it is already there. Returns the image id."""
    import docker
    from docker.errors import ImageNotFound

    client = docker.DockerClient(base_url=docker_host, timeout=300)
    try:
        try:
            return str(client.images.get(name).id)
        except ImageNotFound:
            pass
        debs = _debs(cache_dir)
        with tempfile.TemporaryDirectory(prefix="genaiops-rootfs-", dir=os.environ.get("TMPDIR")) as tmp:
            root = Path(tmp) / "rootfs"
            root.mkdir()
            _rootfs(debs, root)
            data = _tar(root)
            shutil.rmtree(root, ignore_errors=True)
        repository, tag = name.rsplit(":", 1)
        client.api.import_image_from_data(
            data, repository=repository, tag=tag, changes=['CMD ["python3"]', "ENV LANG=C.UTF-8"]
        )
        return str(client.images.get(name).id)
    finally:
        client.close()
