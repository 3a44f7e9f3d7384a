"""The stand-in's container registries: one real CNCF distribution process per registry resource,
each behind its own ACR-shaped HTTPS front (acr_front.py) running as a thread of the daemon.

State per registry under `<state_dir>/registries/<name>/`: `config.yml`, `storage/` (the blobs),
`ports.json` (front and backend ports — the front port IS the login server, so it is kept stable
across daemon restarts), `properties.json` (ACR locks), `registry.pid`, `registry.log`."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from genaiops_sandbox.acr_front import (
    INDEX_TYPES,
    AcrFront,
    Backend,
    PropertiesStore,
    RequestLog,
    free_port,
    manifest_digest,
    port_is_free,
)
from genaiops_sandbox.ca import ensure_ca, issue_server_cert
from genaiops_sandbox.errors import SandboxError
from genaiops_sandbox.faults import FaultTable
from genaiops_sandbox.tokens import TokenIssuer

REGISTRY_BINARIES = ("docker-registry", "registry")
INSTALL_HINT = "install CNCF distribution (Debian: `apt-get install -y docker-registry`)"
CERT_NAME = "registry"
CERT_HOSTS = ["127.0.0.1", "localhost"]
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RegistryEndpoint:
    name: str
    login_server: str  # "127.0.0.1:<front port>" (Azure: "<name>.azurecr.io")
    backend_url: str  # https://127.0.0.1:<port> of the distribution process (no auth; in-process use only)


class RegistryImportError(Exception):
    """A failed server-side import, with an Azure-like error code for the ARM layer to report."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class _Registry:
    name: str
    dir: Path
    front: AcrFront
    backend: Backend
    process: subprocess.Popen[bytes] | None
    log: RequestLog

    @property
    def endpoint(self) -> RegistryEndpoint:
        return RegistryEndpoint(self.name, self.front.login_server, self.backend.url)


def _binary() -> str:
    for name in REGISTRY_BINARIES:
        found = shutil.which(name)
        if found:
            return found
    raise SandboxError("no CNCF distribution binary (docker-registry / registry) on PATH", hint=INSTALL_HINT)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _split_image(image: str) -> tuple[str, str]:
    """'repo:tag' / 'repo@sha256:…' / 'repo' → (repo, reference)."""
    if "@" in image:
        repo, ref = image.split("@", 1)
        return repo, ref
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = image.rsplit(":", 1)
        return repo, tag
    return image, "latest"


class RegistryFleet:
    def __init__(
        self, state_dir: Path, tokens: TokenIssuer, tls_dir: Path, faults: FaultTable | None = None
    ) -> None:
        self.state_dir = state_dir
        self.faults = faults  # the stand-in's fault table, applied by every front
        self.root = state_dir / "registries"
        self.tokens = tokens
        self.tls_dir = tls_dir
        self._registries: dict[str, _Registry] = {}
        self._lock = threading.RLock()
        self._ca = ensure_ca(tls_dir).cert

    # ---- lifecycle

    def ensure(self, name: str) -> RegistryEndpoint:
        """Start (or return) registry `name`. Idempotent; safe from several threads."""
        with self._lock:
            existing = self._registries.get(name)
            if existing and existing.process is not None and existing.process.poll() is None:
                return existing.endpoint
            if existing:  # the backend died under us: restart it behind the same front
                existing.front.stop()
                self._registries.pop(name)
            reg = self._start(name)
            self._registries[name] = reg
            return reg.endpoint

    def get(self, name: str) -> RegistryEndpoint | None:
        with self._lock:
            reg = self._registries.get(name)
            return reg.endpoint if reg else None

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._registries)

    def by_login_server(self, login_server: str) -> str | None:
        """Registry name for a login server (or a name), as importImage sources are given."""
        wanted = login_server.removeprefix("https://").rstrip("/")
        with self._lock:
            for name, reg in self._registries.items():
                if wanted in (reg.front.login_server, name):
                    return name
        return None

    def request_log(self, name: str) -> RequestLog:
        with self._lock:
            return self._registries[name].log

    def delete(self, name: str) -> None:
        with self._lock:
            reg = self._registries.pop(name, None)
            if reg:
                self._stop(reg)
            shutil.rmtree(self.root / name, ignore_errors=True)

    def close(self) -> None:
        """Stop every registry at once: each backend may take seconds to drain after SIGTERM, and
        one after the other that added up (`sandbox down` took 16 s with three registries)."""
        with self._lock:
            regs = list(self._registries.values())
            for reg in regs:
                if reg.process is not None and reg.process.poll() is None:
                    reg.process.terminate()
            for reg in regs:
                self._stop(reg)
            self._registries.clear()

    def mint_refresh_token(self, name: str, subject: str = "sandbox-runtime", ttl: int = 24 * 3600) -> str:
        """A registry refresh token for in-process callers (the runtime hands it to the Docker engine
        as the password of user 00000000-0000-0000-0000-000000000000, as `az acr login` does)."""
        with self._lock:
            reg = self._registries.get(name)
        if reg is None:
            raise SandboxError(f"registry {name!r} is not running in the sandbox")
        return reg.front.mint_refresh_token(subject, ttl)

    # ---- start / stop

    def _ports(self, reg_dir: Path) -> dict[str, int]:
        path = reg_dir / "ports.json"
        ports = json.loads(path.read_text()) if path.exists() else {}
        if not ports.get("front"):
            ports["front"] = free_port()
        if not ports.get("backend") or not port_is_free(ports["backend"]):
            ports["backend"] = free_port()
            while ports["backend"] == ports["front"]:
                ports["backend"] = free_port()
        path.write_text(json.dumps(ports))
        return ports

    def _kill_stale(self, reg_dir: Path) -> None:
        """A backend left behind by a daemon that died: stop it if (and only if) it runs our config."""
        pidfile = reg_dir / "registry.pid"
        if not pidfile.exists():
            return
        try:
            pid = int(pidfile.read_text().strip())
        except ValueError:
            pid = 0
        if pid and _pid_alive(pid) and str(reg_dir / "config.yml") in _cmdline(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        pidfile.unlink(missing_ok=True)

    def _start(self, name: str) -> _Registry:
        binary = _binary()
        reg_dir = self.root / name
        storage = reg_dir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        self._kill_stale(reg_dir)
        ports = self._ports(reg_dir)
        cert = issue_server_cert(self.tls_dir, CERT_NAME, CERT_HOSTS)
        secret_file = reg_dir / "http-secret"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_hex(16))
            secret_file.chmod(0o600)
        config = reg_dir / "config.yml"
        # JSON is YAML: no yaml dependency needed to write the config.
        config.write_text(
            json.dumps(
                {
                    "version": 0.1,
                    "log": {"level": "warn", "accesslog": {"disabled": True}},
                    "storage": {
                        "filesystem": {"rootdirectory": str(storage)},
                        "delete": {"enabled": True},
                        "maintenance": {"uploadpurging": {"enabled": False}},
                    },
                    "http": {
                        "addr": f"127.0.0.1:{ports['backend']}",
                        "relativeurls": True,
                        "secret": secret_file.read_text().strip(),
                        "tls": {"certificate": str(cert.cert), "key": str(cert.key)},
                    },
                },
                indent=1,
            )
        )
        log_path = reg_dir / "registry.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [binary, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**os.environ, "OTEL_SDK_DISABLED": "true"},
            )
        (reg_dir / "registry.pid").write_text(str(proc.pid))
        backend = Backend(f"https://127.0.0.1:{ports['backend']}", self._ca, storage)
        try:
            self._wait_backend(backend, proc, log_path)
            if not port_is_free(ports["front"]):
                raise SandboxError(
                    f"port {ports['front']} of registry {name!r}'s login server is taken by another process",
                    hint="stop whatever listens there, or `genaiops sandbox reset` to get new ports",
                )
            log_ = RequestLog()
            front = AcrFront(
                name=name,
                port=ports["front"],
                backend=backend,
                store=PropertiesStore(reg_dir / "properties.json"),
                tokens=self.tokens,
                cert_file=cert.cert,
                key_file=cert.key,
                log=log_,
                faults=self.faults,
            )
        except BaseException:
            self._terminate(proc)
            raise
        front.start()
        return _Registry(name, reg_dir, front, backend, proc, log_)

    @staticmethod
    def _wait_backend(
        backend: Backend, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 10.0
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                status, _, _ = backend.request("GET", "/v2/")
                if status == 200:
                    return
            except (OSError, ssl.SSLError):
                pass
            time.sleep(0.03)
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-10:]) if log_path.exists() else ""
        raise SandboxError(f"the registry backend did not start; last log lines:\n{tail}", hint=INSTALL_HINT)

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes] | None) -> None:
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def _stop(self, reg: _Registry) -> None:
        reg.front.stop()
        self._terminate(reg.process)
        (reg.dir / "registry.pid").unlink(missing_ok=True)

    # ---- importImage

    def import_image(
        self,
        target: str,
        source_login_server: str,
        source_image: str,
        target_tags: Iterable[str] = (),
        force: bool = False,
        untagged_target_repositories: Iterable[str] = (),
    ) -> str:
        """Server-side copy between stand-in registries, as Registries_ImportImage does: missing blobs
        only, then the manifest's original bytes (children of an index first), so the digest is
        preserved. Returns the digest. Raises RegistryImportError(code, message)."""
        source_name = self.by_login_server(source_login_server)
        with self._lock:
            dst = self._registries.get(target)
            src = self._registries.get(source_name) if source_name else None
        if dst is None:
            raise RegistryImportError("ResourceNotFound", f"target registry {target!r} does not exist")
        if src is None:
            raise RegistryImportError(
                "InvalidSourceRegistry", f"source registry {source_login_server!r} is not a sandbox registry"
            )
        src_repo, src_ref = _split_image(source_image)
        copier = _Copier(src, dst)
        top = copier.fetch_manifest(src_repo, src_ref)
        if top is None:
            raise RegistryImportError(
                "ImageNotFound",
                f"image '{source_image}' not found in source registry {src.front.login_server}",
            )
        raw, media_type, digest = top
        tags = [_split_image(t) for t in target_tags]
        if not tags and not list(untagged_target_repositories):
            tags = [(src_repo, src_ref)] if not src_ref.startswith("sha256:") else []
            if not tags:
                raise RegistryImportError(
                    "InvalidParameter", "importing by digest needs targetTags or untaggedTargetRepositories"
                )
        if not force:
            for repo, tag in tags:
                existing = copier.dst_tag_digest(repo, tag)
                if existing and existing != digest:
                    raise RegistryImportError(
                        "TagAlreadyExists",
                        f"tag {repo}:{tag} already exists in target registry {dst.front.login_server} "
                        f"with digest {existing}; use Force mode to overwrite it",
                    )
        repos = list(dict.fromkeys([r for r, _ in tags] + list(untagged_target_repositories)))
        for repo in repos:
            copier.copy_tree(src_repo, repo, raw, media_type, digest)
            for tag_repo, tag in tags:
                if tag_repo == repo:
                    copier.put_manifest(repo, tag, raw, media_type)
        return digest


class _Copier:
    """Moves one image between two registries' backends, logging each backend request in the
    registry's request log (via="import") so benchmarks can count them."""

    def __init__(self, src: _Registry, dst: _Registry) -> None:
        self.src = src
        self.dst = dst

    def _log(self, reg: _Registry, method: str, path: str, status: int) -> None:
        reg.log.add(method, path, status, via="import")

    def fetch_manifest(self, repo: str, ref: str) -> tuple[bytes, str, str] | None:
        got = self.src.backend.get_manifest(repo, ref)
        self._log(self.src, "GET", f"/v2/{repo}/manifests/{ref}", 200 if got else 404)
        return got

    def dst_tag_digest(self, repo: str, tag: str) -> str | None:
        digest = self.dst.backend.head_manifest(repo, tag)
        self._log(self.dst, "HEAD", f"/v2/{repo}/manifests/{tag}", 200 if digest else 404)
        return digest

    def copy_tree(self, src_repo: str, dst_repo: str, raw: bytes, media_type: str, digest: str) -> None:
        doc = json.loads(raw)
        if media_type in INDEX_TYPES or doc.get("mediaType") in INDEX_TYPES:
            for child in doc.get("manifests", []):
                got = self.fetch_manifest(src_repo, child["digest"])
                if got is None:
                    raise RegistryImportError("ImageNotFound", f"child manifest {child['digest']} is missing")
                child_raw, child_type, child_digest = got
                self.copy_tree(src_repo, dst_repo, child_raw, child_type, child_digest)
                self.put_manifest(dst_repo, child_digest, child_raw, child_type)
            return
        blobs = [doc["config"]] if doc.get("config", {}).get("digest") else []
        blobs += doc.get("layers", []) + doc.get("blobs", [])
        for blob in blobs:
            self.copy_blob(src_repo, dst_repo, blob["digest"])

    def copy_blob(self, src_repo: str, dst_repo: str, digest: str) -> None:
        dst = self.dst.backend
        status, _, _ = dst.request("HEAD", f"/v2/{dst_repo}/blobs/{digest}")
        self._log(self.dst, "HEAD", f"/v2/{dst_repo}/blobs/{digest}", status)
        if status == 200:
            return  # already there: never copied twice
        src_conn = self.src.backend.connect()
        try:
            src_conn.request("GET", f"/v2/{src_repo}/blobs/{digest}")
            src_resp = src_conn.getresponse()
            self._log(self.src, "GET", f"/v2/{src_repo}/blobs/{digest}", src_resp.status)
            if src_resp.status != 200:
                raise RegistryImportError(
                    "ImageNotFound", f"blob {digest} missing in source repository {src_repo}"
                )
            size = int(src_resp.getheader("Content-Length") or 0)
            status, headers, _ = dst.request("POST", f"/v2/{dst_repo}/blobs/uploads/")
            self._log(self.dst, "POST", f"/v2/{dst_repo}/blobs/uploads/", status)
            location = headers.get("location", "")
            if status != 202 or not location:
                raise RegistryImportError("ImportFailed", f"target refused a blob upload ({status})")
            loc = urllib.parse.urlsplit(location)
            sep = "&" if loc.query else ""
            put_path = f"{loc.path}?{loc.query}{sep}digest={urllib.parse.quote(digest)}"
            conn = dst.connect()
            try:
                conn.putrequest("PUT", put_path)
                conn.putheader("Content-Type", "application/octet-stream")
                conn.putheader("Content-Length", str(size))
                conn.endheaders()
                hasher = hashlib.sha256()
                for piece in iter(lambda: src_resp.read(_CHUNK), b""):
                    hasher.update(piece)
                    conn.send(piece)
                resp = conn.getresponse()
                resp.read()
                self._log(self.dst, "PUT", loc.path, resp.status)
                if resp.status != 201:
                    raise RegistryImportError(
                        "ImportFailed", f"target rejected blob {digest} ({resp.status})"
                    )
            finally:
                conn.close()
        finally:
            src_conn.close()

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> None:
        status, _, body = self.dst.backend.request(
            "PUT", f"/v2/{repo}/manifests/{ref}", body=raw, headers={"Content-Type": media_type}
        )
        self._log(self.dst, "PUT", f"/v2/{repo}/manifests/{ref}", status)
        if status != 201:
            raise RegistryImportError("ImportFailed", f"target rejected manifest {ref}: {body[:300]!r}")
        if not ref.startswith("sha256:"):
            return
        if manifest_digest(raw) != ref:
            raise RegistryImportError("ImportFailed", "digest changed while copying the manifest")
